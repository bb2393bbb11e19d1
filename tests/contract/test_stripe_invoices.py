"""One-off invoices and invoice items: drafts, lines, finalize, pay, void, uncollectible, auto_advance."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


@pytest.fixture
def customer(client: stripe.StripeClient) -> Any:
    return client.v1.customers.create(params={"email": "bill@example.com", "payment_method": "pm_card_visa"})


def _item(client: stripe.StripeClient, customer_id: str, amount: int = 2500, **params: Any) -> Any:
    return client.v1.invoice_items.create(params={"customer": customer_id, "amount": amount, "currency": "usd",
                                                  "description": "Setup fee", **params})


def test_pending_items_join_an_invoice_only_when_asked(client: stripe.StripeClient, customer: Any) -> None:
    item = _item(client, customer.id)
    assert (item.object, item.invoice, item.amount, item.proration) == ("invoiceitem", None, 2500, False)
    excluded = client.v1.invoices.create(params={"customer": customer.id})  # exclude: the default since 2022
    assert (excluded.status, excluded.total, excluded.lines.data, excluded.auto_advance) == ("draft", 0, [], False)
    assert client.v1.invoice_items.retrieve(item.id).invoice is None

    invoice = client.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include",
                                                "description": "January services"})
    assert (invoice.status, invoice.total, invoice.amount_due, invoice.billing_reason) == ("draft", 2500, 2500,
                                                                                          "manual")
    (line,) = invoice.lines.data
    assert (line.amount, line.description, line.parent.invoice_item_details.invoice_item) == (2500, "Setup fee",
                                                                                            item.id)
    assert client.v1.invoice_items.retrieve(item.id).invoice == invoice.id
    assert client.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data == []
    assert _types(client) == ["customer.created", "invoiceitem.created", "invoice.created", "invoice.created"]


def test_a_draft_takes_items_changes_and_removals(client: stripe.StripeClient, customer: Any) -> None:
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    first = _item(client, customer.id, invoice=invoice.id)
    second = client.v1.invoice_items.create(params={"customer": customer.id, "invoice": invoice.id,
                                                    "unit_amount": 700, "quantity": 2, "currency": "usd"})
    assert client.v1.invoices.retrieve(invoice.id).total == 3900
    client.v1.invoice_items.update(second.id, params={"quantity": 3})
    assert client.v1.invoices.retrieve(invoice.id).total == 4600
    assert client.v1.invoice_items.delete(first.id).deleted is True
    refreshed = client.v1.invoices.retrieve(invoice.id)
    assert (refreshed.total, [line.amount for line in refreshed.lines.data]) == (2100, [2100])
    assert "invoiceitem.deleted" in _types(client)

    assert client.v1.invoices.delete(invoice.id).deleted is True  # drafts only; its items are pending again
    assert client.v1.invoice_items.retrieve(second.id).invoice is None
    assert client.v1.invoices.retrieve(invoice.id).deleted is True


def test_lines_are_listed_and_paged(client: stripe.StripeClient, customer: Any) -> None:
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    for amount in (100, 200, 300):
        _item(client, customer.id, amount, invoice=invoice.id)
    first = client.v1.invoices.line_items.list(invoice.id, params={"limit": 2})
    assert ([line.amount for line in first.data], first.has_more) == ([100, 200], True)
    rest = client.v1.invoices.line_items.list(invoice.id, params={"limit": 2, "starting_after": first.data[-1].id})
    assert [line.amount for line in rest.data] == [300]
    assert first.url == f"/v1/invoices/{invoice.id}/lines"


def test_finalize_then_pay(client: stripe.StripeClient, customer: Any) -> None:
    item = _item(client, customer.id)
    invoice = client.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    opened = client.v1.invoices.finalize_invoice(invoice.id)
    assert (opened.status, opened.amount_due, opened.number is not None) == ("open", 2500, True)
    assert opened.status_transitions.finalized_at is not None and opened.hosted_invoice_url
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_items.delete(item.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.update(invoice.id, params={"collection_method": "send_invoice"})
    assert caught.value.param == "collection_method"
    paid = client.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 2500, 0)
    types = [t for t in _types(client) if t.startswith("invoice")]
    assert types == ["invoiceitem.created", "invoice.created", "invoice.finalized", "invoice.paid",
                     "invoice.payment_succeeded"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(invoice.id)


def test_void_and_mark_uncollectible(client: stripe.StripeClient, customer: Any) -> None:
    ids = []
    for _ in range(2):
        _item(client, customer.id)
        invoice = client.v1.invoices.create(params={"customer": customer.id,
                                                    "pending_invoice_items_behavior": "include"})
        ids.append(client.v1.invoices.finalize_invoice(invoice.id).id)
    voided = client.v1.invoices.void_invoice(ids[0])
    assert (voided.status, voided.status_transitions.voided_at is not None) == ("void", True)
    lost = client.v1.invoices.mark_uncollectible(ids[1])
    assert lost.status == "uncollectible"
    assert [t for t in _types(client) if t in ("invoice.voided", "invoice.marked_uncollectible")] == [
        "invoice.voided", "invoice.marked_uncollectible"]
    assert client.v1.invoices.pay(ids[1]).status == "paid"  # an uncollectible invoice can still be paid


def test_a_declined_card_fails_the_payment(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_chargeCustomerFail"})
    _item(client, customer.id)
    invoice = client.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(invoice.id)  # pay finalizes a draft first
    assert caught.value.code == "card_declined"
    again = client.v1.invoices.retrieve(invoice.id)
    assert (again.status, again.attempt_count, again.attempted) == ("open", 1, True)
    assert "invoice.payment_failed" in _types(client)


def test_auto_advance_finalizes_an_hour_later_and_charges(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa", "test_clock": clock.id})
    _item(client, customer.id)
    invoice = client.v1.invoices.create(params={"customer": customer.id, "auto_advance": True,
                                                "pending_invoice_items_behavior": "include"})
    assert invoice.automatically_finalizes_at == T0 + HOUR
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": T0 + HOUR - 1})
    assert client.v1.invoices.retrieve(invoice.id).status == "draft"
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": T0 + 2 * HOUR})
    done = client.v1.invoices.retrieve(invoice.id)
    assert (done.status, done.status_transitions.finalized_at, done.status_transitions.paid_at) == (
        "paid", T0 + HOUR, T0 + HOUR)

    stopped = client.v1.invoices.create(params={"customer": customer.id, "auto_advance": True,
                                                "metadata": {"k": "v"}})
    updated = client.v1.invoices.update(stopped.id, params={"auto_advance": False})
    assert (updated.auto_advance, updated.automatically_finalizes_at) == (False, None)
    assert _types(client)[-1] == "invoice.updated"


def test_send_invoice_gets_a_due_date_and_waits_for_payment(client: stripe.StripeClient, customer: Any) -> None:
    _item(client, customer.id)
    invoice = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice",
                                                "days_until_due": 14, "pending_invoice_items_behavior": "include"})
    opened = client.v1.invoices.finalize_invoice(invoice.id)
    assert opened.due_date == opened.status_transitions.finalized_at + 14 * 86400
    assert opened.status == "open" and opened.next_payment_attempt is None
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.create(params={"customer": customer.id, "days_until_due": 3})
    assert caught.value.param == "days_until_due"
