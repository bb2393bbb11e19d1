"""PaymentIntents, charges, refunds, and the invoice payments that tie them to invoices.

A finalized invoice with an amount due that is charged automatically gets a PaymentIntent
(``payment_intent.created``). Each payment attempt confirms it with a payment method, with the test
card's documented outcome (``payment_methods.outcome``): a charge that succeeds (``charge.succeeded``,
``payment_intent.succeeded``) or fails (``charge.failed``, ``payment_intent.payment_failed``, the PI
back to ``requires_payment_method`` with ``last_payment_error``), or 3-D Secure
(``payment_intent.requires_action``, no charge). For the SDK's API version (2025-03-31.basil and
later) an invoice names its PaymentIntent through ``payments`` (``invoice_payment`` objects,
``expand[]=payments``) and hands the client secret out as ``confirmation_secret``
(``expand[]=latest_invoice.confirmation_secret`` on a subscription); the old ``payment_intent``
field is gone. Confirming an invoice's PaymentIntent through the API pays the invoice.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import card_error, invalid_request, missing_param
from ..events import emit
from ..forms import as_bool, as_int, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import EXTRA_EXPANSIONS, RENDERERS, render
from ..state import EmulatorState
from ..store import new_id, public
from .clock_time import clock_now, customer_now
from .payment_methods import Outcome, attach_param, check_payment_method, customers_own, outcome, payment_method_object

PI, CHARGE, REFUND, INVOICE_PAYMENT = "payment_intent", "charge", "refund", "invoice_payment"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def new_intent(call: Call, *, amount: int, currency: str, customer_id: str | None, now: int,
               description: str | None = None, metadata: dict[str, str] | None = None,
               setup_future_usage: str | None = None, invoice_id: str | None = None) -> dict[str, Any]:
    pi_id = new_id("pi")
    intent = {
        "id": pi_id, "object": PI, "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": 0, "application": None, "application_fee_amount": None,
        "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
        "capture_method": "automatic", "client_secret": f"{pi_id}_secret_{secrets.token_urlsafe(18)}",
        "confirmation_method": "automatic", "created": now, "currency": currency, "customer": customer_id,
        "customer_account": None, "description": description, "excluded_payment_method_types": None,
        "last_payment_error": None, "latest_charge": None, "livemode": False, "managed_payments": None,
        "metadata": dict(metadata or {}), "next_action": None, "on_behalf_of": None, "payment_method": None,
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "processing": None, "receipt_email": None, "review": None,
        "setup_future_usage": setup_future_usage, "shipping": None, "source": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "requires_payment_method", "transfer_data": None,
        "transfer_group": None, "_invoice": invoice_id,
    }
    call.state.store.put(PI, intent)
    emit(call, "payment_intent.created", PI, intent, created=now)
    return intent


def _card_details(call: Call, pm_id: str) -> dict[str, Any]:
    record = call.state.store.get("payment_method", pm_id)
    card = (record or {}).get("card") or {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034,
                                          "fingerprint": None, "funding": "credit", "country": "US"}
    return {"card": {"amount_authorized": None, "brand": card["brand"], "checks": None, "country": card["country"],
                     "exp_month": card["exp_month"], "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
                     "funding": card["funding"], "last4": card["last4"], "network": card["brand"],
                     "three_d_secure": None, "wallet": None},
            "type": "card"}


def _charge(call: Call, intent: dict[str, Any], pm_id: str, result: Outcome, now: int) -> dict[str, Any]:
    ok = result.kind == "ok"
    charge_id = new_id("ch")
    charge = {
        "id": charge_id, "object": CHARGE, "amount": intent["amount"], "amount_captured": intent["amount"] if ok else 0,
        "amount_refunded": 0, "application": None, "application_fee": None, "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": {"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        "calculated_statement_descriptor": "STRIPE EMULATOR", "captured": ok, "created": now,
        "currency": intent["currency"], "customer": intent["customer"], "description": intent["description"],
        "disputed": False, "failure_balance_transaction": None,
        "failure_code": None if ok else result.code, "failure_message": None if ok else result.message,
        "fraud_details": {}, "livemode": False, "metadata": dict(intent["metadata"]), "on_behalf_of": None,
        "outcome": {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                    "network_status": "approved_by_network" if ok else "declined_by_network",
                    "reason": None if ok else result.decline_code, "risk_level": "normal",
                    "seller_message": "Payment complete." if ok else "The bank did not return any further details "
                    "with this decline.", "type": "authorized" if ok else "issuer_declined"},
        "paid": ok, "payment_intent": intent["id"], "payment_method": pm_id,
        "payment_method_details": _card_details(call, pm_id), "receipt_email": None, "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/emulator/{charge_id}", "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                    "url": f"/v1/charges/{charge_id}/refunds"},
        "review": None, "shipping": None, "source": None, "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "succeeded" if ok else "failed", "transfer_data": None,
        "transfer_group": None,
    }
    call.state.store.put(CHARGE, charge)
    emit(call, "charge.succeeded" if ok else "charge.failed", CHARGE, charge, created=now)
    return charge


def attempt(call: Call, intent: dict[str, Any], pm_id: str, now: int, *, off_session: bool = False) -> Outcome:
    """Confirm ``intent`` with ``pm_id``: the card's outcome, with its charge and events."""
    result = outcome(call.state, pm_id)
    intent.update(payment_method=pm_id, next_action=None, last_payment_error=None)
    if result.kind == "action" and not off_session:
        intent.update(status="requires_action", next_action={
            "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                                         "stripe_js": f"https://hooks.stripe.com/3d_secure_2/"
                                                                      f"emulator/{intent['id']}"}})
        emit(call, "payment_intent.requires_action", PI, intent, created=now)
        return result
    if result.kind == "action":  # off session nobody can authenticate: Stripe fails the payment
        intent.update(status="requires_payment_method", last_payment_error=_error(call, result, pm_id))
        emit(call, "payment_intent.payment_failed", PI, intent, created=now)
        return result
    charge = _charge(call, intent, pm_id, result, now)
    intent["latest_charge"] = charge["id"]
    if result.kind == "ok":
        intent.update(status="succeeded", amount_received=intent["amount"])
        emit(call, "payment_intent.succeeded", PI, intent, created=now)
    else:
        intent.update(status="requires_payment_method", last_payment_error={**_error(call, result, pm_id),
                                                                             "charge": charge["id"]})
        emit(call, "payment_intent.payment_failed", PI, intent, created=now)
    return result


