"""Plan changes: prorations (create_prorations, always_invoice, none), billing cycle resets, previews.

Amounts are Stripe's time-based prorations, to the second: a customer on a test clock subscribes on
2026-01-01 (a 31-day period, 2,678,400 s) and changes plan on 2026-01-11, with 21 days (1,814,400 s)
left: unused time of $15.00 is -round(1500 × 21/31) = -1016, remaining time of $40.00 is
round(4000 × 21/31) = 2710, of 3 × $15.00 round(4500 × 21/31) = 3048.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

DAY = 86400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
CHANGE = T0 + 10 * DAY  # 2026-01-11
FEB_1 = 1_769_904_000


@pytest.fixture
def prices(client: stripe.StripeClient) -> tuple[Any, Any]:
    product = client.v1.products.create(params={"name": "Plans"})
    pro = client.v1.prices.create(params={"product": product.id, "unit_amount": 1500, "currency": "usd",
                                          "nickname": "Pro", "recurring": {"interval": "month"}})
    team = client.v1.prices.create(params={"product": product.id, "unit_amount": 4000, "currency": "usd",
                                           "nickname": "Team", "recurring": {"interval": "month"}})
    return pro, team


@pytest.fixture
def subscribed(client: stripe.StripeClient, prices: tuple[Any, Any]) -> Any:
    """An active $15/month subscription on a clock, ten days into its first period."""
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa", "test_clock": clock.id})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": prices[0].id}]})
    assert sub.status == "active"
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": CHANGE})
    sub.clock = clock.id
    return sub


def _types_since(client: stripe.StripeClient, event_id: str) -> list[str]:
    """Types of the events after ``event_id``, oldest first."""
    newest_first = [e.id for e in client.v1.events.list(params={"limit": 100}).data]
    types = {e.id: e.type for e in client.v1.events.list(params={"limit": 100}).data}
    return [types[i] for i in reversed(newest_first[:newest_first.index(event_id)])]


def _last_event(client: stripe.StripeClient) -> str:
    return str(client.v1.events.list(params={"limit": 1}).data[0].id)


def _switch(client: stripe.StripeClient, sub: Any, price: Any, **params: Any) -> Any:
    item = sub["items"].data[0]
    return client.v1.subscriptions.update(sub.id, params={"items": [{"id": item.id, "price": price.id}], **params})


def test_create_prorations_leaves_pending_items_that_the_renewal_bills(
        client: stripe.StripeClient, subscribed: Any, prices: tuple[Any, Any]) -> None:
    mark = _last_event(client)
    changed = _switch(client, subscribed, prices[1])  # create_prorations is Stripe's default
    assert changed.latest_invoice == subscribed.latest_invoice
    assert _types_since(client, mark) == ["invoiceitem.created", "invoiceitem.created",
                                          "customer.subscription.updated"]
    pending = client.v1.invoice_items.list(params={"customer": subscribed.customer, "pending": True}).data
    assert sorted((i.amount, i.description, i.proration, i.period.start, i.period.end) for i in pending) == [
        (-1016, "Unused time on 1 × Pro after 11 Jan 2026", True, CHANGE, FEB_1),
        (2710, "Remaining time on 1 × Team after 11 Jan 2026", True, CHANGE, FEB_1),
    ]
    assert all(i.invoice is None and i.parent.subscription_details.subscription == subscribed.id for i in pending)

    client.v1.test_helpers.test_clocks.advance(subscribed.clock, params={"frozen_time": FEB_1 + 3600})
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(subscribed.id).latest_invoice)
    assert (renewal.billing_reason, renewal.status, renewal.amount_paid) == ("subscription_cycle", "paid", 5694)
    lines = client.v1.invoices.line_items.list(renewal.id).data
    assert sorted((line.amount, line.proration) for line in lines) == [(-1016, True), (2710, True), (4000, False)]
    assert client.v1.invoice_items.list(params={"customer": subscribed.customer, "pending": True}).data == []
    assert {i.invoice for i in client.v1.invoice_items.list(params={"customer": subscribed.customer}).data} == {
        renewal.id}


def test_always_invoice_bills_the_prorations_at_once(client: stripe.StripeClient, subscribed: Any,
                                                      prices: tuple[Any, Any]) -> None:
    mark = _last_event(client)
    changed = _switch(client, subscribed, prices[1], proration_behavior="always_invoice")
    invoice = client.v1.invoices.retrieve(changed.latest_invoice)
    assert invoice.id != subscribed.latest_invoice
    assert (invoice.billing_reason, invoice.status, invoice.amount_due, invoice.amount_paid) == (
        "subscription_update", "paid", 1694, 1694)
    assert sorted(line.amount for line in invoice.lines.data) == [-1016, 2710]
    types = [t for t in _types_since(client, mark) if not t.startswith(("payment_intent.", "charge."))]
    assert types == ["invoiceitem.created", "invoiceitem.created", "invoice.created", "invoice.finalized",
                     "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]
    assert changed["items"].data[0].current_period_start == T0 and changed.billing_cycle_anchor == T0


def test_a_quantity_change_prorates_old_and_new_quantities(client: stripe.StripeClient, subscribed: Any) -> None:
    item = subscribed["items"].data[0]
    client.v1.subscriptions.update(subscribed.id, params={"items": [{"id": item.id, "quantity": 3}]})
    pending = client.v1.invoice_items.list(params={"customer": subscribed.customer, "pending": True}).data
    assert sorted((i.amount, i.quantity, i.description) for i in pending) == [
        (-1016, 1, "Unused time on 1 × Pro after 11 Jan 2026"),
        (3048, 3, "Remaining time on 3 × Pro after 11 Jan 2026"),
    ]


def test_none_changes_the_plan_without_prorations(client: stripe.StripeClient, subscribed: Any,
                                                  prices: tuple[Any, Any]) -> None:
    changed = _switch(client, subscribed, prices[1], proration_behavior="none")
    assert changed["items"].data[0].price.id == prices[1].id
    assert client.v1.invoice_items.list(params={"customer": subscribed.customer}).data == []
    client.v1.test_helpers.test_clocks.advance(subscribed.clock, params={"frozen_time": FEB_1 + 3600})
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(subscribed.id).latest_invoice)
    assert renewal.amount_paid == 4000


def test_billing_cycle_anchor_now_credits_unused_time_and_bills_a_new_period(
        client: stripe.StripeClient, subscribed: Any, prices: tuple[Any, Any]) -> None:
    changed = _switch(client, subscribed, prices[1], billing_cycle_anchor="now")
    assert (changed.billing_cycle_anchor, changed["items"].data[0].current_period_start) == (CHANGE, CHANGE)
    assert changed["items"].data[0].current_period_end == CHANGE + 31 * DAY  # Jan 11 → Feb 11
    invoice = client.v1.invoices.retrieve(changed.latest_invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_update", "paid", 2984)
    assert sorted((line.amount, line.proration) for line in invoice.lines.data) == [(-1016, True), (4000, False)]

    none = _switch(client, client.v1.subscriptions.retrieve(subscribed.id), prices[0], billing_cycle_anchor="now",
                   proration_behavior="none")
    assert [line.amount for line in client.v1.invoices.retrieve(none.latest_invoice).lines.data] == [1500]


def test_a_downgrade_credit_becomes_balance_that_pays_the_next_invoices(
        client: stripe.StripeClient, prices: tuple[Any, Any]) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa", "test_clock": clock.id})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": prices[1].id}]})
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": CHANGE})
    changed = _switch(client, sub, prices[0], proration_behavior="always_invoice")
    credit = client.v1.invoices.retrieve(changed.latest_invoice)
    assert (credit.total, credit.amount_due, credit.status, credit.ending_balance) == (-1694, 0, "paid", -1694)
    assert client.v1.customers.retrieve(customer.id).balance == -1694
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": FEB_1 + 3600})  # charged an hour later
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert (renewal.total, renewal.starting_balance, renewal.amount_due, renewal.status) == (1500, -1694, 0, "paid")
    assert client.v1.customers.retrieve(customer.id).balance == -194


def test_a_preview_shows_what_the_change_will_bill_and_changes_nothing(
        client: stripe.StripeClient, subscribed: Any, prices: tuple[Any, Any]) -> None:
    item = subscribed["items"].data[0]
    mark = _last_event(client)
    details = {"items": [{"id": item.id, "price": prices[1].id}], "proration_date": CHANGE}
    preview = client.v1.invoices.create_preview(params={"subscription": subscribed.id,
                                                        "subscription_details": details})
    assert preview.id.startswith("upcoming_") and preview.billing_reason == "upcoming"
    assert sorted(line.amount for line in preview.lines.data) == [-1016, 2710, 4000]
    assert preview.amount_due == 5694 and preview.lines.data[0].period.start == FEB_1
    assert _types_since(client, mark) == []
    assert client.v1.invoice_items.list(params={"customer": subscribed.customer}).data == []

    now = client.v1.invoices.create_preview(params={"subscription": subscribed.id, "subscription_details": {
        **details, "proration_behavior": "always_invoice"}})
    assert (now.billing_reason, now.amount_due) == ("subscription_update", 1694)
    plain = client.v1.invoices.create_preview(params={"subscription": subscribed.id})
    assert [line.amount for line in plain.lines.data] == [1500]

    _switch(client, subscribed, prices[1], proration_date=CHANGE)
    pending = client.v1.invoice_items.list(params={"customer": subscribed.customer, "pending": True}).data
    assert sorted(i.amount for i in pending) == [-1016, 2710]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.create_preview(params={"customer": subscribed.customer, "subscription": "sub_missing"})
    assert caught.value.param == "subscription"


def test_plan_change_options_are_checked(client: stripe.StripeClient, subscribed: Any,
                                         prices: tuple[Any, Any]) -> None:
    yearly = client.v1.prices.create(params={"product": prices[0].product, "unit_amount": 15000, "currency": "usd",
                                             "recurring": {"interval": "year"}})
    for params, param in (({"proration_behavior": "sometimes"}, "proration_behavior"),
                          ({"billing_cycle_anchor": "later"}, "billing_cycle_anchor"),
                          ({"proration_date": T0 - 1}, "proration_date")):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            _switch(client, subscribed, prices[1], **params)
        assert caught.value.param == param
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _switch(client, subscribed, yearly, billing_cycle_anchor="unchanged")
    assert caught.value.param == "billing_cycle_anchor"
    assert client.v1.subscriptions.retrieve(subscribed.id)["items"].data[0].price.id == prices[0].id
    assert client.v1.invoice_items.list().data == []

    yearly_sub = _switch(client, subscribed, yearly)  # a new interval restarts the cycle, as on Stripe
    assert yearly_sub.billing_cycle_anchor == CHANGE
    invoice = client.v1.invoices.retrieve(yearly_sub.latest_invoice)
    assert sorted(line.amount for line in invoice.lines.data) == [-1016, 15000]
