"""Secrets and emails never reach an operator's terminal (or the ticket they paste it into)."""

from __future__ import annotations

import json

from linkflow.ops.masking import mask, mask_text


def test_secret_keys_are_masked_whatever_their_spelling():
    doc = {"api_key": "abc", "apiKey": "abc", "webhookSecret": "x", "password": "hunter2", "taskToken": "t",
           "Authorization": "Bearer x", "plan": "pro", "empty_secret": ""}
    masked = mask(doc)
    assert masked == {"api_key": "***", "apiKey": "***", "webhookSecret": "***", "password": "***",
                      "taskToken": "***", "Authorization": "***", "plan": "pro", "empty_secret": ""}


def test_stripe_keys_and_webhook_secrets_are_masked_anywhere_in_text():
    text = "key sk_live_51Habc123 and rk_test_9x and whsec_AbC/9= in one line; pk? no: cus_123 stays"
    assert mask_text(text) == "key sk_live_*** and rk_test_*** and whsec_*** in one line; pk? no: cus_123 stays"


def test_emails_keep_first_letter_and_domain():
    assert mask_text("An account with email Ada.Lovelace+x@example.co.uk exists") == \
        "An account with email A***@example.co.uk exists"
    assert mask({"email": "bob@example.com", "emails": ["c@x.io"]}) == {"email": "b***@example.com",
                                                                        "emails": ["c***@x.io"]}


def test_json_inside_a_string_is_masked_field_by_field_and_stays_a_string():
    cause = json.dumps({"errorType": "StripeRequestRejected", "errorMessage": "bad key sk_test_123",
                        "api_key": "sk_test_123", "email": "ada@example.com"})
    masked = mask({"cause": cause})["cause"]
    assert isinstance(masked, str)
    assert json.loads(masked) == {"errorType": "StripeRequestRejected", "errorMessage": "bad key sk_test_***",
                                  "api_key": "***", "email": "a***@example.com"}


def test_nested_structures_and_non_strings_survive():
    doc = {"a": [{"secret": {"nested": 1}}, 3, None, True], "n": 1.5, "sub": "4d54c1f7-4d03-455b-b60a-99c1282deeff"}
    assert mask(doc) == {"a": [{"secret": "***"}, 3, None, True], "n": 1.5,
                         "sub": "4d54c1f7-4d03-455b-b60a-99c1282deeff"}
