"""Idempotency keys: replay, parameter mismatch, in-flight conflicts, 24-hour expiry."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import stripe
from conftest import API_KEY, WAIT_SECONDS, Admin

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_same_key_twice_returns_the_same_customer(client: stripe.StripeClient, admin: Admin) -> None:
    params = {"email": "once@example.com", "metadata": {"cognito_sub": "sub-once"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "onboard-sub-once"})
    second = client.v1.customers.create(params=params, options={"idempotency_key": "onboard-sub-once"})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert len(client.v1.customers.list().data) == 1
    assert len(client.v1.events.list(params={"type": "customer.created"}).data) == 1
    logged = [r for r in admin.get("requests")["data"] if r["path"] == "/v1/customers" and r["method"] == "POST"]
    assert [r["idempotency_key"] for r in logged] == ["onboard-sub-once", "onboard-sub-once"]


def test_same_key_with_other_parameters_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k-1"})
    assert caught.value.http_status == 400
    assert caught.value.error is not None and caught.value.error.type == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.products.create(params={"name": "other endpoint"}, options={"idempotency_key": "k-1"})


def test_sdk_adds_a_key_to_every_post(client: stripe.StripeClient, admin: Admin) -> None:
    client.v1.customers.create(params={"email": "auto@example.com"})
    client.v1.customers.list()
    logged = admin.get("requests")["data"]
    assert logged[0]["method"] == "POST" and logged[0]["idempotency_key"]
    assert logged[1]["method"] == "GET" and logged[1]["idempotency_key"] is None


def test_second_request_while_the_first_is_in_flight_gets_409(
    client: stripe.StripeClient, admin: Admin, raw: httpx.Client
) -> None:
    # Hold the first request in flight with a long latency; clearing the faults releases it.
    admin.post("faults", {"method": "POST", "path": "/v1/customers", "latency_ms": 60_000, "count": 1})
    result: dict[str, Any] = {}

    def first() -> None:
        result["customer"] = client.v1.customers.create(params={"email": "slow@example.com"},
                                                        options={"idempotency_key": "in-flight-key"})

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while admin.get("faults")["data"]:  # the fault is used up once the first request holds the key
        assert time.monotonic() < deadline, "the first request never reached the emulator"
        time.sleep(0.01)
    conflict = raw.post("/v1/customers", headers={**AUTH, "Idempotency-Key": "in-flight-key"},
                        data={"email": "slow@example.com"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["type"] == "idempotency_error"
    admin.call("DELETE", "faults")
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    replay = raw.post("/v1/customers", headers={**AUTH, "Idempotency-Key": "in-flight-key"},
                      data={"email": "slow@example.com"})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == result["customer"].id


def test_keys_expire_after_24_hours_of_emulator_time(client: stripe.StripeClient, admin: Admin) -> None:
    first = client.v1.customers.create(params={"email": "day1@example.com"}, options={"idempotency_key": "daily"})
    admin.post("clock", {"advance_seconds": 23 * 3600})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"email": "day2@example.com"}, options={"idempotency_key": "daily"})
    admin.post("clock", {"advance_seconds": 3600})
    second = client.v1.customers.create(params={"email": "day2@example.com"}, options={"idempotency_key": "daily"})
    assert second.id != first.id


def test_a_retry_after_an_injected_500_executes_once(retrying_client: stripe.StripeClient, admin: Admin) -> None:
    admin.post("faults", {"method": "POST", "path": "/v1/customers", "status": 500, "count": 1})
    customer = retrying_client.v1.customers.create(params={"email": "retry@example.com"})
    assert [c.id for c in retrying_client.v1.customers.list().data] == [customer.id]
    posts = [r for r in admin.get("requests")["data"] if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [500, 200]
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]


def test_errors_are_replayed_too(client: stripe.StripeClient) -> None:
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.subscriptions.create(params={"customer": "cus_missing", "items": [{"price": "price_x"}]},
                                           options={"idempotency_key": "bad-sub"})
        assert caught.value.http_status == 400
    assert caught.value.headers is not None and caught.value.headers.get("Idempotent-Replayed") == "true"