def _error(call: Call, result: Outcome, pm_id: str) -> dict[str, Any]:
    return {"type": "card_error", "code": result.code, "decline_code": result.decline_code,
            "message": result.message, "payment_method": payment_method_object(call, pm_id)}


# --- invoices -----------------------------------------------------------------------------------


def intent_for_invoice(call: Call, invoice: dict[str, Any], now: int) -> dict[str, Any]:
    """The invoice's PaymentIntent (made on first need) and its ``invoice_payment``."""
    existing = call.state.store.get(PI, invoice.get("_payment_intent") or "")
    if existing is not None and existing["status"] not in ("succeeded", "canceled"):
        existing["amount"] = invoice["amount_remaining"] or existing["amount"]
        return existing
    description = {"subscription_create": "Subscription creation", "subscription_cycle": "Subscription update",
                   "subscription_update": "Subscription update"}.get(invoice["billing_reason"])
    intent = new_intent(call, amount=invoice["amount_remaining"], currency=invoice["currency"],
                        customer_id=invoice["customer"], now=now, description=description, invoice_id=invoice["id"])
    invoice["_payment_intent"] = intent["id"]
    payment = {"id": new_id("inpay"), "object": INVOICE_PAYMENT, "amount_paid": None,
               "amount_requested": intent["amount"], "created": now, "currency": intent["currency"],
               "invoice": invoice["id"], "is_default": True, "livemode": False,
               "payment": {"type": "payment_intent", "payment_intent": intent["id"]}, "status": "open",
               "status_transitions": {"canceled_at": None, "paid_at": None}}
    call.state.store.put(INVOICE_PAYMENT, payment)
    invoice.setdefault("_payments", []).append(payment["id"])
    return intent


def pay_invoice(call: Call, invoice: dict[str, Any], pm_id: str, now: int) -> Outcome:
    """One payment attempt of an invoice through its PaymentIntent (off session: renewals and retries)."""
    intent = intent_for_invoice(call, invoice, now)
    result = attempt(call, intent, pm_id, now, off_session=invoice["billing_reason"] == "subscription_cycle")
    if result.kind == "ok":
        _invoice_payment_paid(call, invoice, intent, now)
    return result


def _invoice_payment_paid(call: Call, invoice: dict[str, Any], intent: dict[str, Any], now: int) -> None:
    for payment_id in invoice.get("_payments", []):
        payment = call.state.store.get(INVOICE_PAYMENT, payment_id)
        if payment is not None and payment["payment"]["payment_intent"] == intent["id"]:
            payment.update(status="paid", amount_paid=intent["amount"])
            payment["status_transitions"]["paid_at"] = now


