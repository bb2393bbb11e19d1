"""Fault injection through the admin API, as the SDK experiences it."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe
from conftest import API_KEY, Admin

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_a_429_window_is_retried_by_the_sdk(retrying_client: stripe.StripeClient, admin: Admin) -> None:
    fault = admin.post("faults", {"method": "POST", "path": "/v1/customers", "status": 429, "count": 2})
    assert fault["id"]
    customer = retrying_client.v1.customers.create(params={"email": "limited@example.com"})
    posts = [r for r in admin.get("requests")["data"] if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [429, 429, 200]
    assert len({r["idempotency_key"] for r in posts}) == 1
    assert [c.id for c in retrying_client.v1.customers.list().data] == [customer.id]


def test_429_answer_carries_should_retry_and_rate_limit_error(admin: Admin, raw: httpx.Client,
                                                              client: stripe.StripeClient) -> None:
    admin.post("faults", {"path": "/v1/customers", "status": 429, "count": 2})
    answer = raw.get("/v1/customers", headers=AUTH)
    assert answer.status_code == 429
    assert answer.headers["Stripe-Should-Retry"] == "true"
    assert answer.json()["error"]["type"] == "rate_limit_error" and answer.json()["error"]["code"] == "rate_limit"
    assert answer.headers["Request-Id"].startswith("req_")
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()


def test_500_is_an_api_error_and_count_runs_out(client: stripe.StripeClient, admin: Admin) -> None:
    admin.post("faults", {"path": "/v1/products", "status": 500, "count": 1})
    with pytest.raises(stripe.APIError) as caught:
        client.v1.products.create(params={"name": "P"})
    assert caught.value.http_status == 500
    assert client.v1.products.create(params={"name": "P"}).name == "P"


def test_outage_window_until_and_clearing(retrying_client: stripe.StripeClient, client: stripe.StripeClient,
                                          admin: Admin) -> None:
    admin.post("faults", {"path": "/v1/customers", "status": 503, "until": time.time() + 3600})
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"email": "down@example.com"})
    assert client.v1.products.create(params={"name": "unaffected"}).name == "unaffected"  # other paths work
    admin.call("DELETE", "faults")
    assert admin.get("faults") == {"data": []}
    assert client.v1.customers.create(params={"email": "up@example.com"}).email == "up@example.com"
    admin.post("faults", {"path": "/v1/customers", "status": 503, "until": time.time() - 1})  # already over
    assert client.v1.customers.list().object == "list"


def test_method_and_path_prefix_matching(client: stripe.StripeClient, admin: Admin) -> None:
    customer = client.v1.customers.create(params={"email": "m@example.com"})
    admin.post("faults", {"method": "GET", "path": "/v1/customers/", "status": 500})
    with pytest.raises(stripe.APIError):
        client.v1.customers.retrieve(customer.id)  # GET /v1/customers/cus_... matches the prefix
    assert client.v1.customers.list().data[0].id == customer.id  # GET /v1/customers does not
    assert client.v1.customers.update(customer.id, params={"name": "x"}).name == "x"  # POST does not


def test_probability_zero_and_one(client: stripe.StripeClient, admin: Admin) -> None:
    admin.post("faults", {"path": "/v1/customers", "status": 500, "probability": 0.0})
    assert client.v1.customers.list().object == "list"
    admin.post("faults", {"path": "/v1/customers", "status": 500, "probability": 1.0})
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()


def test_latency_alone_and_with_jitter(client: stripe.StripeClient, admin: Admin) -> None:
    admin.post("faults", {"path": "/v1/customers", "latency_ms": 150, "count": 1})
    started = time.monotonic()
    client.v1.customers.list()
    assert time.monotonic() - started >= 0.15
    admin.post("faults", {"path": "/v1/customers", "latency_ms": 20, "jitter": "lognormal", "count": 3})
    for _ in range(3):
        assert client.v1.customers.list().object == "list"
    assert admin.get("faults") == {"data": []}


def test_latency_with_a_status(client: stripe.StripeClient, admin: Admin) -> None:
    admin.post("faults", {"path": "/v1/customers", "latency_ms": 100, "status": 429, "count": 1})
    started = time.monotonic()
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    assert time.monotonic() - started >= 0.1


@pytest.mark.parametrize("body", [
    {"path": "/v1/customers"},                          # neither status nor latency
    {"status": 200},                                    # not an error status
    {"status": 500, "probability": 2},
    {"status": 500, "jitter": "gaussian", "latency_ms": 5},
    {"status": 500, "colour": "red"},
])
def test_bad_fault_definitions_are_refused(admin: Admin, body: dict) -> None:
    assert admin.http.post("/_emulator/faults", json=body).status_code == 400


def test_admin_api_is_not_under_v1_and_needs_no_auth(admin: Admin, raw: httpx.Client) -> None:
    assert raw.get("/_emulator/health").json() == {"ok": True}
    assert raw.get("/v1/_emulator/requests", headers=AUTH).status_code == 404


def test_requests_log_and_reset(client: stripe.StripeClient, admin: Admin) -> None:
    client.v1.customers.create(params={"email": "log@example.com"}, options={"idempotency_key": "log-key"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve("cus_missing")
    log = admin.get("requests")["data"]
    assert [(r["method"], r["path"], r["status"], r["idempotency_key"]) for r in log] == [
        ("POST", "/v1/customers", 200, "log-key"), ("GET", "/v1/customers/cus_missing", 404, None)]
    assert log[0]["time"] <= log[1]["time"]
    client.v1.webhook_endpoints.create(params={"url": "https://example.com/h", "enabled_events": ["*"]})
    admin.post("faults", {"path": "/v1/prices", "status": 500})
    admin.post("search", {"lag_seconds": 30})
    assert admin.post("reset") == {"reset": True}
    assert admin.get("requests") == {"data": []}
    assert admin.get("faults") == {"data": []}
    assert client.v1.customers.list().data == []
    assert client.v1.webhook_endpoints.list().data == []
    assert client.v1.events.list().data == []
    assert client.v1.prices.list().data == []
