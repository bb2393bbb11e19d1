"""The webhook ingress as Stripe (and anyone else) reaches it: POST /stripe/webhook on the local API.

Every bad request is answered 4xx with a JSON message, starts no execution and writes nothing;
a Step Functions failure is answered 5xx so Stripe retries; unknown types are acknowledged.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from subscription_events_support import Events
from support import admin


@pytest.fixture(scope="module")
def events(stack) -> Events:
    return Events(stack)


def event(event_type: str = "customer.subscription.updated", **overrides) -> dict:
    body = {"id": f"evt_ingress{uuid.uuid4().hex[:20]}", "object": "event", "type": event_type,
            "created": int(time.time()), "livemode": False, "api_version": "2025-03-31.basil",
            "data": {"object": {"id": "sub_ingress", "object": "subscription", "customer": "cus_ingress_nobody",
                                "status": "active"}}}
    body.update(overrides)
    return body


def store_counts(events: Events) -> dict[str, int]:
    ddb = events.stack.client("dynamodb")
    return {name: ddb.scan(TableName=name, Select="COUNT", ConsistentRead=True)["Count"]
            for name in events.tables.values()}


def execution_count(events: Events) -> int:
    pages = events.sfn.get_paginator("list_executions").paginate(stateMachineArn=events.machine_arn)
    return sum(len(page["executions"]) for page in pages)


def assert_rejected(events: Events, answer: tuple[int, dict], status: int, code: str, body: dict | None,
                    before: tuple[dict, int]) -> None:
    got, payload = answer
    assert got == status, payload
    assert payload["error"] == code and payload["message"], payload
    events.settle()
    if body is not None:
        assert not events.executions_named(body["id"])
    assert (store_counts(events), execution_count(events)) == before


def test_a_signed_event_starts_one_execution_named_by_its_id(events):
    body = event()
    status, answer = events.post(json.dumps(body).encode())
    assert (status, answer) == (200, {"received": True, "execution": body["id"], "duplicate": False})
    events.settle()
    (execution,) = events.executions_named(body["id"])
    assert execution["status"] == "SUCCEEDED"  # an unknown customer: recorded as unlinked
    assert events.unlinked("cus_ingress_nobody")["reason"] == "unknown_customer"


@pytest.mark.parametrize("case", [
    "missing signature", "wrong secret", "tampered body", "stale timestamp", "future timestamp", "not JSON",
    "not an event", "too large", "livemode mismatch"])
def test_bad_requests_are_4xx_and_start_and_write_nothing(events, case):
    events.settle()
    before = (store_counts(events), execution_count(events))
    body = event()
    raw = json.dumps(body).encode()
    post, expected = events.post, None
    if case == "missing signature":
        answer, expected = post(raw, signature=None), (400, "missing_signature")
    elif case == "wrong secret":
        answer, expected = post(raw, secret="whsec_not_the_one"), (400, "invalid_signature")
    elif case == "tampered body":
        from linkflow.stripe_emulator import signature_header

        header = signature_header(raw, events.stack.info["stripe"]["webhook_secret"], int(time.time()))
        tampered = json.dumps({**body, "type": "customer.deleted"}).encode()
        answer, expected = post(tampered, signature=header), (400, "invalid_signature")
    elif case == "stale timestamp":
        answer, expected = post(raw, timestamp=int(time.time()) - 301), (400, "timestamp_outside_tolerance")
    elif case == "future timestamp":
        answer, expected = post(raw, timestamp=int(time.time()) + 301), (400, "timestamp_outside_tolerance")
    elif case == "not JSON":
        answer, expected = post(b"this is {not json"), (400, "invalid_json")
    elif case == "not an event":
        answer, expected = post(json.dumps({"id": body["id"], "hello": "world"}).encode()), (400, "not_an_event")
    elif case == "too large":
        padded = {**body, "padding": "x" * (256 * 1024)}
        answer, expected = post(json.dumps(padded).encode()), (413, "body_too_large")
    elif case == "livemode mismatch":
        answer, expected = post(json.dumps({**body, "livemode": True}).encode()), (400, "livemode_mismatch")
    assert_rejected(events, answer, *expected, body, before)


def test_get_is_refused_with_a_4xx(events):
    before = (store_counts(events), execution_count(events))
    status, _ = events.post(b"", method="GET", signature=None)
    assert 400 <= status < 500
    assert (store_counts(events), execution_count(events)) == before


def test_unknown_event_types_are_acknowledged_and_ignored(events):
    body = event("customer.tax_id.created")
    status, answer = events.post(json.dumps(body).encode())
    assert status == 200 and answer["received"] is True and "not handled" in answer["ignored"]
    events.settle()
    assert not events.executions_named(body["id"])


def test_a_failed_start_is_a_5xx_and_the_retry_starts_it(events, stack, clean_faults):
    assert admin(stack, "POST", "faults", {"service": "stepfunctions", "operation": "StartExecution",
                                           "count": 1})[0] == 200
    body = event()
    raw = json.dumps(body).encode()
    status, answer = events.post(raw)
    assert status >= 500 and answer["error"] == "start_failed", answer
    assert not events.executions_named(body["id"])
    status, answer = events.post(raw)  # Stripe's retry
    assert (status, answer["duplicate"]) == (200, False)
    events.settle()
    assert len(events.executions_named(body["id"])) == 1


def test_a_redelivery_of_a_finished_event_is_a_duplicate(events):
    body = event()
    raw = json.dumps(body).encode()
    assert events.post(raw)[1]["duplicate"] is False
    events.settle()
    status, answer = events.post(raw)
    assert (status, answer["duplicate"]) == (200, True)
    assert len(events.executions_named(body["id"])) == 1
