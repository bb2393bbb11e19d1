"""Stripe Entitlements: features on products become a customer's active entitlements."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from conftest import Admin, Receiver


def _summaries(receiver: Receiver) -> list[dict[str, Any]]:
    return [e for e in receiver.events() if e["type"] == "entitlements.active_entitlement_summary.updated"]


def test_subscription_lifecycle_updates_active_entitlements(client: stripe.StripeClient, admin: Admin,
                                                            receiver: Receiver, endpoint_secret: str,
                                                            monthly_price: Any) -> None:
    feature = client.v1.entitlements.features.create(params={"name": "Exports", "lookup_key": "exports"})
    assert feature.object == "entitlements.feature"
    attached = client.v1.products.features.create(monthly_price.product, params={"entitlement_feature": feature.id})
    assert attached.entitlement_feature.id == feature.id
    assert [f.id for f in client.v1.products.features.list(monthly_price.product).data] == [attached.id]
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    active = client.v1.entitlements.active_entitlements.list(params={"customer": customer.id})
    assert [(e.lookup_key, e.feature) for e in active.data] == [("exports", feature.id)]
    assert client.v1.entitlements.active_entitlements.retrieve(active.data[0].id).lookup_key == "exports"
    client.v1.subscriptions.cancel(sub.id)
    assert client.v1.entitlements.active_entitlements.list(params={"customer": customer.id}).data == []
    admin.wait_webhooks()
    granted, revoked = _summaries(receiver)
    assert granted["data"]["object"]["customer"] == customer.id
    assert [e["lookup_key"] for e in granted["data"]["object"]["entitlements"]["data"]] == ["exports"]
    assert revoked["data"]["object"]["entitlements"]["data"] == []
    assert [e["lookup_key"] for e in revoked["data"]["previous_attributes"]["entitlements"]["data"]] == ["exports"]


def test_feature_errors(client: stripe.StripeClient, monthly_price: Any) -> None:
    client.v1.entitlements.features.create(params={"name": "A", "lookup_key": "a"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.entitlements.features.create(params={"name": "A again", "lookup_key": "a"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.products.features.create(monthly_price.product, params={"entitlement_feature": "feat_missing"})
    assert caught.value.param == "entitlement_feature"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.entitlements.active_entitlements.list(params={})  # type: ignore[typeddict-item]


def test_a_checkout_grants_the_products_features_and_a_portal_cancel_ends_them(
        client: stripe.StripeClient, admin: Admin, receiver: Receiver, endpoint_secret: str,
        monthly_price: Any) -> None:
    """What linkflow reads: the lookup keys of the customer's active entitlements, paged, and the
    summary event when a subscription started through Checkout starts and when it ends."""
    keys = ["exports", "api", "seats"]
    for key in keys:
        feature = client.v1.entitlements.features.create(params={"name": key.title(), "lookup_key": key})
        attached = client.v1.products.features.create(monthly_price.product, params={"entitlement_feature": feature.id})
    assert client.v1.products.features.retrieve(monthly_price.product, attached.id).entitlement_feature.lookup_key \
        == "seats"
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer.id, "line_items": [{"price": monthly_price.id}],
        "success_url": "https://app.example.com/ok"})
    with httpx.Client() as browser:
        assert browser.post(session.url, data={"card_number": "4242424242424242"}).status_code == 303

    found, params = [], {"customer": customer.id, "limit": 2}
    while True:
        page = client.v1.entitlements.active_entitlements.list(params=params)  # type: ignore[arg-type]
        found += [e.lookup_key for e in page.data]
        if not page.has_more:
            break
        params = {**params, "starting_after": page.data[-1].id}
    assert sorted(found) == sorted(keys)

    client.v1.billing_portal.configurations.create(params={"features": {"subscription_cancel": {"enabled": True}}})
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer.id})
    with httpx.Client() as browser:
        page_html = browser.get(portal.url).text
        cancel = page_html.split('<form method="post" action="', 1)[1].split('"', 1)[0]
        assert browser.post(httpx.URL(portal.url).join(cancel)).status_code == 303
    assert len(client.v1.entitlements.active_entitlements.list(params={"customer": customer.id}).data) == 3
    admin.post("clock", {"advance_seconds": 32 * 86400})
    assert client.v1.entitlements.active_entitlements.list(params={"customer": customer.id}).data == []

    admin.wait_webhooks()
    types = [e["type"] for e in receiver.events()]
    started = types.index("customer.subscription.created")
    assert types[started:] == [
        "customer.subscription.created", "invoice.created", "payment_intent.created", "invoice.finalized",
        "charge.succeeded", "payment_intent.succeeded", "customer.subscription.updated",
        "entitlements.active_entitlement_summary.updated", "invoice.paid", "invoice.payment_succeeded",
        "checkout.session.completed",
        "customer.subscription.updated",  # the portal cancel: no change to entitlements yet
        "customer.subscription.deleted", "entitlements.active_entitlement_summary.updated"]
    granted, revoked = _summaries(receiver)
    assert sorted(e["lookup_key"] for e in granted["data"]["object"]["entitlements"]["data"]) == sorted(keys)
    assert revoked["data"]["object"]["entitlements"]["data"] == []
