"""Subscriptions (with their invoices) and the events they produce."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import attach

DAY = 86400


def _customer(client: stripe.StripeClient, **params: Any) -> Any:
    return client.v1.customers.create(params={"email": "sub@example.com", **params})


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def test_trial_gives_trialing_with_periods_on_items(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client)
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                                 "trial_period_days": 14, "expand": ["latest_invoice"]})
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * DAY
    item = sub["items"].data[0]
    assert item.object == "subscription_item" and item.price.id == monthly_price.id
    assert (item.current_period_start, item.current_period_end) == (sub.trial_start, sub.trial_end)
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.amount_due == 0


@pytest.mark.parametrize("how", ["subscription_default", "invoice_settings", "customer_payment_method"])
def test_a_good_payment_method_gives_active(client: stripe.StripeClient, monthly_price, how: str) -> None:
    params: dict[str, Any] = {}
    customer = _customer(client, **({"payment_method": "pm_card_visa"} if how == "customer_payment_method" else {}))
    if how == "subscription_default":
        params["default_payment_method"] = attach(client, customer.id, "pm_card_visa")
    elif how == "invoice_settings":
        pm = attach(client, customer.id, "pm_card_visa")
        client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": pm}})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                                 **params})
    assert sub.status == "active"
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 1500 and invoice.subscription == sub.id
    assert _types(client)[-8:] == ["customer.subscription.created", "invoice.created", "payment_intent.created",
                                   "invoice.finalized", "charge.succeeded", "payment_intent.succeeded",
                                   "invoice.paid", "invoice.payment_succeeded"]


def test_declined_card_gives_incomplete_with_failed_invoice(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client, payment_method="pm_card_chargeCustomerFail")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    assert sub.status == "incomplete"
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "open"
    assert "invoice.payment_failed" in _types(client)
    paid = client.v1.invoices.pay(sub.latest_invoice,
                                  params={"payment_method": attach(client, customer.id, "pm_card_visa")})
    assert paid.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


@pytest.mark.parametrize("customer_params,behavior", [
    ({}, None),
    ({"payment_method": "pm_card_visa"}, "default_incomplete"),
])
def test_incomplete_without_payment(client: stripe.StripeClient, monthly_price, customer_params, behavior) -> None:
    customer = _customer(client, **customer_params)
    params: dict[str, Any] = {"customer": customer.id, "items": [{"price": monthly_price.id}]}
    if behavior:
        params["payment_behavior"] = behavior
    sub = client.v1.subscriptions.create(params=params)
    assert sub.status == "incomplete"
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "open"


def test_subscription_items_endpoints(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client, payment_method="pm_card_visa")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    listed = client.v1.subscription_items.list(params={"subscription": sub.id})
    assert listed.url == sub["items"].url
    [item] = listed.data
    assert item.id == sub["items"].data[0].id and item.current_period_end == sub["items"].data[0].current_period_end
    assert client.v1.subscription_items.retrieve(item.id).price.id == monthly_price.id


def test_change_price_through_the_item(client: stripe.StripeClient, monthly_price) -> None:
    team = client.v1.prices.create(params={"product_data": {"name": "Team"}, "unit_amount": 4000, "currency": "usd",
                                           "recurring": {"interval": "month"}, "lookup_key": "team_monthly"})
    customer = _customer(client, payment_method="pm_card_visa")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    item_id = sub["items"].data[0].id
    changed = client.v1.subscriptions.update(sub.id, params={"items": [{"id": item_id, "price": team.id}],
                                                             "proration_behavior": "none"})
    assert [(i.id, i.price.id) for i in changed["items"].data] == [(item_id, team.id)]
    event = client.v1.events.list(params={"type": "customer.subscription.updated"}).data[0]
    assert event.data.object["items"].data[0].price.lookup_key == "team_monthly"
    previous = event.data.previous_attributes
    assert previous["items"].data[0].price.id == monthly_price.id


def test_cancel_at_period_end_and_undo(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client, payment_method="pm_card_visa")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    ending = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert ending.cancel_at_period_end is True and ending.status == "active"
    assert ending.cancel_at == ending["items"].data[0].current_period_end
    event = client.v1.events.list(params={"type": "customer.subscription.updated"}).data[0]
    assert event.data.previous_attributes.cancel_at_period_end is False
    kept = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert kept.cancel_at_period_end is False and kept.cancel_at is None


def test_cancel_now(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client, payment_method="pm_card_visa")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at is not None and canceled.ended_at is not None
    deleted = client.v1.events.list(params={"type": "customer.subscription.deleted"}).data[0]
    assert deleted.data.object.id == sub.id and deleted.data.object.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.cancel(sub.id)
    assert caught.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert client.v1.subscriptions.update(sub.id, params={"metadata": {"why": "test"}}).metadata.why == "test"


def test_pause_collection_and_resume_it(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client, payment_method="pm_card_visa")
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    paused = client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "void"}})
    assert paused.pause_collection.behavior == "void" and paused.status == "active"
    resumed = client.v1.subscriptions.update(sub.id, params={"pause_collection": ""})
    assert resumed.pause_collection is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.resume(sub.id)  # only status=paused resumes


def test_list_by_customer_and_status(client: stripe.StripeClient, monthly_price) -> None:
    alice = _customer(client, payment_method="pm_card_visa")
    bob = _customer(client)
    a1 = client.v1.subscriptions.create(params={"customer": alice.id, "items": [{"price": monthly_price.id}]})
    a2 = client.v1.subscriptions.create(params={"customer": alice.id, "items": [{"price": monthly_price.id}],
                                                "trial_period_days": 3})
    b1 = client.v1.subscriptions.create(params={"customer": bob.id, "items": [{"price": monthly_price.id}]})
    client.v1.subscriptions.cancel(a1.id)
    assert [s.id for s in client.v1.subscriptions.list(params={"customer": alice.id}).data] == [a2.id]
    everything = client.v1.subscriptions.list(params={"customer": alice.id, "status": "all"})
    assert [s.id for s in everything.data] == [a2.id, a1.id]
    assert [s.id for s in client.v1.subscriptions.list(params={"status": "incomplete"}).data] == [b1.id]
    assert [s.id for s in client.v1.subscriptions.list(params={"status": "canceled"}).data] == [a1.id]
    invoices = client.v1.invoices.list(params={"subscription": a2.id})
    assert [i.id for i in invoices.data] == [a2.latest_invoice]


def test_subscription_errors(client: stripe.StripeClient, monthly_price) -> None:
    customer = _customer(client)
    one_time = client.v1.prices.create(params={"product_data": {"name": "Setup"}, "unit_amount": 500,
                                               "currency": "usd"})
    cases = [
        ({"items": [{"price": monthly_price.id}]}, "customer"),
        ({"customer": "cus_missing", "items": [{"price": monthly_price.id}]}, "customer"),
        ({"customer": customer.id, "items": [{"price": "price_missing"}]}, "items[0][price]"),
        ({"customer": customer.id, "items": [{"price": one_time.id}]}, "items[0][price]"),
        ({"customer": customer.id}, "items"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.subscriptions.create(params=params)
        assert (caught.value.http_status, caught.value.param) == (400, param), params


def test_events_list_retrieve_and_fields(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "ev@example.com"},
                                          options={"idempotency_key": "ev-create"})
    client.v1.customers.update(customer.id, params={"email": "ev2@example.com", "metadata": {"k": "v"}})
    events = client.v1.events.list(params={"types": ["customer.*"]})
    assert [e.type for e in events.data] == ["customer.updated", "customer.created"]
    updated, created = events.data
    assert created.data.object.id == customer.id and created.livemode is False and created.api_version
    assert created["request"]["id"] == customer.last_response.request_id
    assert created["request"]["idempotency_key"] == "ev-create"
    assert updated.data.previous_attributes.to_dict() == {"email": "ev@example.com", "metadata": {"k": None}}
    assert updated.created >= created.created
    fetched = client.v1.events.retrieve(created.id)
    assert fetched.id == created.id and fetched.type == "customer.created"
    assert client.v1.events.list(params={"type": "customer.created"}).data[0].id == created.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve("evt_missing")


def test_webhook_endpoints_crud(client: stripe.StripeClient) -> None:
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": "https://example.com/hook", "enabled_events": ["customer.subscription.updated", "invoice.paid"]})
    assert endpoint.secret.startswith("whsec_") and endpoint.status == "enabled"
    fetched = client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert fetched.get("secret") is None and fetched.url == "https://example.com/hook"
    updated = client.v1.webhook_endpoints.update(endpoint.id, params={"enabled_events": ["*"], "disabled": True})
    assert updated.enabled_events == ["*"] and updated.status == "disabled"
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
    assert client.v1.webhook_endpoints.delete(endpoint.id).deleted is True
    assert client.v1.webhook_endpoints.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.create(params={"url": "not a url", "enabled_events": ["*"]})
