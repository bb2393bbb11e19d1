"""Every handler refuses bad input with a typed, non-retryable error and writes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from linkflow_shared.errors import InvalidStepInput, RetryableError, TerminalError
from unit_support import resources

ONBOARDING_TASKS = [
    "CheckDuplicateEmailFunction",
    "LinkProviderFunction",
    "WriteProfileFunction",
    "InitEntitlementFunction",
    "CreateStripeCustomerFunction",
    "StoreStripeCustomerIdFunction",
    "CompensateDeleteStripeCustomerFunction",
    "CompensateDisableDuplicateAccountFunction",
    "CompensateRollbackOnboardingFunction",
]
TRIGGERS = ["PreSignUpFunction", "PostConfirmationFunction"]


def valid_input(**overrides: Any) -> dict[str, Any]:
    sub = str(uuid.uuid4())
    value: dict[str, Any] = {
        "userPoolId": "us-east-1_pool",
        "userName": sub,
        "sub": sub,
        "email": "ada@example.com",
        "givenName": "Ada",
        "familyName": "Lovelace",
        "emailVerified": True,
        "providers": ["Cognito"],
    }
    value.update(overrides)
    return {k: v for k, v in value.items() if v is not None}


BAD_INPUTS = {
    "missing sub": valid_input(sub=None),
    "missing email": valid_input(email=None),
    "invalid email": valid_input(email="not-an-email"),
    "email with a space inside": valid_input(email="ada lovelace@example.com"),
    "sub not a UUID": valid_input(sub="12345"),
    "blank user name": valid_input(userName="  "),
    "not an object": ["sub", "email"],
}


def trigger_event(source: str, **attributes: str | None) -> dict[str, Any]:
    attrs = {"sub": str(uuid.uuid4()), "email": "ada@example.com", "email_verified": "true"}
    attrs.update(attributes)
    return {
        "version": "1",
        "region": "us-east-1",
        "userPoolId": "us-east-1_pool",
        "userName": attrs.get("sub") or "someone",
        "triggerSource": source,
        "callerContext": {"awsSdkVersion": "x", "clientId": "client"},
        "request": {"userAttributes": {k: v for k, v in attrs.items() if v is not None}},
        "response": {},
    }


def assert_nothing_written(aws: Any) -> None:
    for logical_id in resources("AWS::DynamoDB::Table"):
        assert aws.items(logical_id) == [], f"{logical_id} was written"
    assert aws.idp.list_users(UserPoolId=aws.pool_id)["Users"] == []
    assert aws.sfn.list_state_machines()["stateMachines"] == []


# Covered in tests/unit/test_subscription_steps.py and tests/unit/test_webhook_ingress.py.
SUBSCRIPTION_EVENTS = [
    "StripeWebhookFunction",
    "ResolveCustomerFunction",
    "SyncEntitlementFunction",
    "RecordUnlinkedCustomerFunction",
    "UnlinkDeletedCustomerFunction",
]


# The queue consumer is covered in tests/unit/test_triggers.py.
QUEUE = ["StartOnboardingFunction"]
# The app's API is covered in tests/unit/test_app_api.py (and its handlers below).
APP_API = ["GetMeFunction", "CreateCheckoutSessionFunction", "CreatePortalSessionFunction"]
RECONCILE = ["SnapshotCognitoFunction", "SnapshotStripeFunction", "SnapshotTablesFunction",
             "ReconcileShardFunction", "WriteReportFunction"]


def test_every_function_in_the_template_is_covered_here():
    assert set(resources("AWS::Serverless::Function")) == set(ONBOARDING_TASKS) | set(TRIGGERS) | set(
        SUBSCRIPTION_EVENTS
    ) | set(QUEUE) | set(RECONCILE) | set(APP_API)


@pytest.mark.parametrize("function", APP_API)
@pytest.mark.parametrize("event", [{}, ["not", "an", "event"], {"requestContext": {"authorizer": {}}, "body": "{}"}],
                         ids=["empty", "not an object", "no claims"])
def test_an_app_route_without_a_verified_caller_is_401_and_writes_nothing(aws_module, load_handler, context,
                                                                          function, event):
    answer = load_handler(function)(event, context)
    assert (answer["statusCode"], json.loads(answer["body"])) == (401, {"message": "Unauthorized"})
    assert_nothing_written(aws_module)


@pytest.mark.parametrize("function", RECONCILE)
@pytest.mark.parametrize("event", [["not", "an", "object"], {"runId": ""}, {"dryRun": "maybe", "runId": "r"},
                                   {"Items": "nope"}], ids=["not an object", "blank run", "bad flag", "bad batch"])
def test_reconcile_step_rejects_bad_input(aws_module, load_handler, context, function, event):
    if function != "ReconcileShardFunction" and "runId" not in event and isinstance(event, dict):
        event = {**event, "shards": "many"}  # a run input that cannot parse
    with pytest.raises(InvalidStepInput) as raised:
        load_handler(function)(event, context)
    assert str(raised.value).startswith("invalid ")
    assert_nothing_written(aws_module)


def test_the_bad_input_error_is_terminal():
    assert issubclass(InvalidStepInput, TerminalError)
    assert not issubclass(InvalidStepInput, RetryableError)


@pytest.mark.parametrize("function", ONBOARDING_TASKS)
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_onboarding_step_rejects_bad_input(aws_module, load_handler, context, function, case):
    handler = load_handler(function)
    with pytest.raises(InvalidStepInput) as raised:
        handler(BAD_INPUTS[case], context)
    assert "ada" not in str(raised.value), "the error message must not echo the email"
    assert str(raised.value).startswith("invalid "), "the message names the model it could not parse"
    assert_nothing_written(aws_module)


@pytest.mark.parametrize(
    "function, missing",
    [
        ("LinkProviderFunction", "emailClaim"),
        ("StoreStripeCustomerIdFunction", "stripeCustomer"),
        ("CompensateDeleteStripeCustomerFunction", "storedCustomer"),
        ("CompensateDisableDuplicateAccountFunction", "emailClaim"),
    ],
)
def test_step_without_the_result_it_builds_on_is_rejected(aws_module, load_handler, context, function, missing):
    handler = load_handler(function)
    with pytest.raises(InvalidStepInput, match=missing):
        handler(valid_input(), context)
    assert_nothing_written(aws_module)


@pytest.mark.parametrize(
    "attributes",
    [{"sub": None}, {"email": None}, {"email": "nope"}, {"sub": "not-a-uuid"}],
    ids=["missing sub", "missing email", "invalid email", "sub not a UUID"],
)
def test_post_confirmation_rejects_bad_input_and_starts_nothing(aws_module, load_handler, context, attributes):
    handler = load_handler("PostConfirmationFunction")
    with pytest.raises(InvalidStepInput):
        handler(trigger_event("PostConfirmation_ConfirmSignUp", **attributes), context)
    assert_nothing_written(aws_module)


@pytest.mark.parametrize("function", TRIGGERS)
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"userPoolId": "p", "userName": "u"},
        {"userPoolId": "", "userName": "u", "triggerSource": "PreSignUp_SignUp"},
    ],
    ids=["empty", "no trigger source", "blank pool id"],
)
def test_trigger_rejects_an_event_that_is_not_a_cognito_event(aws_module, load_handler, context, function, event):
    handler = load_handler(function)
    with pytest.raises(InvalidStepInput):
        handler(event, context)
    assert_nothing_written(aws_module)


@pytest.mark.parametrize("email", [None, "", "no-at-sign", "two@@example.com"])
def test_pre_signup_rejects_a_native_sign_up_without_a_valid_email(aws_module, load_handler, context, email):
    handler = load_handler("PreSignUpFunction")
    with pytest.raises(InvalidStepInput):
        handler(trigger_event("PreSignUp_SignUp", email=email), context)
    assert_nothing_written(aws_module)