def cancel_invoice_intent(call: Call, invoice: dict[str, Any], now: int) -> None:
    """A voided invoice cancels its open PaymentIntent (``payment_intent.canceled``)."""
    intent = call.state.store.get(PI, invoice.get("_payment_intent") or "")
    if intent is not None and intent["status"] not in ("succeeded", "canceled"):
        intent.update(status="canceled", canceled_at=now, cancellation_reason="void_invoice", next_action=None)
        emit(call, "payment_intent.canceled", PI, intent, created=now)


def _payments_of(state: EmulatorState, invoice: dict[str, Any]) -> dict[str, Any]:
    rows = [public(p) for p in (state.store.get(INVOICE_PAYMENT, i) for i in invoice.get("_payments", [])) if p]
    return {"object": "list", "data": rows, "has_more": False, "total_count": len(rows),
            "url": f"/v1/invoice_payments?invoice={invoice['id']}"}


def _confirmation_secret(state: EmulatorState, invoice: dict[str, Any]) -> dict[str, Any] | None:
    stored = state.store.get("invoice", invoice["id"]) or {}
    intent = state.store.get(PI, stored.get("_payment_intent") or "")
    return None if intent is None else {"client_secret": intent["client_secret"], "type": "payment_intent"}


def _payments_expanded(state: EmulatorState, invoice: dict[str, Any]) -> dict[str, Any]:
    return _payments_of(state, state.store.get("invoice", invoice["id"]) or invoice)


EXTRA_EXPANSIONS[("invoice", "payments")] = _payments_expanded
EXTRA_EXPANSIONS[("invoice", "confirmation_secret")] = _confirmation_secret


# --- API: PaymentIntents ------------------------------------------------------------------------


def _now_for(call: Call, customer_id: str | None) -> int:
    customer = call.state.store.get("customer", customer_id) if customer_id else None
    return clock_now(call.state, (customer or {}).get("test_clock"))


def _confirm(call: Call, intent: dict[str, Any], pm_value: Any, off_session: bool) -> None:
    """Confirm through the API: an invoice's PaymentIntent that succeeds pays its invoice; a decline is a 402."""
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid_request(f"This PaymentIntent's status is {intent['status']}; it cannot be confirmed.",
                              code="payment_intent_unexpected_state")
    pm_value = pm_value or intent["payment_method"]
    if not pm_value:
        raise invalid_request("You cannot confirm this PaymentIntent because it's missing a payment method.",
                              code="payment_intent_unexpected_state")
    customer = call.state.store.get("customer", intent["customer"]) if intent["customer"] else None
    if customer is not None and isinstance(pm_value, str) and not pm_value.startswith("pm_card_"):
        pm_id = customers_own(call, customer, pm_value, "payment_method")
    else:
        pm_id = check_payment_method(call, pm_value, "payment_method")
    now = _now_for(call, intent["customer"])
    result = attempt(call, intent, pm_id, now, off_session=off_session)
    if result.kind == "ok" and customer is not None and intent["setup_future_usage"]:
        intent["payment_method"] = attach_param(call, customer, pm_id, "payment_method")  # saved for later
    invoice = call.state.store.get("invoice", intent["_invoice"] or "")
    if invoice is not None:
        _settle_invoice(call, invoice, intent, result, now)
    if result.kind == "declined" or (result.kind == "action" and off_session):
        raise card_error(str(result.code), result.message, decline_code=result.decline_code, param="payment_method",
                         extra={"payment_intent": render(call.state, PI, intent)})


def _settle_invoice(call: Call, invoice: dict[str, Any], intent: dict[str, Any], result: Outcome, now: int) -> None:
    from . import billing, invoices  # both build on this module

    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    sub = call.state.store.get("subscription", invoice["subscription"] or "")
    if result.kind == "ok":
        _invoice_payment_paid(call, invoice, intent, now)
        invoices.mark_paid(call, invoice, now)
        if sub is not None:
            billing.after_invoice_paid(call, sub, invoice, now)
    elif result.kind == "action":
        emit(call, "invoice.payment_action_required", "invoice", invoice, created=now)
    else:
        emit(call, "invoice.payment_failed", "invoice", invoice, created=now)


