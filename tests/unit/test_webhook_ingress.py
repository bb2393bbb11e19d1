"""The webhook ingress: every check in order, secret rotation, duplicates, failures to start; and
the StripeWebhook handler against moto (Secrets Manager, Step Functions from template.yaml)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from linkflow_shared import EventsStartFailed, SecretUnavailable
from linkflow_shared.subscription_events import (
    HANDLED_EVENT_TYPES,
    MAX_BODY_BYTES,
    EventHint,
    WebhookRequest,
    event_hint,
    start_events_execution,
    stripe_webhook,
)
from unit_support import ACCOUNT, TEMPLATE, resolve

from linkflow.stripe_emulator import signature_header

SECRET = "whsec_current"
PREVIOUS = "whsec_previous"
NOW = 1_790_000_000


def stripe_event(event_type: str = "customer.subscription.updated", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": NOW - 5,
        "livemode": False,
        "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active"}},
    }
    body.update(overrides)
    return body


def request(body: bytes, *, secret: str | None = SECRET, at: int = NOW, header: str | None = None,
            method: str = "POST") -> WebhookRequest:
    headers = {}
    if header is not None:
        headers["stripe-signature"] = header
    elif secret is not None:
        headers["stripe-signature"] = signature_header(body, secret, at)
    return WebhookRequest(method=method, headers=headers, body=body)


class Starter:
    def __init__(self, answers: list[Any] | None = None) -> None:
        self.started: list[EventHint] = []
        self.answers = answers or []

    def __call__(self, hint: EventHint) -> bool:
        self.started.append(hint)
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)


def call(req: WebhookRequest, start: Starter | None = None, *, secrets: Any = (SECRET, ""), livemode: bool = False):
    starter = start or Starter()
    loader = secrets if callable(secrets) else (lambda: list(secrets))
    return stripe_webhook(req, secrets=loader, livemode=livemode, start=starter, now=NOW), starter


def test_a_signed_event_starts_its_execution_with_a_small_hint():
    body = stripe_event()
    response, starter = call(request(json.dumps(body).encode()))
    assert response.status == 200
    assert response.body == {"received": True, "execution": body["id"], "duplicate": False}
    (hint,) = starter.started
    assert hint.dump() == {"eventId": body["id"], "eventType": "customer.subscription.updated", "customerId": "cus_1",
                           "objectId": "sub_1", "created": NOW - 5, "livemode": False}


def test_a_duplicate_is_answered_2xx():
    response, _ = call(request(json.dumps(stripe_event()).encode()), Starter([False]))
    assert (response.status, response.body["duplicate"]) == (200, True)


@pytest.mark.parametrize("name, req, status, code", [
    ("missing signature", request(b"{}", secret=None), 400, "missing_signature"),
    ("wrong secret", request(json.dumps(stripe_event()).encode(), secret="whsec_other"), 400, "invalid_signature"),
    ("garbled header", request(json.dumps(stripe_event()).encode(), header="nonsense"), 400, "invalid_signature"),
    ("no v1 signature", request(json.dumps(stripe_event()).encode(), header=f"t={NOW},v0=abc"), 400,
     "invalid_signature"),
    ("stale timestamp", request(json.dumps(stripe_event()).encode(), at=NOW - 301), 400,
     "timestamp_outside_tolerance"),
    ("future timestamp", request(json.dumps(stripe_event()).encode(), at=NOW + 301), 400,
     "timestamp_outside_tolerance"),
    ("not JSON", request(b"{nope"), 400, "invalid_json"),
    ("not UTF-8", request(b"\xff\xfe"), 400, "invalid_json"),
    ("not an event", request(b'{"id": "evt_1", "object": "charge", "type": "x"}'), 400, "not_an_event"),
    ("event id unfit for a name", request(json.dumps(stripe_event(id="evt 1/2")).encode()), 400,
     "invalid_event_id"),
    ("livemode mismatch", request(json.dumps(stripe_event(livemode=True)).encode()), 400, "livemode_mismatch"),
    # A Connect event names another account's customer: never synced into this platform's users.
    ("connect event", request(json.dumps(stripe_event(account="acct_1Connected")).encode()), 400, "connect_event"),
    ("GET", request(json.dumps(stripe_event()).encode(), method="GET"), 405, "method_not_allowed"),
    ("too large", request(b"x" * (MAX_BODY_BYTES + 1)), 413, "body_too_large"),
])
def test_bad_requests_are_4xx_with_a_message_and_start_nothing(name, req, status, code):
    response, starter = call(req)
    assert response.status == status, response.body
    assert response.body["error"] == code and response.body["message"]
    assert starter.started == []


def test_the_edges_of_the_tolerance_are_accepted():
    for at in (NOW - 300, NOW + 300):
        assert call(request(json.dumps(stripe_event()).encode(), at=at))[0].status == 200


def test_a_body_of_exactly_the_limit_is_read():
    body = json.dumps(stripe_event(padding="")).encode()
    padded = body.replace(b'"padding": ""', b'"padding": "' + b"x" * (MAX_BODY_BYTES - len(body)) + b'"')
    assert len(padded) == MAX_BODY_BYTES
    assert call(request(padded))[0].status == 200


def test_during_a_secret_roll_both_secrets_verify():
    body = json.dumps(stripe_event()).encode()
    rolled = (SECRET, PREVIOUS)
    assert call(request(body, secret=PREVIOUS), secrets=rolled)[0].status == 200  # signed before the roll
    assert call(request(body, secret=SECRET), secrets=rolled)[0].status == 200
    # Stripe signs with both secrets while a roll is in progress: one matching v1 is enough.
    both = f"{signature_header(body, 'whsec_unknown', NOW)},v1=" + signature_header(body, PREVIOUS, NOW).split("v1=")[1]
    assert call(request(body, header=both), secrets=rolled)[0].status == 200
    assert call(request(body, secret=PREVIOUS), secrets=(SECRET, ""))[0].status == 400  # the roll is over


def test_an_unknown_event_type_is_acknowledged_and_ignored():
    response, starter = call(request(json.dumps(stripe_event("customer.tax_id.created")).encode()))
    assert response.status == 200 and "not handled" in response.body["ignored"]
    assert starter.started == []


def test_every_handled_type_names_its_customer():
    objects = {
        "customer": {"id": "cus_9", "object": "customer"},
        "subscription": {"id": "sub_9", "object": "subscription", "customer": "cus_9"},
        "invoice": {"id": "in_9", "object": "invoice", "customer": "cus_9"},
        "checkout.session": {"id": "cs_9", "object": "checkout.session", "customer": {"id": "cus_9"}},
        "entitlements.active_entitlement_summary": {"object": "entitlements.active_entitlement_summary",
                                                    "customer": "cus_9", "entitlements": {"data": []}},
    }
    for event_type in HANDLED_EVENT_TYPES:
        kind = ("customer" if event_type == "customer.deleted" else "subscription" if ".subscription." in event_type
                else event_type.rsplit(".", 1)[0])
        hint = event_hint(stripe_event(event_type, data={"object": objects[kind]}))
        assert hint is not None and hint.customer_id == "cus_9", event_type


def test_an_event_without_a_customer_is_ignored():
    body = stripe_event("checkout.session.completed", data={"object": {"id": "cs_1", "object": "checkout.session",
                                                                      "customer": None}})
    response, starter = call(request(json.dumps(body).encode()))
    assert response.status == 200 and "ignored" in response.body and starter.started == []


def test_a_failed_start_is_a_5xx_so_stripe_retries():
    response, _ = call(request(json.dumps(stripe_event()).encode()), Starter([EventsStartFailed("throttled")]))
    assert response.status == 500 and response.body["error"] == "start_failed"


def test_an_unreadable_secret_is_a_5xx_and_verifies_nothing():
    def broken() -> list[str]:
        raise SecretUnavailable("secret linkflow/stripe could not be read")

    response, starter = call(request(json.dumps(stripe_event()).encode()), secrets=broken)
    assert response.status == 503 and starter.started == []
    response, _ = call(request(json.dumps(stripe_event()).encode()), secrets=("", ""))
    assert response.status == 503


def test_payload_2_0_events_are_read_with_their_raw_body():
    import base64

    raw = json.dumps(stripe_event()).encode()
    plain = WebhookRequest.from_api_gateway({"requestContext": {"http": {"method": "POST"}}, "body": raw.decode(),
                                             "headers": {"Stripe-Signature": "t=1,v1=x"}, "isBase64Encoded": False})
    encoded = WebhookRequest.from_api_gateway({"requestContext": {"http": {"method": "post"}},
                                               "body": base64.b64encode(raw).decode(), "isBase64Encoded": True})
    assert plain.body == encoded.body == raw
    assert plain.method == encoded.method == "POST" and plain.headers == {"stripe-signature": "t=1,v1=x"}
    assert WebhookRequest.from_api_gateway(["not", "an", "event"]).method == ""


# --- against moto ---------------------------------------------------------------------------------


def events_machine(aws: Any) -> str:
    name = resolve(TEMPLATE["Resources"]["SubscriptionEventsStateMachine"]["Properties"]["Name"])
    return aws.sfn.create_state_machine(
        name=name,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/events",
    )["stateMachineArn"]


def api_event(body: bytes, secret: str = SECRET, method: str = "POST") -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /stripe/webhook",
        "rawPath": "/stripe/webhook",
        "headers": {"content-type": "application/json",
                    "stripe-signature": signature_header(body, secret, int(time.time()))},
        "requestContext": {"http": {"method": method, "path": "/stripe/webhook"}},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


@pytest.fixture
def webhook(aws, load_handler):
    import boto3

    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="linkflow/stripe-webhook",
                     SecretString=json.dumps({"webhook_secret": SECRET, "webhook_secret_previous": PREVIOUS}))
    # The API key lives in a secret the ingress may not read: its content must not matter here.
    sm.create_secret(Name="linkflow/stripe", SecretString=json.dumps({"api_key": "sk_live_must_not_be_read"}))
    return load_handler("StripeWebhookFunction")


def test_the_handler_starts_one_execution_per_event_and_answers_duplicates(aws, webhook, context):
    arn = events_machine(aws)
    body = stripe_event()
    raw = json.dumps(body).encode()
    first = webhook(api_event(raw), context)
    assert first["statusCode"] == 200 and json.loads(first["body"])["duplicate"] is False
    # While it runs, Step Functions answers the same start with the same execution (same input)...
    assert webhook(api_event(raw), context)["statusCode"] == 200
    (execution,) = aws.sfn.list_executions(stateMachineArn=arn)["executions"]
    aws.sfn.stop_execution(executionArn=execution["executionArn"])
    # ...once it is closed, with ExecutionAlreadyExists: a duplicate.
    second = webhook(api_event(raw, secret=PREVIOUS), context)
    assert second["statusCode"] == 200 and json.loads(second["body"])["duplicate"] is True
    assert len(aws.sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    assert execution["name"] == body["id"]
    started = json.loads(aws.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started["customerId"] == "cus_1" and started["eventType"] == body["type"]
    for table in aws.tables.values():
        assert table.scan()["Items"] == []  # the ingress writes nothing


def test_the_handler_answers_5xx_when_the_machine_cannot_be_started(aws, webhook, context):
    answer = webhook(api_event(json.dumps(stripe_event()).encode()), context)  # no state machine exists
    assert answer["statusCode"] == 500 and json.loads(answer["body"])["error"] == "start_failed"


def test_the_handler_refuses_a_bad_signature_before_starting_anything(aws, webhook, context):
    arn = events_machine(aws)
    answer = webhook(api_event(json.dumps(stripe_event()).encode(), secret="whsec_forged"), context)
    assert answer["statusCode"] == 400 and json.loads(answer["body"])["error"] == "invalid_signature"
    assert aws.sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_start_events_execution_maps_aws_errors(aws):
    arn = events_machine(aws)
    hint = EventHint(event_id="evt_1", event_type="invoice.paid", customer_id="cus_1")
    assert start_events_execution(aws.sfn, arn, hint) is True
    aws.sfn.stop_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":evt_1")
    assert start_events_execution(aws.sfn, arn, hint) is False  # ExecutionAlreadyExists
    with pytest.raises(EventsStartFailed):
        start_events_execution(aws.sfn, arn.replace("subscription-events", "nope"), hint)
