"""Checkout Sessions in subscription mode: completed through the test helper, listed, expired.

The hosted page that completes them as a customer does: ``test_stripe_checkout_page.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import Admin, Receiver, make_client

from linkflow.stripe_emulator import Clock, EmulatorServer, EmulatorState


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


# --- what linkflow's checkout route relies on ---------------------------------------------------------


def test_the_open_session_of_a_customer_is_found_again(client: stripe.StripeClient, monthly_price: Any) -> None:
    """A double click reuses the open session: list by customer and ``status=open``."""
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    other = client.v1.customers.create(params={"email": "other@example.com"})
    first = _session(client, monthly_price, customer=customer.id)
    _session(client, monthly_price, customer=other.id)
    client.v1.checkout.sessions.expire(_session(client, monthly_price, customer=customer.id).id)
    found = client.v1.checkout.sessions.list(params={"customer": customer.id, "status": "open", "limit": 1})
    assert [s.id for s in found.data] == [first.id] and found.data[0].url == first.url


def test_expires_at_is_between_30_minutes_and_24_hours(client: stripe.StripeClient, admin: Admin,
                                                       monthly_price: Any) -> None:
    now = int(admin.get("clock")["now"])
    default = _session(client, monthly_price)
    assert default.expires_at - default.created == 24 * 3600
    chosen = _session(client, monthly_price, expires_at=now + 3600)
    assert chosen.expires_at == now + 3600
    for too in (now + 29 * 60, now + 25 * 3600):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            _session(client, monthly_price, expires_at=too)
        assert caught.value.param == "expires_at"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _session(client, monthly_price, success_url="not a url")
    assert caught.value.param == "success_url"
    assert len(client.v1.checkout.sessions.list().data) == 2


def test_sessions_expire_when_emulator_time_passes_expires_at(client: stripe.StripeClient, admin: Admin,
                                                              receiver: Receiver, endpoint_secret: str,
                                                              monthly_price: Any) -> None:
    now = int(admin.get("clock")["now"])
    short = _session(client, monthly_price, expires_at=now + 1800)
    long = _session(client, monthly_price)
    admin.post("clock", {"advance_seconds": 1801})
    assert client.v1.checkout.sessions.retrieve(short.id).status == "expired"
    assert client.v1.checkout.sessions.retrieve(short.id).url is None
    assert client.v1.checkout.sessions.retrieve(long.id).status == "open"
    admin.wait_webhooks()
    (expired,) = [e for e in receiver.events() if e["type"] == "checkout.session.expired"]
    assert expired["data"]["object"]["id"] == short.id and expired["created"] == short.expires_at
    with pytest.raises(stripe.InvalidRequestError):
        _complete(client, short.id)


def test_sessions_of_a_test_clock_customer_expire_when_the_clock_advances(client: stripe.StripeClient,
                                                                         monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600})
    customer = client.v1.customers.create(params={"test_clock": clock.id})
    session = _session(client, monthly_price, customer=customer.id)
    assert session.created == 1_767_225_600 and session.expires_at == 1_767_225_600 + 24 * 3600
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": 1_767_225_600 + 23 * 3600})
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": 1_767_225_600 + 25 * 3600})
    assert client.v1.checkout.sessions.list(params={"customer": customer.id, "status": "open"}).data == []
    (event,) = client.v1.events.list(params={"type": "checkout.session.expired"}).data
    assert event.data.object.id == session.id and event.created == session.expires_at


def test_a_session_past_expires_at_is_expired_when_next_read() -> None:
    """Time passing with nobody advancing a clock: the session expires on its next read."""
    wall = [1_800_000_000.0]
    state = EmulatorState(clock=Clock(source=lambda: wall[0]))
    with EmulatorServer(port=0, state=state) as server:
        own = make_client(server.url)
        product = own.v1.products.create(params={"name": "Pro"})
        price = own.v1.prices.create(params={"product": product.id, "unit_amount": 1500, "currency": "usd",
                                             "recurring": {"interval": "month"}})
        session = _session(own, price, expires_at=int(wall[0]) + 1800)
        wall[0] += 1800
        assert own.v1.checkout.sessions.list(params={"status": "open"}).data == []
        assert own.v1.checkout.sessions.retrieve(session.id).status == "expired"
        (event,) = own.v1.events.list(params={"type": "checkout.session.expired"}).data
        assert event.created == session.expires_at