# Not implemented, so refused: application_fee_amount, automatic_payment_methods, capture_method,
# confirmation_method, mandate*, on_behalf_of, payment_method_data, payment_method_options, radar_options,
# receipt_email, return_url, shipping, statement_descriptor*, transfer_*.
@accepts("amount", "currency", "customer", "payment_method", "confirm", "description", "metadata",
         "setup_future_usage", "off_session", "payment_method_types")
def create_intent(call: Call) -> dict[str, Any]:
    params = call.params
    for name in ("amount", "currency"):
        if name not in params:
            raise missing_param(name)
    amount = as_int(params["amount"], "amount", minimum=50)
    if params.get("payment_method_types") not in (None, ["card"], "card"):
        raise invalid_request("The Stripe emulator only has card payment methods.", param="payment_method_types")
    customer = referenced(call, "customer", params["customer"], "customer") if params.get("customer") else None
    usage = blank_to_none(params.get("setup_future_usage"))
    if usage not in (None, "on_session", "off_session"):
        raise invalid_request("Invalid setup_future_usage: must be one of on_session or off_session",
                              param="setup_future_usage")
    now = customer_now(call.state, customer) if customer else call.now()
    intent = new_intent(call, amount=amount, currency=str(params["currency"]).lower(),
                        customer_id=customer["id"] if customer else None, now=now,
                        description=blank_to_none(params.get("description")),
                        metadata=merge_metadata({}, params.get("metadata", {})), setup_future_usage=usage)
    if params.get("payment_method"):
        pm = params["payment_method"]
        intent["payment_method"] = (customers_own(call, customer, pm, "payment_method")
                                    if customer and not str(pm).startswith("pm_card_")
                                    else check_payment_method(call, pm, "payment_method"))
        intent["status"] = "requires_confirmation"
    if as_bool(params.get("confirm", "false"), "confirm"):
        _confirm(call, intent, None, as_bool(params.get("off_session", "false"), "off_session"))
    elif "off_session" in params:
        raise invalid_request("off_session can only be used with confirm=true.", param="off_session")
    return render(call.state, PI, intent)


@accepts()
def retrieve_intent(call: Call, pi_id: str) -> dict[str, Any]:
    return render(call.state, PI, get_or_404(call, PI, pi_id))


@accepts("payment_method", "off_session")
def confirm_intent(call: Call, pi_id: str) -> dict[str, Any]:
    intent = get_or_404(call, PI, pi_id)
    _confirm(call, intent, call.params.get("payment_method"),
             as_bool(call.params.get("off_session", "false"), "off_session"))
    return render(call.state, PI, intent)


@accepts("cancellation_reason")
def cancel_intent(call: Call, pi_id: str) -> dict[str, Any]:
    intent = get_or_404(call, PI, pi_id)
    if intent["status"] in ("succeeded", "canceled"):
        raise invalid_request(f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
                              code="payment_intent_unexpected_state")
    if intent["_invoice"]:
        raise invalid_request("This PaymentIntent belongs to an invoice; void the invoice instead.")
    reason = call.params.get("cancellation_reason", "requested_by_customer")
    if reason not in ("duplicate", "fraudulent", "requested_by_customer", "abandoned"):
        raise invalid_request("Invalid cancellation_reason", param="cancellation_reason")
    now = _now_for(call, intent["customer"])
    intent.update(status="canceled", canceled_at=now, cancellation_reason=reason, next_action=None)
    emit(call, "payment_intent.canceled", PI, intent, created=now)
    return render(call.state, PI, intent)


@accepts("customer", *CREATED, *LIST)
def list_intents(call: Call) -> dict[str, Any]:
    created = created_filter(call)
    customer = call.params.get("customer")
    rows = [r for r in call.state.store.newest_first(PI) if (not customer or r["customer"] == customer) and created(r)]
    return page(call, rows, "/v1/payment_intents", lambda r: render(call.state, PI, r), PI)


# --- API: charges and refunds -------------------------------------------------------------------


def _render_charge(state: EmulatorState, charge: dict[str, Any]) -> dict[str, Any]:
    body = public(charge)
    refunds = [public(r) for r in state.store.newest_first(REFUND) if r["charge"] == charge["id"]]
    body["refunds"] = {**body["refunds"], "data": refunds, "total_count": len(refunds)}
    return body


@accepts()
def retrieve_charge(call: Call, charge_id: str) -> dict[str, Any]:
    return _render_charge(call.state, get_or_404(call, CHARGE, charge_id))


