"""Catalog: products with a default price, tiered and metered prices, legacy plans, embedded Checkout,
and ``GET /v1/invoices/upcoming`` (removed in 2025-03-31.basil, served to older versions)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe
from conftest import API_KEY, RecordingClient

OLD = "2024-06-20"
TIERS = [{"up_to": 5, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 500, "flat_amount": 200}]


def _tiered(client: stripe.StripeClient, mode: str) -> Any:
    product = client.v1.products.create(params={"name": f"Seats ({mode})"})
    return client.v1.prices.create(params={
        "product": product.id, "currency": "usd", "recurring": {"interval": "month"},
        "billing_scheme": "tiered", "tiers_mode": mode, "tiers": TIERS})


def _first_invoice(client: stripe.StripeClient, price_id: str, quantity: int) -> Any:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price_id, "quantity": quantity}], "expand": ["latest_invoice"]})
    return sub.latest_invoice


def _refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    return caught.value


def test_a_product_is_created_with_its_default_price(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Team", "default_price_data": {
        "currency": "usd", "unit_amount": 4900, "recurring": {"interval": "month"}}, "expand": ["default_price"]})
    price = product.default_price
    assert (price.product, price.unit_amount, price.currency, price.type) == (product.id, 4900, "usd", "recurring")
    assert price.recurring.interval == "month"
    types = [e.type for e in client.v1.events.list().data][::-1]
    assert types == ["product.created", "price.created"]
    refused = _refused(lambda: client.v1.products.create(params={"name": "X", "default_price_data": {
        "unit_amount": 100}}))
    assert refused.param == "default_price_data[currency]"
    assert [p.name for p in client.v1.products.list().data] == ["Team"]


@pytest.mark.parametrize("mode, quantity, amount", [
    ("graduated", 3, 3 * 1000),
    ("graduated", 8, 5 * 1000 + 3 * 500 + 200),
    ("volume", 3, 3 * 1000),
    ("volume", 8, 8 * 500 + 200),
])
def test_tiered_prices_are_billed_by_their_tiers(client: stripe.StripeClient, mode: str, quantity: int,
                                                 amount: int) -> None:
    price = _tiered(client, mode)
    assert (price.billing_scheme, price.tiers_mode, price.unit_amount) == ("tiered", mode, None)
    assert "tiers" not in price  # as on Stripe: only with expand[]=tiers
    tiers = client.v1.prices.retrieve(price.id, params={"expand": ["tiers"]}).tiers
    assert [(t.up_to, t.unit_amount, t.flat_amount) for t in tiers] == [(5, 1000, None), (None, 500, 200)]
    invoice = _first_invoice(client, price.id, quantity)
    assert (invoice.subtotal, invoice.amount_due, invoice.amount_paid) == (amount, amount, amount)
    assert invoice.lines.data[0].amount == amount


@pytest.mark.parametrize("params, param", [
    ({"billing_scheme": "tiered", "tiers_mode": "graduated", "tiers": TIERS, "unit_amount": 100}, "unit_amount"),
    ({"billing_scheme": "tiered", "tiers": TIERS}, "tiers_mode"),
    ({"billing_scheme": "tiered", "tiers_mode": "stepped", "tiers": TIERS}, "tiers_mode"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume"}, "tiers"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": [{"up_to": 5, "unit_amount": 1}]},
     "tiers[0][up_to]"),
    ({"tiers_mode": "volume", "unit_amount": 100}, "tiers_mode"),
])
def test_invalid_tiered_prices_are_refused(client: stripe.StripeClient, params: dict[str, Any], param: str) -> None:
    product = client.v1.products.create(params={"name": "Seats"})
    assert _refused(lambda: client.v1.prices.create(params={
        "product": product.id, "currency": "usd", "recurring": {"interval": "month"}, **params})).param == param
    assert client.v1.prices.list().data == []


def test_metered_prices_need_a_meter_since_basil_and_legacy_ones_are_not_implemented(
        client: stripe.StripeClient, emulator: Any) -> None:
    product = client.v1.products.create(params={"name": "API calls"})
    metered = {"product": product.id, "currency": "usd", "unit_amount": 1,
               "recurring": {"interval": "month", "usage_type": "metered"}}
    refused = _refused(lambda: client.v1.prices.create(params=metered))
    assert (refused.code, refused.param) == ("parameter_missing", "recurring[meter]")
    with_meter = {**metered, "recurring": {**metered["recurring"], "meter": "mtr_123"}}
    refused = _refused(lambda: client.v1.prices.create(params=with_meter))
    assert (refused.code, refused.param) == ("parameter_unknown", "recurring[meter]")
    old = stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url}, stripe_version=OLD,
                              http_client=RecordingClient())
    refused = _refused(lambda: old.v1.prices.create(params=metered))
    assert (refused.code, refused.param) == ("parameter_unknown", "recurring[usage_type]")
    licensed = client.v1.prices.create(params={**metered, "recurring": {"interval": "month", "usage_type": "licensed"}})
    assert licensed.recurring.usage_type == "licensed"


def test_legacy_plans_are_prices_a_subscription_can_use(client: stripe.StripeClient) -> None:
    plan = client.v1.plans.create(params={"id": "gold", "amount": 2000, "currency": "usd", "interval": "month",
                                          "product": {"name": "Gold"}, "nickname": "Gold monthly"})
    assert (plan.id, plan.object, plan.amount, plan.interval, plan.usage_type) == ("gold", "plan", 2000, "month",
                                                                                     "licensed")
    assert client.v1.prices.retrieve("gold").unit_amount == 2000
    assert [p.id for p in client.v1.plans.list().data] == ["gold"]
    assert client.v1.plans.update("gold", params={"nickname": "Gold"}).nickname == "Gold"
    duplicate = _refused(lambda: client.v1.plans.create(params={
        "id": "gold", "amount": 1, "currency": "usd", "interval": "month", "product": plan.product}))
    assert (duplicate.code, duplicate.param) == ("resource_already_exists", "id")
    invoice = _first_invoice(client, "gold", 2)
    assert invoice.amount_paid == 4000
    types = {e.type for e in client.v1.events.list(params={"limit": 100}).data}
    assert {"plan.created", "price.created", "plan.updated"} <= types
    deleted = client.v1.plans.delete("gold")
    assert (deleted.id, deleted.object, deleted.deleted) == ("gold", "plan", True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.plans.retrieve("gold")
    assert (caught.value.http_status, caught.value.user_message) == (404, "No such plan: 'gold'")


def test_embedded_checkout_answers_a_client_secret_and_takes_a_return_url(
        client: stripe.StripeClient, monthly_price: Any, raw: httpx.Client) -> None:
    base = {"mode": "subscription", "line_items": [{"price": monthly_price.id}]}
    session = client.v1.checkout.sessions.create(params={**base, "ui_mode": "embedded",
                                                         "return_url": "https://e.com/back?s={CHECKOUT_SESSION_ID}"})
    assert (session.ui_mode, session.url, session.success_url) == ("embedded", None, None)
    assert session.client_secret.startswith(f"{session.id}_secret_")
    assert raw.get(f"/c/pay/{session.id}").status_code == 404  # no hosted page for an embedded session
    assert _refused(lambda: client.v1.checkout.sessions.create(params={
        **base, "ui_mode": "embedded", "return_url": "https://e.com/b", "success_url": "https://e.com/ok"})
    ).param == "success_url"
    refused = _refused(lambda: client.v1.checkout.sessions.create(params={**base, "ui_mode": "embedded"}))
    assert (refused.code, refused.param) == ("parameter_missing", "return_url")
    assert _refused(lambda: client.v1.checkout.sessions.create(params={
        **base, "success_url": "https://e.com/ok", "return_url": "https://e.com/b"})).param == "return_url"
    hosted = client.v1.checkout.sessions.create(params={**base, "success_url": "https://e.com/ok"})
    assert (hosted.ui_mode, hosted.client_secret) == ("hosted", None) and hosted.url
    client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session.id}/complete",
                       payment_method="pm_card_visa")
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.subscription


def test_upcoming_invoices_exist_before_basil_only(client: stripe.StripeClient, emulator: Any,
                                                   monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    old = client.raw_request("get", "/v1/invoices/upcoming", customer=customer.id, stripe_version=OLD)
    invoice = json.loads(old.body)
    assert (invoice["object"], invoice["billing_reason"], invoice["amount_due"]) == ("invoice", "upcoming", 1500)
    assert "id" not in invoice and invoice["subscription"] == sub.id
    assert invoice["lines"]["data"][0]["period"]["start"] == sub["items"].data[0].current_period_end
    lines = json.loads(client.raw_request("get", "/v1/invoices/upcoming/lines", customer=customer.id,
                                          stripe_version=OLD).body)
    assert [line["amount"] for line in lines["data"]] == [1500]
    for path in ("/v1/invoices/upcoming", "/v1/invoices/upcoming/lines"):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.raw_request("get", path, customer=customer.id)
        assert (caught.value.http_status, caught.value.user_message) == (404, "No such invoice: 'upcoming'")
