"""Test clocks: advancing time plays trials, renewals, failed payments and their retries."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import Admin, attach

DAY = 86400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FEB_1, MAR_1 = 1_769_904_000, 1_772_323_200
HOUR = 3600


@pytest.fixture
def clock(client: stripe.StripeClient) -> Any:
    return client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0, "name": "contract"})


def _advance(client: stripe.StripeClient, clock_id: str, to: int) -> None:
    answer = client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})
    assert answer.status in ("advancing", "ready")
    fetched = client.v1.test_helpers.test_clocks.retrieve(clock_id)
    assert (fetched.status, fetched.frozen_time) == ("ready", to)


def _events(client: stripe.StripeClient, sub_id: str) -> list[Any]:
    """Events about ``sub_id`` or its invoices, oldest first."""
    found = [
        e for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()
        if e.data.object.get("id") == sub_id or e.data.object.get("subscription") == sub_id
    ]
    return list(reversed(found))


def _subscribe(client: stripe.StripeClient, clock: Any, price: Any, pm: str | None = None, **params: Any) -> Any:
    customer_params: dict[str, Any] = {"email": "clock@example.com", "test_clock": clock.id}
    if pm:
        customer_params["payment_method"] = pm
    customer = client.v1.customers.create(params=customer_params)
    assert customer.test_clock == clock.id and customer.created == T0
    return client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}],
                                                  **params})


def test_clock_crud(client: stripe.StripeClient, clock: Any) -> None:
    assert clock.object == "test_helpers.test_clock" and clock.status == "ready" and clock.frozen_time == T0
    assert [c.id for c in client.v1.test_helpers.test_clocks.list().data] == [clock.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": T0 - 1})
    assert caught.value.param == "frozen_time"
    customer = client.v1.customers.create(params={"test_clock": clock.id})
    _advance(client, clock.id, T0 + DAY)
    assert [e.type for e in client.v1.events.list(params={"type": "test_helpers.test_clock.*"}).data] == [
        "test_helpers.test_clock.ready", "test_helpers.test_clock.advancing", "test_helpers.test_clock.created"]
    deleted = client.v1.test_helpers.test_clocks.delete(clock.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(customer.id).get("deleted") is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.retrieve(clock.id)


def test_trial_end_with_a_payment_method_becomes_active(client: stripe.StripeClient, clock: Any,
                                                        monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa", trial_period_days=14)
    assert sub.status == "trialing" and sub.trial_end == T0 + 14 * DAY
    _advance(client, clock.id, T0 + 12 * DAY)
    will_end = [e for e in _events(client, sub.id) if e.type == "customer.subscription.trial_will_end"]
    assert len(will_end) == 1 and will_end[0].created == T0 + 11 * DAY
    _advance(client, clock.id, T0 + 15 * DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert item.current_period_start == T0 + 14 * DAY
    updated = [e for e in _events(client, sub.id) if e.type == "customer.subscription.updated"]
    assert updated[-1].data.previous_attributes.status == "trialing"
    assert updated[-1].data.object.status == "active" and updated[-1].created == T0 + 14 * DAY
    paid = [e for e in _events(client, sub.id) if e.type == "invoice.paid"]
    assert [e.data.object.amount_paid for e in paid] == [0, 1500]


def test_renewals_pay_invoices_and_move_periods(client: stripe.StripeClient, clock: Any, monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa")
    assert sub.status == "active"
    assert (sub["items"].data[0].current_period_start, sub["items"].data[0].current_period_end) == (T0, FEB_1)
    _advance(client, clock.id, MAR_1 + DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert (sub["items"].data[0].current_period_start, sub["items"].data[0].current_period_end) == (
        MAR_1, 1_775_001_600)
    paid = [e for e in _events(client, sub.id) if e.type == "invoice.paid"]
    assert [e.created for e in paid] == [T0, FEB_1 + HOUR, MAR_1 + HOUR]  # renewals finalize an hour later
    assert [e.data.object.billing_reason for e in paid] == [
        "subscription_create", "subscription_cycle", "subscription_cycle"]
    renewals = client.v1.invoices.list(params={"subscription": sub.id})
    assert len(renewals.data) == 3 and all(i.status == "paid" for i in renewals.data)


def test_failed_renewal_goes_past_due_then_canceled_on_a_custom_schedule(
        client: stripe.StripeClient, admin: Admin, clock: Any, monthly_price: Any) -> None:
    admin.post("billing", {"retry_days": [3, 5, 7]})  # a custom retry schedule (the default: test_stripe_dunning)
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa")
    client.v1.customers.update(sub.customer, params={
        "invoice_settings": {"default_payment_method": attach(client, sub.customer, "pm_card_chargeCustomerFail")}})
    _advance(client, clock.id, FEB_1 + DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    types = [e.type for e in _events(client, sub.id)]
    assert types[-2:] == ["invoice.payment_failed", "customer.subscription.updated"]
    _advance(client, clock.id, FEB_1 + 20 * DAY)  # retries on days 3, 8 and 15 all fail
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.cancellation_details.reason == "payment_failed"
    events = _events(client, sub.id)
    assert [e.type for e in events].count("invoice.payment_failed") == 4
    assert events[-1].type == "customer.subscription.deleted" and events[-1].created == FEB_1 + HOUR + 15 * DAY


def test_past_due_recovers_when_the_card_is_fixed(client: stripe.StripeClient, clock: Any,
                                                  monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_chargeCustomerFail", trial_period_days=7)
    _advance(client, clock.id, T0 + 8 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    client.v1.customers.update(sub.customer, params={
        "invoice_settings": {"default_payment_method": attach(client, sub.customer, "pm_card_visa")}})
    _advance(client, clock.id, T0 + 12 * DAY)  # the next retry (a day after the failure) succeeds
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert [e.type for e in _events(client, sub.id)][-3:] == [
        "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]


def test_final_action_unpaid(client: stripe.StripeClient, admin: Admin, clock: Any, monthly_price: Any) -> None:
    admin.post("billing", {"retry_days": [1], "final_action": "unpaid"})
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa")
    client.v1.subscriptions.update(sub.id, params={
        "default_payment_method": attach(client, sub.customer, "pm_card_chargeCustomerFail")})
    _advance(client, clock.id, FEB_1 + 2 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "unpaid"


def test_trial_end_without_payment_method_pauses_then_resumes(client: stripe.StripeClient, clock: Any,
                                                              monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, trial_period_days=7,
                     trial_settings={"end_behavior": {"missing_payment_method": "pause"}})
    _advance(client, clock.id, T0 + 8 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "paused"
    assert [e.type for e in _events(client, sub.id)][-2:] == [
        "customer.subscription.updated", "customer.subscription.paused"]
    client.v1.customers.update(sub.customer, params={
        "invoice_settings": {"default_payment_method": attach(client, sub.customer, "pm_card_visa")}})
    resumed = client.v1.subscriptions.resume(sub.id)
    assert resumed.status == "active"
    assert resumed["items"].data[0].current_period_start == T0 + 8 * DAY
    assert "customer.subscription.resumed" in [e.type for e in _events(client, sub.id)]


@pytest.mark.parametrize("behavior,status", [("cancel", "canceled"), ("create_invoice", "past_due")])
def test_trial_end_without_payment_method_other_behaviors(client: stripe.StripeClient, clock: Any,
                                                          monthly_price: Any, behavior: str, status: str) -> None:
    sub = _subscribe(client, clock, monthly_price, trial_period_days=7,
                     trial_settings={"end_behavior": {"missing_payment_method": behavior}})
    _advance(client, clock.id, T0 + 8 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == status


def test_cancel_at_period_end_cancels_at_renewal(client: stripe.StripeClient, clock: Any,
                                                 monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa", cancel_at_period_end=True)
    _advance(client, clock.id, FEB_1 + DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == FEB_1
    assert [e.type for e in _events(client, sub.id)][-1] == "customer.subscription.deleted"
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 1


def test_incomplete_expires_after_23_hours(client: stripe.StripeClient, clock: Any, monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_chargeCustomerFail")
    assert sub.status == "incomplete"
    _advance(client, clock.id, T0 + DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete_expired"
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "void"


def test_paused_collection_voids_renewal_invoices(client: stripe.StripeClient, clock: Any,
                                                  monthly_price: Any) -> None:
    sub = _subscribe(client, clock, monthly_price, "pm_card_visa")
    client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "void"}})
    _advance(client, clock.id, FEB_1 + DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "void"


def test_emulator_time_renews_subscriptions_without_a_clock(client: stripe.StripeClient, admin: Admin,
                                                            monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    period_end = sub["items"].data[0].current_period_end
    steps = admin.post("clock", {"advance_seconds": 32 * DAY})["steps"]
    assert steps == 3  # invoice.upcoming, the renewal's draft, its finalization an hour later
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed["items"].data[0].current_period_start == period_end and renewed.status == "active"
