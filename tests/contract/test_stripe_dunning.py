"""Dunning as Stripe runs it: the renewal draft's hour, ``invoice.upcoming`` before a renewal,
``invoice.updated`` on each failed attempt and the retry schedule (Smart Retries' recommended
"8 tries within 2 weeks" by default, a custom schedule on request)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import Admin, attach

DAY, HOUR = 86400, 3600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FEB_1 = 1_769_904_000


@pytest.fixture
def subscribed(client: stripe.StripeClient, monthly_price: Any) -> tuple[Any, Any]:
    """(test clock, subscription) renewing on FEB_1, the customer's card declining every charge from now on."""
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"test_clock": clock.id, "payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    failing = attach(client, customer.id, "pm_card_chargeCustomerFail")
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": failing}})
    return clock, sub


def _advance(client: stripe.StripeClient, clock: Any, to: int) -> None:
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})


def _renewal_events(client: stripe.StripeClient, sub_id: str, types: set[str]) -> list[Any]:
    found = [e for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()
             if e.type in types and e.data.object.get("billing_reason") in ("subscription_cycle", "upcoming")
             and e.data.object.get("subscription") == sub_id]
    return found[::-1]


def test_the_renewal_invoice_stays_draft_for_an_hour(client: stripe.StripeClient, subscribed: tuple[Any, Any],
                                                     admin: Admin) -> None:
    clock, sub = subscribed
    client.v1.customers.update(sub.customer, params={"invoice_settings": {
        "default_payment_method": attach(client, sub.customer, "pm_card_visa")}})
    _advance(client, clock, FEB_1 + 59 * 60)
    (draft,) = client.v1.invoices.list(params={"subscription": sub.id, "status": "draft"}).data
    assert (draft.billing_reason, draft.automatically_finalizes_at, draft.attempt_count) == (
        "subscription_cycle", FEB_1 + HOUR, 0)
    _advance(client, clock, FEB_1 + HOUR)
    assert client.v1.invoices.retrieve(draft.id).status == "paid"


def test_invoice_upcoming_comes_three_days_before_by_default_and_as_configured(
        client: stripe.StripeClient, subscribed: tuple[Any, Any], admin: Admin) -> None:
    clock, sub = subscribed
    _advance(client, clock, FEB_1 - 3 * DAY - 1)
    assert _renewal_events(client, sub.id, {"invoice.upcoming"}) == []
    _advance(client, clock, FEB_1 - 3 * DAY)
    (upcoming,) = _renewal_events(client, sub.id, {"invoice.upcoming"})
    assert upcoming.created == FEB_1 - 3 * DAY and "id" not in upcoming.data.object
    assert upcoming.data.object.amount_due == 1500
    admin.post("billing", {"upcoming_days": 7})
    _advance(client, clock, FEB_1 + 2 * DAY)
    client.v1.customers.update(sub.customer, params={"invoice_settings": {
        "default_payment_method": attach(client, sub.customer, "pm_card_visa")}})
    _advance(client, clock, FEB_1 + 28 * DAY)  # the next period ends on March 1: notice on February 22
    notices = [e.created for e in _renewal_events(client, sub.id, {"invoice.upcoming"})]
    assert notices == [FEB_1 - 3 * DAY, FEB_1 + 21 * DAY]


def test_failed_attempts_follow_the_smart_retries_default_with_invoice_updated_each_time(
        client: stripe.StripeClient, subscribed: tuple[Any, Any]) -> None:
    clock, sub = subscribed
    _advance(client, clock, FEB_1 + 20 * DAY)
    first = FEB_1 + HOUR
    tries = [first + days * DAY for days in (0, 1, 2, 4, 6, 8, 11, 14)]  # 8 tries within 2 weeks
    failed = _renewal_events(client, sub.id, {"invoice.payment_failed"})
    assert [e.created for e in failed] == tries
    updated = _renewal_events(client, sub.id, {"invoice.updated"})
    attempts = [e for e in updated if "attempt_count" in e.data.previous_attributes]
    assert [e.created for e in attempts] == tries
    assert [(e.data.previous_attributes.attempt_count, e.data.object.attempt_count) for e in attempts] == [
        (n, n + 1) for n in range(8)]
    assert [e.data.object.next_payment_attempt for e in attempts] == [*tries[1:], None]
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at, ended.cancellation_details.reason) == ("canceled", tries[-1],
                                                                                   "payment_failed")


def test_the_retry_schedule_and_final_action_are_configurable(client: stripe.StripeClient, admin: Admin,
                                                              subscribed: tuple[Any, Any]) -> None:
    admin.post("billing", {"retry_days": [2, 4], "final_action": "unpaid"})
    clock, sub = subscribed
    _advance(client, clock, FEB_1 + 10 * DAY)
    first = FEB_1 + HOUR
    assert [e.created for e in _renewal_events(client, sub.id, {"invoice.payment_failed"})] == [
        first, first + 2 * DAY, first + 6 * DAY]
    assert client.v1.subscriptions.retrieve(sub.id).status == "unpaid"
