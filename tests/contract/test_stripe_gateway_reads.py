"""linkflow's Stripe gateway (``SdkStripe``) reading through the SDK's ``raw_request``: the same
JSON Stripe sent, the same error mapping as the SDK's typed services, on the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from linkflow_shared.errors import StripeNotFound, StripeRequestRejected
from linkflow_shared.gateways import SdkStripe
from linkflow_shared.gateways.stripe import clear_product_cache


@pytest.fixture
def gateway(client: stripe.StripeClient) -> SdkStripe:
    clear_product_cache()
    return SdkStripe(client)


def _plain(value: Any) -> bool:
    """Only JSON (dicts, lists, scalars): no ``StripeObject`` anywhere (they subclass dict)."""
    if isinstance(value, dict):
        return not isinstance(value, stripe.StripeObject) and all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return True


def test_reads_answer_stripes_json(client: stripe.StripeClient, gateway: SdkStripe, monthly_price: Any) -> None:
    feature = client.v1.entitlements.features.create(params={"name": "Exports", "lookup_key": "exports"})
    client.v1.products.features.create(monthly_price.product, params={"entitlement_feature": feature.id})
    customer = client.v1.customers.create(params={"email": "reads@example.com", "payment_method": "pm_card_visa",
                                                  "metadata": {"cognito_sub": "sub-1"}})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})

    got = gateway.retrieve_customer(customer.id)
    assert got == client.v1.customers.retrieve(customer.id).to_dict_recursive()
    assert _plain(got) and got["metadata"] == {"cognito_sub": "sub-1"}

    rows = gateway.list_subscriptions(customer.id)
    assert [r["id"] for r in rows] == [sub.id] and _plain(rows)
    price = rows[0]["items"]["data"][0]["price"]
    assert price["id"] == monthly_price.id  # expanded (data.items.data.price) ...
    assert price["product"]["id"] == monthly_price.product  # ... and its product fetched

    assert gateway.active_entitlements(customer.id) == ["exports"]
    assert [c["id"] for c in gateway.customers_with_email("reads@example.com")] == [customer.id]
    assert gateway.has_invoices(customer.id) is True
    assert gateway.price_id(monthly_price.lookup_key) == monthly_price.id
    assert gateway.price_id("no_such_lookup_key") is None
    assert [c["id"] for c in gateway.list_all("customers", {"email": "reads@example.com"})] == [customer.id]


def test_deleted_and_unknown_customers(client: stripe.StripeClient, gateway: SdkStripe) -> None:
    customer = client.v1.customers.create(params={"email": "gone@example.com"})
    client.v1.customers.delete(customer.id)
    assert gateway.retrieve_customer(customer.id) == {"id": customer.id, "object": "customer", "deleted": True}
    with pytest.raises(StripeNotFound, match="HTTP 404"):
        gateway.retrieve_customer("cus_neverexisted")
    # An id is one path segment: a slash in it cannot reach another endpoint.
    with pytest.raises(StripeNotFound):
        gateway.retrieve_customer(f"{customer.id}/../../products")


def test_errors_map_as_the_sdk_services_do(gateway: SdkStripe) -> None:
    with pytest.raises(StripeRequestRejected, match=r"InvalidRequestError \(HTTP 400"):
        next(gateway.list_all("customers", {"unknown_parameter": "x"}))
    with pytest.raises(ValueError, match="not a list endpoint"):
        next(gateway.list_all("charges/../customers", {}))


def test_subscription_list_refuses_an_unknown_status(client: stripe.StripeClient) -> None:
    """As Stripe does: a status outside its list is a 400 naming the parameter, not an empty page."""
    with pytest.raises(stripe.InvalidRequestError, match="Invalid status: must be one of active, all") as failed:
        client.v1.subscriptions.list(params={"status": "not_a_status"})  # type: ignore[typeddict-item]
    assert failed.value.http_status == 400 and failed.value.param == "status"
    assert client.v1.subscriptions.list(params={"status": "ended"}).data == []