@accepts("customer", "payment_intent", *CREATED, *LIST)
def list_charges(call: Call) -> dict[str, Any]:
    params, created = call.params, created_filter(call)
    rows = [c for c in call.state.store.newest_first(CHARGE)
            if (not params.get("customer") or c["customer"] == params["customer"])
            and (not params.get("payment_intent") or c["payment_intent"] == params["payment_intent"]) and created(c)]
    return page(call, rows, "/v1/charges", lambda r: _render_charge(call.state, r), CHARGE)


def _refunded_charge(call: Call) -> dict[str, Any]:
    params = call.params
    if params.get("charge") and params.get("payment_intent"):
        raise invalid_request("You may only specify one of these parameters: charge, payment_intent.")
    if params.get("payment_intent"):
        intent = referenced(call, PI, params["payment_intent"], "payment_intent")
        if intent["status"] != "succeeded":
            raise invalid_request(f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                                  param="payment_intent")
        return referenced(call, CHARGE, intent["latest_charge"], "payment_intent")
    if not params.get("charge"):
        raise missing_param("charge")
    charge = referenced(call, CHARGE, params["charge"], "charge")
    if charge["status"] != "succeeded":
        raise invalid_request(f"Charge {charge['id']} has not succeeded and cannot be refunded.", param="charge")
    return charge


# Not implemented, so refused: instructions_email, origin, refund_application_fee, reverse_transfer.
@accepts("charge", "payment_intent", "amount", "reason", "metadata")
def create_refund(call: Call) -> dict[str, Any]:
    charge = _refunded_charge(call)
    left = charge["amount"] - charge["amount_refunded"]
    amount = as_int(call.params.get("amount", left), "amount", minimum=1)
    if amount > left:
        raise invalid_request(f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
                              f"(${left / 100:.2f})", param="amount", code="amount_too_large")
    reason = blank_to_none(call.params.get("reason"))
    if reason not in (None, *REFUND_REASONS):
        raise invalid_request("Invalid reason: must be one of " + ", ".join(REFUND_REASONS), param="reason")
    now = _now_for(call, charge["customer"])
    refund = {"id": new_id("re"), "object": REFUND, "amount": amount, "balance_transaction": None,
              "charge": charge["id"], "created": now, "currency": charge["currency"], "customer": charge["customer"],
              "customer_account": None, "destination_details": {"card": {"type": "refund"}, "type": "card"},
              "metadata": merge_metadata({}, call.params.get("metadata", {})),
              "payment_intent": charge["payment_intent"],
              "payment_method": charge["payment_method"], "reason": reason, "receipt_number": None,
              "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None}
    call.state.store.put(REFUND, refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    emit(call, "refund.created", REFUND, refund, created=now)
    emit(call, "charge.refunded", CHARGE, charge, created=now)
    return render(call.state, REFUND, refund)


@accepts()
def retrieve_refund(call: Call, refund_id: str) -> dict[str, Any]:
    return render(call.state, REFUND, get_or_404(call, REFUND, refund_id))


@accepts("charge", "payment_intent", *CREATED, *LIST)
def list_refunds(call: Call) -> dict[str, Any]:
    params, created = call.params, created_filter(call)
    rows = [r for r in call.state.store.newest_first(REFUND)
            if (not params.get("charge") or r["charge"] == params["charge"])
            and (not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"]) and created(r)]
    return page(call, rows, "/v1/refunds", lambda r: render(call.state, REFUND, r), REFUND)


@accepts()
def retrieve_invoice_payment(call: Call, payment_id: str) -> dict[str, Any]:
    return public(get_or_404(call, INVOICE_PAYMENT, payment_id))


@accepts("invoice", *LIST)
def list_invoice_payments(call: Call) -> dict[str, Any]:
    invoice_id = call.params.get("invoice")
    rows = [p for p in call.state.store.newest_first(INVOICE_PAYMENT) if not invoice_id or p["invoice"] == invoice_id]
    return page(call, rows, "/v1/invoice_payments", public, INVOICE_PAYMENT)


RENDERERS[CHARGE] = _render_charge

ROUTES: list[Route] = [
    *crud_routes("/v1/payment_intents", create=create_intent, list_all=list_intents, retrieve=retrieve_intent),
    ("POST", "/v1/payment_intents/{id}/confirm", confirm_intent),
    ("POST", "/v1/payment_intents/{id}/cancel", cancel_intent),
    *crud_routes("/v1/charges", list_all=list_charges, retrieve=retrieve_charge),
    *crud_routes("/v1/refunds", create=create_refund, list_all=list_refunds, retrieve=retrieve_refund),
    *crud_routes("/v1/invoice_payments", list_all=list_invoice_payments, retrieve=retrieve_invoice_payment),
]

