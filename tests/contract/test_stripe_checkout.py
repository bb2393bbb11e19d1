"""Checkout Sessions in subscription mode, completed through the test helper."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import Admin, Receiver


def _session(client: stripe.StripeClient, price: Any, **params: Any) -> Any:
    return client.v1.checkout.sessions.create(params={
        "mode": "subscription", "line_items": [{"price": price.id, "quantity": 1}],
        "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no", **params})


def _complete(client: stripe.StripeClient, session_id: str, **params: Any) -> Any:
    response = client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **params)
    return client.deserialize(response, api_mode="V1")


def test_completing_a_session_creates_the_subscription(client: stripe.StripeClient, admin: Admin,
                                                       receiver: Receiver, endpoint_secret: str,
                                                       monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "buyer@example.com",
                                                  "metadata": {"cognito_sub": "sub-buyer"}})
    session = _session(client, monthly_price, customer=customer.id, client_reference_id="sub-buyer",
                       metadata={"cognito_sub": "sub-buyer"})
    assert session.id.startswith("cs_test_") and session.status == "open" and session.url
    assert session.payment_status == "unpaid" and session.subscription is None
    done = _complete(client, session.id)
    assert done.status == "complete" and done.payment_status == "paid" and done.customer == customer.id
    sub = client.v1.subscriptions.retrieve(done.subscription)
    assert sub.status == "active" and sub.customer == customer.id
    assert sub["items"].data[0].price.id == monthly_price.id
    admin.wait_webhooks()
    completed = [e for e in receiver.events() if e["type"] == "checkout.session.completed"]
    assert len(completed) == 1
    assert completed[0]["data"]["object"]["subscription"] == sub.id
    assert completed[0]["data"]["object"]["client_reference_id"] == "sub-buyer"
    assert {"customer.subscription.created", "invoice.paid"} <= {e["type"] for e in receiver.events()}
    with pytest.raises(stripe.InvalidRequestError):
        _complete(client, session.id)  # only open sessions complete


def test_session_without_customer_creates_one_with_a_trial(client: stripe.StripeClient, admin: Admin,
                                                           monthly_price: Any) -> None:
    session = _session(client, monthly_price, customer_email="new@example.com",
                       subscription_data={"trial_period_days": 7, "metadata": {"cognito_sub": "sub-new"}})
    done = admin.post(f"checkout/sessions/{session.id}/complete", {"payment_method": "pm_card_visa"})
    assert done["payment_status"] == "no_payment_required"
    customer = client.v1.customers.retrieve(done["customer"])
    assert customer.email == "new@example.com"
    sub = client.v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "trialing" and sub.metadata.cognito_sub == "sub-new"
    fetched = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert fetched.subscription.id == sub.id


def test_declined_card_leaves_the_session_open(client: stripe.StripeClient, monthly_price: Any) -> None:
    session = _session(client, monthly_price)
    with pytest.raises(stripe.CardError):
        _complete(client, session.id, payment_method="pm_card_chargeDeclined")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.subscriptions.list().data == []


def test_expire_list_and_line_items(client: stripe.StripeClient, monthly_price: Any) -> None:
    session = _session(client, monthly_price)
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [i.price.id for i in items.data] == [monthly_price.id]
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    assert [s.id for s in client.v1.checkout.sessions.list(params={"status": "expired"}).data] == [session.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params={"mode": "subscription", "success_url": "https://e.com"})
    assert caught.value.param == "line_items"
