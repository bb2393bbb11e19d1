"""API versions: answers and events rendered for the request's ``Stripe-Version`` / the endpoint's ``api_version``.

2025-03-31.basil moved ``current_period_*`` from the subscription to its items and replaced the
invoice's ``payment_intent``/``charge``/``paid`` by ``payments``; older versions show the old shape.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from conftest import API_KEY, Admin, Receiver, RecordingClient

OLD = "2024-06-20"
ACACIA = "2024-12-18.acacia"
BASIL = "2025-03-31.basil"


def _client(emulator: Any, version: str) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url}, stripe_version=version,
                               http_client=RecordingClient())


def _subscribe(client: stripe.StripeClient, price_id: str, **extra: Any) -> Any:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    return client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price_id}], **extra})


def test_the_default_version_is_the_one_the_pinned_sdk_sends(client: stripe.StripeClient, raw: httpx.Client) -> None:
    sdk_version = stripe.api_version
    answer = raw.get("/v1/customers", headers={"Authorization": f"Bearer {API_KEY}"})
    assert answer.headers["Stripe-Version"] == sdk_version
    client.v1.customers.create(params={"email": "v@example.com"})
    assert client.v1.events.list().data[0].api_version == sdk_version


def test_the_current_version_shows_the_period_on_the_items(client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribe(client, monthly_price.id)
    body = client.v1.subscriptions.retrieve(sub.id).to_dict()
    assert "current_period_end" not in body and "current_period_start" not in body
    item = body["items"]["data"][0]
    assert item["current_period_end"] > item["current_period_start"] == sub.start_date


@pytest.mark.parametrize("version", [OLD, ACACIA])
def test_versions_before_basil_show_the_period_on_the_subscription(emulator: Any, monthly_price: Any,
                                                                   version: str) -> None:
    old = _client(emulator, version)
    sub = _subscribe(old, monthly_price.id).to_dict()
    assert sub["current_period_end"] > sub["current_period_start"] == sub["start_date"]
    assert "current_period_end" not in sub["items"]["data"][0]


def test_versions_before_basil_show_the_invoice_payment_fields(emulator: Any, monthly_price: Any) -> None:
    old = _client(emulator, OLD)
    sub = _subscribe(old, monthly_price.id, expand=["latest_invoice.payment_intent"])
    invoice = sub.latest_invoice
    assert invoice.paid is True and invoice.paid_out_of_band is False
    intent = invoice.payment_intent
    assert (intent.object, intent.status, intent.invoice) == ("payment_intent", "succeeded", invoice.id)
    assert invoice.charge == intent.latest_charge
    assert old.v1.charges.retrieve(invoice.charge).invoice == invoice.id
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        old.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})


def test_basil_and_later_show_payments_instead(emulator: Any, client: stripe.StripeClient, monthly_price: Any) -> None:
    for current in (client, _client(emulator, BASIL)):
        sub = _subscribe(current, monthly_price.id, expand=["latest_invoice.payments"])
        invoice = sub.latest_invoice.to_dict()
        assert not {"paid", "paid_out_of_band", "payment_intent", "charge"} & set(invoice)
        payment = invoice["payments"]["data"][0]
        assert payment["status"] == "paid" and payment["payment"]["type"] == "payment_intent"
        intent = current.v1.payment_intents.retrieve(payment["payment"]["payment_intent"]).to_dict()
        assert "invoice" not in intent


@pytest.mark.parametrize("version", ["2024-13-45", "2023-10-16", "clover", "2026-02-25.basil"])
def test_an_unknown_or_unsupported_version_is_refused_as_stripe_refuses_an_invalid_one(
        emulator: Any, version: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _client(emulator, version).v1.customers.create(params={"email": "x@example.com"})
    assert caught.value.http_status == 400
    assert caught.value.user_message == f"Invalid Stripe API version: {version}"
    assert stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url}).v1.customers.list().data == []


def test_webhook_endpoints_receive_events_rendered_for_their_api_version(
        client: stripe.StripeClient, admin: Admin, receiver: Receiver, monthly_price: Any) -> None:
    pinned = client.v1.webhook_endpoints.create(params={
        "url": receiver.url + "?old", "enabled_events": ["customer.subscription.created", "invoice.paid"],
        "api_version": OLD})
    assert pinned.api_version == OLD
    unpinned = client.v1.webhook_endpoints.create(params={
        "url": receiver.url + "?current", "enabled_events": ["customer.subscription.created", "invoice.paid"]})
    assert unpinned.api_version is None
    _subscribe(client, monthly_price.id)
    admin.wait_webhooks()
    events = receiver.events()
    old = {e["type"]: e for e in events if e["api_version"] == OLD}
    current = {e["type"]: e for e in events if e["api_version"] == stripe.api_version}
    assert set(old) == set(current) == {"customer.subscription.created", "invoice.paid"}
    assert "current_period_end" in old["customer.subscription.created"]["data"]["object"]
    assert "current_period_end" not in current["customer.subscription.created"]["data"]["object"]
    assert old["invoice.paid"]["data"]["object"]["paid"] is True
    assert old["invoice.paid"]["data"]["object"]["payment_intent"].startswith("pi_")
    assert "paid" not in current["invoice.paid"]["data"]["object"]
    assert old["invoice.paid"]["id"] == current["invoice.paid"]["id"]  # one event, rendered twice


def test_events_listed_show_the_account_version(emulator: Any, monthly_price: Any) -> None:
    old = _client(emulator, OLD)
    sub = _subscribe(old, monthly_price.id)
    event = old.v1.events.list(params={"type": "customer.subscription.created"}).data[0]
    assert event.api_version == stripe.api_version  # rendered when it happened, for the account's version
    assert event.data.object.id == sub.id and "current_period_end" not in event.data.object


def test_a_webhook_endpoint_with_an_invalid_api_version_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.webhook_endpoints.create(params={"url": "https://e.com/h", "enabled_events": ["*"],
                                                   "api_version": "2019-02-30"})
    assert (caught.value.http_status, caught.value.param) == (400, "api_version")
    assert client.v1.webhook_endpoints.list().data == []


def test_promotion_codes_name_their_coupon_as_each_version_does(client: stripe.StripeClient, emulator: Any) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 20, "duration": "once"})
    current = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                       "code": "NEW20"})
    assert current.promotion.coupon == coupon.id and "coupon" not in current
    old = _client(emulator, BASIL)
    code = old.v1.promotion_codes.create(params={"coupon": coupon.id, "code": "OLD20"}).to_dict()
    assert code["coupon"]["id"] == coupon.id and code["coupon"]["percent_off"] == 20 and "promotion" not in code
    with pytest.raises(stripe.InvalidRequestError) as caught:
        old.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}})
    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "promotion[type]")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.promotion_codes.create(params={"coupon": coupon.id})
    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "coupon")
    assert old.v1.promotion_codes.retrieve(current.id).to_dict()["coupon"]["id"] == coupon.id


def test_discounts_name_their_coupon_as_each_version_does(emulator: Any, client: stripe.StripeClient,
                                                          monthly_price: Any) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 20, "duration": "forever"})
    sub = _subscribe(client, monthly_price.id, discounts=[{"coupon": coupon.id}], expand=["discounts"])
    assert sub.discounts[0].source.coupon == coupon.id and "coupon" not in sub.discounts[0]
    old = _client(emulator, ACACIA).v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]}).to_dict()
    discount = old["discounts"][0]
    assert discount["coupon"]["id"] == coupon.id and discount["coupon"]["percent_off"] == 20
    assert "source" not in discount
