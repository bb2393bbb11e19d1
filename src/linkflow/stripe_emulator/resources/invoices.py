"""Invoices: drafts built from lines, totals, finalization, collection, and the end states.

An invoice's lines are subscription lines (a price over a period) and invoice-item lines
(``invoiceitems.py``: one-off items and prorations). Totals are recomputed from the lines whenever
they change (``recompute``). Finalizing applies the customer's credit balance (a negative balance,
as prorations leave it) and numbers the invoice; ``collect`` charges what remains due. The API
handlers are in ``invoices_api.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from ..call import Call
from ..events import emit, emit_updated
from ..store import new_id
from . import invoiceitems
from .tiers import price_amount

DAY = 86400
AUTO_FINALIZE_DELAY = 3600  # Stripe finalizes an auto_advance draft about an hour after creation


def line_item(invoice_id: str, sub: dict[str, Any], item: dict[str, Any], price: dict[str, Any],
              start: int, end: int) -> dict[str, Any]:
    quantity = item.get("quantity") or 1
    amount = price_amount(price, quantity)
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{quantity} × {invoiceitems.price_name(price)}",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": end, "start": start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        },
        "proration": False,
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": sub["id"],
        "subtotal": amount,
        "taxes": [],
        "type": "subscription",
    }


def subscription_lines(call: Call, invoice_id: str, sub: dict[str, Any], start: int, end: int, *,
                       zero: bool = False) -> list[dict[str, Any]]:
    """One line per subscription item over [start, end] (``zero``: a trial's $0 lines)."""
    lines = []
    for item in sub["_items"]:
        price = call.state.store.get("price", item["price"]) or {}
        line = line_item(invoice_id, sub, item, price, start, end)
        if zero:
            line["amount"] = line["subtotal"] = 0
            line["description"] = f"Trial period for {invoiceitems.price_name(price)}"
        lines.append(line)
    return lines


def blank_invoice(call: Call, customer: dict[str, Any], *, now: int, reason: str, currency: str,
                  sub: dict[str, Any] | None = None, start: int | None = None, end: int | None = None,
                  invoice_id: str | None = None) -> dict[str, Any]:
    """A draft invoice without lines (not stored, no event)."""
    invoice_id = invoice_id or new_id("in")
    discounts = SUBSCRIPTION_DISCOUNTS[0](call.state, sub["discounts"], now) if sub and SUBSCRIPTION_DISCOUNTS else []
    parent = None if sub is None else {
        "quote_details": None, "type": "subscription_details",
        "subscription_details": {"metadata": dict(sub.get("metadata") or {}), "subscription": sub["id"]}}
    return {
        "id": invoice_id, "object": "invoice",
        "account_country": "US", "account_name": "Stripe emulator", "account_tax_ids": None,
        "amount_due": 0, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": 0,
        "amount_shipping": 0, "application": None, "application_fee_amount": None,
        "attempt_count": 0, "attempted": False, "auto_advance": sub is not None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                          "status": None},
        "automatically_finalizes_at": None, "billing_reason": reason,
        "collection_method": "charge_automatically", "created": now, "currency": currency,
        "custom_fields": None, "customer": customer["id"], "customer_account": None,
        "customer_address": customer.get("address"), "customer_email": customer.get("email"),
        "customer_name": customer.get("name"), "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"), "customer_tax_exempt": "none", "customer_tax_ids": [],
        "days_until_due": None,
        "default_payment_method": None, "default_source": None, "default_tax_rates": [], "description": None,
        "discounts": discounts, "due_date": None, "effective_at": None, "ending_balance": None,
        "footer": None, "from_invoice": None, "hosted_invoice_url": None, "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                  "url": f"/v1/invoices/{invoice_id}/lines"},
        "livemode": False, "metadata": {}, "next_payment_attempt": None, "number": None, "on_behalf_of": None,
        "paid": False, "paid_out_of_band": False, "parent": parent,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": now if end is None else end, "period_start": now if start is None else start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None, "shipping_cost": None,
        "shipping_details": None, "starting_balance": 0, "statement_descriptor": None, "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                               "voided_at": None},
        "subscription": None if sub is None else sub["id"], "subtotal": 0, "subtotal_excluding_tax": 0,
        "tax": None, "test_clock": customer.get("test_clock"), "total": 0, "total_discount_amounts": [],
        "total_excluding_tax": 0, "total_pretax_credit_amounts": [], "total_tax_amounts": [], "total_taxes": [],
        "webhooks_delivered_at": now,
    }


# Discounts hooks (discounts.py): DISCOUNTER fills each line's discount_amounts and returns the invoice's
# total discount; SUBSCRIPTION_DISCOUNTS names the subscription's discounts in force for a new invoice.
DISCOUNTER: list[Any] = []
SUBSCRIPTION_DISCOUNTS: list[Any] = []


def recompute(call: Call, invoice: dict[str, Any]) -> None:
    """Totals from the lines (and discounts); ``amount_due`` counts the starting balance once finalized."""
    lines = invoice["lines"]["data"]
    invoice["lines"]["total_count"] = len(lines)
    subtotal = sum(line["amount"] for line in lines)
    discount = DISCOUNTER[0](call, invoice) if DISCOUNTER else 0
    total = subtotal - discount
    invoice.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=total, total_excluding_tax=total)
    due = max(0, total + invoice["starting_balance"])
    invoice.update(amount_due=due, amount_remaining=max(0, due - invoice["amount_paid"]))


