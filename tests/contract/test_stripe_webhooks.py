"""Webhook delivery: signed as Stripe signs, asynchronous, retried, duplicated and reordered on demand."""

from __future__ import annotations

import json

import pytest
import stripe
from conftest import Admin, Receiver

from linkflow.stripe_emulator import EmulatorServer


def test_signed_event_verifies_with_the_sdk(client: stripe.StripeClient, admin: Admin, receiver: Receiver,
                                             endpoint_secret: str) -> None:
    customer = client.v1.customers.create(params={"email": "hook@example.com", "metadata": {"cognito_sub": "s"}})
    admin.wait_webhooks()
    [delivery] = receiver.accepted()
    header = delivery["headers"]["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    event = stripe.Webhook.construct_event(delivery["body"].decode(), header, endpoint_secret)
    assert event.type == "customer.created" and event.data.object.id == customer.id
    assert event.id == client.v1.events.list().data[0].id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery["body"].decode(), header, "whsec_wrong")
    tampered = delivery["body"].replace(b"hook@example.com", b"evil@example.com")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered.decode(), header, endpoint_secret)


def test_one_event_per_change_to_matching_endpoints(client: stripe.StripeClient, admin: Admin,
                                                    receiver: Receiver, monthly_price) -> None:
    subscribed = client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": [
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"]})
    off = client.v1.webhook_endpoints.create(params={"url": receiver.url + "?off", "enabled_events": ["*"]})
    client.v1.webhook_endpoints.update(off.id, params={"disabled": True})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    client.v1.subscriptions.update(sub.id, params={"metadata": {"a": "1"}})
    client.v1.subscriptions.cancel(sub.id)
    admin.wait_webhooks()
    assert [e["type"] for e in receiver.events()] == [
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"]
    assert {d["endpoint_id"] for d in admin.get("webhooks/deliveries")["data"]} == {subscribed.id}


def test_failed_deliveries_are_retried(client: stripe.StripeClient, admin: Admin, receiver: Receiver,
                                       endpoint_secret: str) -> None:
    receiver.failures_left = 2
    customer = client.v1.customers.create(params={"email": "retry@example.com"})
    admin.wait_webhooks()
    assert [d["failed"] for d in receiver.deliveries] == [True, True, False]
    [event] = receiver.events()
    assert event["data"]["object"]["id"] == customer.id
    log = admin.get("webhooks/deliveries")["data"]
    assert [(d["attempt"], d["status"], d["ok"]) for d in log] == [(1, 500, False), (2, 500, False), (3, 200, True)]


def test_unreachable_endpoint_gives_up_after_max_attempts(client: stripe.StripeClient, admin: Admin,
                                                          emulator: EmulatorServer) -> None:
    admin.post("webhooks", {"max_attempts": 3, "retry_backoff_ms": 5})
    with EmulatorServer(port=0) as other:
        dead_url = f"{other.url}/gone"
    client.v1.webhook_endpoints.create(params={"url": dead_url, "enabled_events": ["*"]})
    client.v1.customers.create(params={"email": "void@example.com"})
    admin.wait_webhooks()
    log = admin.get("webhooks/deliveries")["data"]
    assert [d["attempt"] for d in log] == [1, 2, 3]
    assert all(d["status"] is None and d["error"] for d in log)
    assert admin.get("webhooks/pending") == {"pending": 0}


def test_delivery_never_blocks_the_api_request(client: stripe.StripeClient, admin: Admin, receiver: Receiver,
                                               endpoint_secret: str) -> None:
    receiver.gate.clear()  # the receiver holds every delivery until released
    customer = client.v1.customers.create(params={"email": "async@example.com"})
    assert customer.id.startswith("cus_")
    assert admin.get("webhooks/pending")["pending"] == 1
    assert not admin.post("webhooks/wait", {"timeout": 0.05})["idle"]
    receiver.gate.set()
    admin.wait_webhooks()
    assert [e["data"]["object"]["id"] for e in receiver.events()] == [customer.id]


def test_duplicates(client: stripe.StripeClient, admin: Admin, receiver: Receiver, endpoint_secret: str) -> None:
    admin.post("webhooks", {"duplicate_probability": 1.0})
    client.v1.customers.create(params={"email": "twice@example.com"})
    admin.wait_webhooks()
    ids = [e["id"] for e in receiver.events()]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert [d["duplicate"] for d in admin.get("webhooks/deliveries")["data"]] == [False, True]


def test_reorder_window_shuffles_deliveries(client: stripe.StripeClient, admin: Admin, receiver: Receiver,
                                            endpoint_secret: str, monthly_price) -> None:
    admin.post("webhooks", {"reorder_window": 8})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    admin.wait_webhooks()
    receiver.deliveries.clear()
    orders = []
    for _ in range(5):  # a subscription create emits eight events at once; shuffled, at least one run differs
        client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
        admin.wait_webhooks()
        orders.append([e["type"] for e in receiver.events()])
        receiver.deliveries.clear()
    emitted = ["customer.subscription.created", "invoice.created", "payment_intent.created", "invoice.finalized",
               "charge.succeeded", "payment_intent.succeeded", "invoice.paid", "invoice.payment_succeeded"]
    assert all(sorted(order) == sorted(emitted) for order in orders)
    assert any(order != emitted for order in orders)


def test_delay_and_settings_answer(admin: Admin) -> None:
    settings = admin.post("webhooks", {"duplicate_probability": 0.3, "reorder_window": 5, "delay_ms": 0})
    assert settings["duplicate_probability"] == 0.3 and settings["reorder_window"] == 5
    bad = admin.http.post("/_emulator/webhooks", json={"duplicate_probability": 2})
    assert bad.status_code == 400


def test_payload_is_the_event_as_the_api_shows_it(client: stripe.StripeClient, admin: Admin, receiver: Receiver,
                                                  endpoint_secret: str) -> None:
    client.v1.customers.create(params={"email": "same@example.com"})
    admin.wait_webhooks()
    [delivered] = receiver.events()
    fetched = client.v1.events.retrieve(delivered["id"])
    assert json.loads(json.dumps(fetched.to_dict_recursive())) == delivered
