"""The emulator's objects against Stripe's reference shapes (spec 2023-08-16 + fixtures3.json).

Every answer of every contract test is checked by the ``fresh_emulator`` fixture; these tests make
sure each object kind is actually met, that the checker catches what it should, and that the
condensed reference still matches the source files.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import stripe
import stripe_reference
from conftest import API_KEY, RECORDED, Admin
from stripe_shapes import kinds, violations


def _every_kind(client: stripe.StripeClient, admin: Admin, raw: httpx.Client, monthly_price: Any) -> None:
    feature = client.v1.entitlements.features.create(params={"name": "Exports", "lookup_key": "exports"})
    client.v1.products.features.create(monthly_price.product, params={"entitlement_feature": feature.id})
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600})
    customer = client.v1.customers.create(params={"email": "shape@example.com", "payment_method": "pm_card_visa",
                                                  "test_clock": clock.id})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                                 "expand": ["latest_invoice", "items.data.price.product"]})
    client.v1.subscriptions.list(params={"customer": customer.id})
    client.v1.customers.payment_methods.list(customer.id)
    client.v1.customers.search(params={"query": "email:'shape@example.com'"})
    client.v1.entitlements.active_entitlements.list(params={"customer": customer.id})
    client.v1.events.list(params={"type": "entitlements.active_entitlement_summary.updated"})
    client.v1.events.list(params={"limit": 3})
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "line_items": [{"price": monthly_price.id}], "success_url": "https://e.com/ok"})
    client.v1.checkout.sessions.line_items.list(session.id)
    portal = client.v1.billing_portal.configurations.create(params={"features": {"invoice_history": {"enabled": True}}})
    client.v1.billing_portal.sessions.create(params={"customer": customer.id, "configuration": portal.id})
    endpoint = client.v1.webhook_endpoints.create(params={"url": "https://e.com/h", "enabled_events": ["*"]})
    client.v1.webhook_endpoints.delete(endpoint.id)
    product = client.v1.products.create(params={"name": "Doomed"})
    client.v1.products.delete(product.id)
    client.v1.customers.delete(client.v1.customers.create(params={"email": "gone@example.com"}).id)
    item = client.v1.invoice_items.create(params={"customer": customer.id, "amount": 100, "currency": "usd"})
    draft = client.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    client.v1.invoices.line_items.list(draft.id)
    client.v1.invoices.delete(draft.id)
    client.v1.invoice_items.delete(item.id)
    intent = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "confirm": True,
                                                      "payment_method": "pm_card_visa"})
    client.v1.refunds.create(params={"payment_intent": intent.id})
    client.v1.charges.retrieve(intent.latest_charge)
    client.v1.setup_intents.create(params={"customer": customer.id})
    client.v1.invoice_payments.list(params={"invoice": sub.latest_invoice.id})
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    promo = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}})
    discounted = client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": monthly_price.id}], "discounts": [{"promotion_code": promo.id}],
        "expand": ["discounts"]})
    client.v1.subscriptions.delete_discount(discounted.id)
    client.v1.coupons.delete(coupon.id)
    client.v1.test_helpers.test_clocks.delete(clock.id)
    plan = client.v1.plans.create(params={"amount": 900, "currency": "usd", "interval": "month",
                                          "product": {"name": "Legacy"}})
    client.v1.plans.delete(plan.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve("cus_missing")
    assert sub.status == "active"


def test_every_object_kind_is_met_and_matches(client: stripe.StripeClient, admin: Admin, raw: httpx.Client,
                                              monthly_price: Any) -> None:
    _every_kind(client, admin, raw, monthly_price)
    bodies = [body for _, body in RECORDED]
    seen = set().union(*(kinds(body) for body in bodies))
    if any(isinstance(b, dict) and "error" in b for b in bodies):
        seen.add("api_errors")
    assert set(stripe_reference.load()) - seen == set()
    assert [problem for body in bodies for problem in violations(body)] == []


def _subscription_body(client: stripe.StripeClient, monthly_price: Any) -> dict[str, Any]:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    return copy.deepcopy(next(body for _, body in RECORDED if body.get("object") == "subscription"))


def test_the_checker_catches_broken_objects(client: stripe.StripeClient, monthly_price: Any) -> None:
    good = _subscription_body(client, monthly_price)
    RECORDED.clear()  # the broken copies below are not the emulator's answers
    assert violations(good) == []

    no_item_price = copy.deepcopy(good)
    del no_item_price["items"]["data"][0]["price"]
    assert any("price" in p and "subscription_item" in p for p in violations(no_item_price))

    no_status = copy.deepcopy(good)
    del no_status["status"]
    assert any("missing status" in p for p in violations(no_status))

    wrong_type = copy.deepcopy(good)
    wrong_type["created"] = "yesterday"
    assert any(".created" in p for p in violations(wrong_type))

    unknown = {"object": "customr", "id": "cus_1"}
    assert any("no reference schema" in p for p in violations(unknown))

    bad_list = {"object": "list", "data": [], "has_more": False, "url": "customers"}
    assert any("url" in p for p in violations(bad_list))

    assert violations({"error": {"message": "no type"}}) != []


def test_errors_carry_type_code_message_param(raw: httpx.Client) -> None:
    answer = raw.post("/v1/products", headers={"Authorization": f"Bearer {API_KEY}"}, data={})
    error = answer.json()["error"]
    assert answer.status_code == 400
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "parameter_missing", "name")
    assert error["message"]
    assert violations(answer.json()) == []


def test_condensed_reference_matches_the_source_files() -> None:
    if not (stripe_reference.SOURCE_DIR / "fixtures3.json").exists():
        pytest.skip(f"reference files not present in {stripe_reference.SOURCE_DIR}")
    committed = stripe_reference.load()
    assert stripe_reference.from_sources()["schemas"] == committed, (
        "regenerate with: python tests/contract/stripe_reference.py")