def add_pending_items(call: Call, invoice: dict[str, Any], customer: dict[str, Any],
                      sub: dict[str, Any] | None) -> None:
    """Pull the customer's pending invoice items (of ``sub``, or of no subscription) into ``invoice``."""
    for item in invoiceitems.pending(call.state, customer["id"], invoice["currency"]):
        if item["_subscription"] in (None, sub and sub["id"]):
            invoiceitems.attach_to(call, item, invoice)


def store_new(call: Call, invoice: dict[str, Any], now: int) -> dict[str, Any]:
    recompute(call, invoice)
    call.state.store.put("invoice", invoice)
    emit(call, "invoice.created", "invoice", invoice, created=now)
    return invoice


def new_invoice(call: Call, sub: dict[str, Any], customer: dict[str, Any], *, now: int, reason: str,
                start: int, end: int, zero: bool = False, invoice_id: str | None = None,
                with_sub_lines: bool = True) -> dict[str, Any]:
    """A draft invoice for ``sub``: its items over [start, end] and the pending items (stored, emitted)."""
    invoice = blank_invoice(call, customer, now=now, reason=reason, currency=sub["currency"], sub=sub,
                            start=start, end=end, invoice_id=invoice_id)
    if with_sub_lines:
        invoice["lines"]["data"].extend(subscription_lines(call, invoice["id"], sub, start, end, zero=zero))
    add_pending_items(call, invoice, customer, sub)
    return store_new(call, invoice, now)


def finalize(call: Call, invoice: dict[str, Any], customer: dict[str, Any], now: int) -> None:
    """Number the invoice, apply the customer's balance, open it (``invoice.finalized``)."""
    balance_before = customer.get("balance") or 0
    sequence = customer.get("next_invoice_sequence") or 1
    customer["next_invoice_sequence"] = sequence + 1
    invoice["number"] = f"{customer.get('invoice_prefix')}-{sequence:04d}"
    invoice["starting_balance"] = customer.get("balance") or 0
    recompute(call, invoice)
    ending = invoice["total"] + invoice["starting_balance"]
    invoice["ending_balance"] = min(0, ending)
    customer["balance"] = min(0, ending)
    invoice.update(status="open", effective_at=now, automatically_finalizes_at=None)
    invoice["status_transitions"]["finalized_at"] = now
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/emulator/{invoice['id']}"
    invoice["invoice_pdf"] = f"https://pay.stripe.com/invoice/emulator/{invoice['id']}/pdf"
    if invoice["collection_method"] == "send_invoice":
        invoice["due_date"] = now + int(invoice.get("days_until_due") or 30) * DAY
    if customer["balance"] != balance_before:
        emit_updated(call, "customer.updated", "customer", {**customer, "balance": balance_before}, customer,
                     created=now)
    if invoice["amount_due"] and invoice["collection_method"] == "charge_automatically":
        from .payments import intent_for_invoice  # payments builds on invoices

        intent_for_invoice(call, invoice, now)
    emit(call, "invoice.finalized", "invoice", invoice, created=now)


def collect(call: Call, invoice: dict[str, Any], payment_method: str | None, now: int, *,
            retry: bool = True) -> bool:
    """Try to pay ``invoice``; emits ``invoice.paid`` or ``invoice.payment_failed``.

    A failed attempt schedules the next one per the billing settings (``retry=False``: none).
    """
    before = copy.deepcopy(invoice)
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if not invoice["amount_due"]:
        mark_paid(call, invoice, now)
        return True
    from .payments import pay_invoice  # payments builds on invoices

    result = pay_invoice(call, invoice, payment_method, now) if payment_method else None
    if result is None or result.kind != "ok":
        retries = call.state.billing.retry_days if retry else []
        attempt = invoice["attempt_count"]
        invoice["next_payment_attempt"] = (
            now + int(retries[attempt - 1] * DAY) if attempt - 1 < len(retries) else None
        )
        invoice["_last_payment_error"] = result.code if result else "no_payment_method"
        invoice["_decline_code"] = result.decline_code if result else None
        # Each failed attempt: "an invoice.updated event to track the payment attempts" (attempt_count,
        # next_payment_attempt), https://support.stripe.com/questions/what-events-can-i-see-when-a-subscription-is-renewed
        emit_updated(call, "invoice.updated", "invoice", before, invoice, created=now)
        needs_action = result is not None and result.kind == "action" and invoice["billing_reason"] != (
            "subscription_cycle")
        emit(call, "invoice.payment_action_required" if needs_action else "invoice.payment_failed", "invoice",
             invoice, created=now)
        return False
    mark_paid(call, invoice, now)
    return True


def mark_paid(call: Call, invoice: dict[str, Any], now: int) -> None:
    invoice.update(status="paid", paid=True, amount_paid=invoice["amount_due"], amount_remaining=0,
                   next_payment_attempt=None, auto_advance=False)
    invoice["status_transitions"]["paid_at"] = now
    emit(call, "invoice.paid", "invoice", invoice, created=now)
    emit(call, "invoice.payment_succeeded", "invoice", invoice, created=now)


def void(call: Call, invoice: dict[str, Any], now: int) -> None:
    from .payments import cancel_invoice_intent  # payments builds on invoices

    cancel_invoice_intent(call, invoice, now)
    invoice.update(status="void", next_payment_attempt=None, amount_remaining=0, auto_advance=False)
    invoice["status_transitions"]["voided_at"] = now
    emit(call, "invoice.voided", "invoice", invoice, created=now)


def mark_uncollectible(call: Call, invoice: dict[str, Any], now: int) -> None:
    invoice.update(status="uncollectible", next_payment_attempt=None, auto_advance=False)
    invoice["status_transitions"]["marked_uncollectible_at"] = now
    emit(call, "invoice.marked_uncollectible", "invoice", invoice, created=now)
