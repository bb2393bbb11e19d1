"""Payments: PaymentIntents behind invoices, charges, refunds, SetupIntents and Stripe's test cards.

The SDK's API version (2026-02-25.clover) has no ``invoice.payment_intent``: an invoice's payments
are ``invoice_payment`` objects (``expand[]=payments``), and its client secret is
``confirmation_secret`` (``expand[]=latest_invoice.confirmation_secret`` on a subscription).
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from conftest import attach

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
FEB_1 = 1_769_904_000


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def _subscribe(client: stripe.StripeClient, price: Any, card: str | None = "pm_card_visa", **params: Any) -> Any:
    customer = client.v1.customers.create(params={"payment_method": card} if card else {})
    return client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": price.id}],
        "expand": ["latest_invoice.payments", "latest_invoice.confirmation_secret"], **params})


def _intent_of(client: stripe.StripeClient, invoice: Any) -> Any:
    (payment,) = invoice.payments.data
    assert (payment.object, payment.payment.type, payment.invoice) == ("invoice_payment", "payment_intent", invoice.id)
    return client.v1.payment_intents.retrieve(payment.payment.payment_intent)


def test_a_paid_invoice_has_a_succeeded_payment_intent_and_charge(client: stripe.StripeClient,
                                                                    monthly_price: Any) -> None:
    sub = _subscribe(client, monthly_price)
    invoice = sub.latest_invoice
    assert "payment_intent" not in invoice  # gone since 2025-03-31.basil
    intent = _intent_of(client, invoice)
    assert (intent.status, intent.amount, intent.amount_received, intent.customer) == (
        "succeeded", 1500, 1500, sub.customer)
    assert invoice.payments.data[0].status == "paid" and invoice.payments.data[0].amount_paid == 1500
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.paid, charge.amount, charge.payment_intent) == ("succeeded", True, 1500, intent.id)
    assert charge.payment_method_details.card.last4 == "4242"
    assert [p.id for p in client.v1.invoice_payments.list(params={"invoice": invoice.id}).data] == [
        invoice.payments.data[0].id]
    assert [c.id for c in client.v1.charges.list(params={"customer": sub.customer}).data] == [charge.id]


@pytest.mark.parametrize("card, decline_code", [
    ("pm_card_chargeDeclined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
])
def test_declining_cards_are_refused_at_attach_and_decline_payments(client: stripe.StripeClient, card: str,
                                                                     decline_code: str) -> None:
    """Stripe checks a card when it is attached: the chargeDeclined cards fail there, nothing attached."""
    customer = client.v1.customers.create()
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.attach(card, params={"customer": customer.id})
    assert (caught.value.http_status, caught.value.code, caught.value.error.decline_code) == (
        402, "card_declined", decline_code)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.customers.create(params={"email": "refused@example.com", "payment_method": card})
    assert caught.value.error.decline_code == decline_code
    assert client.v1.customers.list(params={"email": "refused@example.com"}).data == []
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd", "customer": customer.id,
                                                 "payment_method": card, "confirm": True})
    intent = caught.value.error.payment_intent
    assert (intent.status, intent.last_payment_error.decline_code) == ("requires_payment_method", decline_code)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.outcome.reason, charge.failure_code) == ("failed", decline_code, "card_declined")


def test_a_card_that_fails_later_leaves_the_first_invoice_open(client: stripe.StripeClient,
                                                               monthly_price: Any) -> None:
    sub = _subscribe(client, monthly_price, "pm_card_chargeCustomerFail")
    assert sub.status == "incomplete" and sub.latest_invoice.status == "open"
    intent = _intent_of(client, sub.latest_invoice)
    assert intent.status == "requires_payment_method"
    assert (intent.last_payment_error.code, intent.last_payment_error.decline_code) == ("card_declined",
                                                                                        "generic_decline")
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.outcome.reason, charge.failure_code) == ("failed", "generic_decline",
                                                                           "card_declined")
    types = _types(client)
    assert types.index("charge.failed") < types.index("payment_intent.payment_failed") < types.index(
        "invoice.payment_failed")
    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(sub.latest_invoice.id)
    assert (caught.value.code, caught.value.error.decline_code) == ("card_declined", "generic_decline")


def test_customer_fail_attaches_but_declines_charges(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    pm = attach(client, customer.id, "pm_card_chargeCustomerFail")
    assert client.v1.payment_methods.retrieve(pm).card.last4 == "0341"
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd", "customer": customer.id,
                                                 "payment_method": pm, "confirm": True})
    assert caught.value.error.payment_intent.status == "requires_payment_method"
    assert "charge.failed" in _types(client)
    saved = client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd", "customer": customer.id,
                                                     "payment_method": "pm_card_visa", "confirm": True,
                                                     "setup_future_usage": "off_session"})
    assert saved.status == "succeeded" and saved.payment_method != "pm_card_visa"
    assert saved.payment_method in [p.id for p in client.v1.customers.payment_methods.list(customer.id).data]


def test_default_incomplete_hands_out_the_client_secret_and_confirming_activates(
        client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribe(client, monthly_price, None, payment_behavior="default_incomplete")
    assert sub.status == "incomplete"
    secret = sub.latest_invoice.confirmation_secret
    assert secret.type == "payment_intent" and "_secret_" in secret.client_secret
    intent_id = secret.client_secret.split("_secret_")[0]
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.amount, intent.client_secret) == ("requires_payment_method", 1500,
                                                                    secret.client_secret)
    assert "invoice.payment_failed" not in _types(client)

    confirmed = client.v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "paid"
    assert _types(client)[-5:] == ["charge.succeeded", "payment_intent.succeeded", "invoice.paid",
                                   "invoice.payment_succeeded", "customer.subscription.updated"]


@pytest.mark.parametrize("card", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired"])
def test_three_d_secure_cards_require_action(client: stripe.StripeClient, monthly_price: Any, card: str) -> None:
    sub = _subscribe(client, monthly_price, card)
    assert sub.status == "incomplete"
    intent = _intent_of(client, sub.latest_invoice)
    assert (intent.status, intent.next_action.type, intent.latest_charge) == ("requires_action", "use_stripe_sdk",
                                                                              None)
    types = _types(client)
    assert types.index("payment_intent.requires_action") < types.index("invoice.payment_action_required")
    assert "invoice.payment_failed" not in types
    # The customer picks another card on the page that handles the action.
    assert client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"}).status == (
        "succeeded")
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_renewal_needing_authentication_fails_off_session(client: stripe.StripeClient, monthly_price: Any) -> None:
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa", "test_clock": clock.id})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    pm = attach(client, customer.id, "pm_card_authenticationRequired")
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": pm}})
    client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": FEB_1 + 3600})  # charged an hour later
    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice.payments"]})
    assert renewed.status == "past_due"
    intent = _intent_of(client, renewed.latest_invoice)
    assert (intent.status, intent.last_payment_error.code) == ("requires_payment_method", "authentication_required")


def test_refunds_of_a_charge_or_payment_intent(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    pm = client.v1.customers.payment_methods.list(customer.id).data[0].id
    intent = client.v1.payment_intents.create(params={"amount": 5000, "currency": "usd", "customer": customer.id,
                                                      "payment_method": pm, "confirm": True})
    assert intent.status == "succeeded"
    partial = client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 1200,
                                               "reason": "requested_by_customer"})
    assert (partial.status, partial.amount, partial.payment_intent) == ("succeeded", 1200, intent.id)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded, charge.refunds.data[0].id) == (1200, False, partial.id)
    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 3800
    assert client.v1.charges.retrieve(intent.latest_charge).refunded is True
    assert _types(client)[-4:] == ["refund.created", "charge.refunded", "refund.created", "charge.refunded"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 1})
    assert caught.value.code == "amount_too_large"
    assert {r.id for r in client.v1.refunds.list(params={"payment_intent": intent.id}).data} == {partial.id, rest.id}


def test_setup_intents_save_cards_with_their_outcomes(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    setup = client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})
    assert (setup.status, setup.client_secret.startswith(setup.id)) == ("requires_payment_method", True)
    done = client.v1.setup_intents.confirm(setup.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.payment_method.startswith("pm_") and done.payment_method != (
        "pm_card_visa")
    assert [p.id for p in client.v1.customers.payment_methods.list(customer.id).data] == [done.payment_method]

    declined = client.v1.setup_intents.create(params={"customer": customer.id})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.setup_intents.confirm(declined.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert caught.value.error.setup_intent.status == "requires_payment_method"
    secure = client.v1.setup_intents.create(params={"customer": customer.id, "confirm": True,
                                                    "payment_method": "pm_card_threeDSecure2Required"})
    assert secure.status == "requires_action"
    types = [t for t in _types(client) if t.startswith("setup_intent.")]
    assert types == ["setup_intent.created", "setup_intent.succeeded", "setup_intent.created",
                     "setup_intent.setup_failed", "setup_intent.created", "setup_intent.requires_action"]


def test_voiding_an_invoice_cancels_its_payment_intent(client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribe(client, monthly_price, "pm_card_chargeCustomerFail")
    voided = client.v1.invoices.void_invoice(sub.latest_invoice.id)
    assert voided.status == "void"
    assert _intent_of(client, sub.latest_invoice).status == "canceled"
    assert "payment_intent.canceled" in _types(client)
