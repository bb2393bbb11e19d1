"""Stripe Entitlements: features on products become a customer's active entitlements."""

from __future__ import annotations

from typing import Any

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
