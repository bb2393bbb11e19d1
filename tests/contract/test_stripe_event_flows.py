"""Events per action: the event types each billing flow emits, in the order the emulator emits them.

Stripe's "Using webhooks with subscriptions" page lists the events of each flow but promises no
order (and delivers out of order); the order held here is the order the objects change in, the
order a Stripe CLI capture shows for a Checkout. Each list is the whole flow: an event added,
dropped or moved fails its test. ``created`` is the moment each step is due (the test clock's time).
"""

from __future__ import annotations

from typing import Any

import stripe

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FEB_1 = 1_769_904_000
DAY, HOUR = 86400, 3600

PAYMENT = ["payment_intent.created", "invoice.finalized", "charge.succeeded", "payment_intent.succeeded"]
PAID = ["invoice.paid", "invoice.payment_succeeded"]


class Flow:
    """Events since the last ``take()``, oldest first, without the test clock's own."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.seen: set[str] = set()

    def take(self) -> list[tuple[str, int]]:
        events = [e for e in self.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
                  if e.id not in self.seen]
        self.seen |= {e.id for e in events}
        return [(e.type, e.created) for e in reversed(events) if not e.type.startswith("test_helpers.")]

    def types(self) -> list[str]:
        return [t for t, _ in self.take()]


def _setup(client: stripe.StripeClient, card: str = "pm_card_visa") -> tuple[Any, Any, Flow]:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"payment_method": card, "test_clock": clock.id})
    flow = Flow(client)
    flow.take()
    return clock, customer, flow


def _advance(client: stripe.StripeClient, clock: Any, to: int) -> None:
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})


def test_subscription_create_paid(client: stripe.StripeClient, monthly_price: Any) -> None:
    _, customer, flow = _setup(client)
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    assert flow.types() == ["customer.subscription.created", "invoice.created", *PAYMENT, *PAID]


def test_subscription_create_trialing(client: stripe.StripeClient, monthly_price: Any) -> None:
    _, customer, flow = _setup(client)
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                           "trial_period_days": 14})
    assert flow.types() == ["customer.subscription.created", "invoice.created", "invoice.finalized", *PAID]


def test_trial_end(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock, customer, flow = _setup(client)
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                           "trial_period_days": 14})
    flow.take()
    _advance(client, clock, T0 + 15 * DAY)
    assert flow.take() == [
        ("customer.subscription.trial_will_end", T0 + 11 * DAY),
        ("invoice.created", T0 + 14 * DAY), ("customer.subscription.updated", T0 + 14 * DAY),
        *((t, T0 + 14 * DAY + HOUR) for t in [*PAYMENT, *PAID])]


def test_renewal(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock, customer, flow = _setup(client)
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    flow.take()
    _advance(client, clock, FEB_1 + DAY)
    assert flow.take() == [
        ("invoice.upcoming", FEB_1 - 3 * DAY),
        ("invoice.created", FEB_1), ("customer.subscription.updated", FEB_1),
        *((t, FEB_1 + HOUR) for t in [*PAYMENT, *PAID])]


def test_failed_renewal_payment(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock, customer, flow = _setup(client, "pm_card_chargeCustomerFail")
    client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                           "trial_period_days": 31})
    flow.take()
    _advance(client, clock, FEB_1 + DAY)
    failed = ["payment_intent.created", "invoice.finalized", "charge.failed", "payment_intent.payment_failed",
              "invoice.updated", "invoice.payment_failed", "customer.subscription.updated"]
    assert flow.take() == [
        ("customer.subscription.trial_will_end", FEB_1 - 3 * DAY),
        ("invoice.created", FEB_1), ("customer.subscription.updated", FEB_1),
        *((t, FEB_1 + HOUR) for t in failed)]


def test_checkout_completion(client: stripe.StripeClient, monthly_price: Any) -> None:
    flow = Flow(client)
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "line_items": [{"price": monthly_price.id}], "success_url": "https://e.com/ok",
        "customer_email": "new@example.com"})
    flow.take()
    client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session.id}/complete")
    assert flow.types() == ["customer.created", "customer.subscription.created", "invoice.created", *PAYMENT,
                            "customer.subscription.updated", *PAID, "checkout.session.completed"]
