"""Invoices, as far as subscriptions need them: created, finalized, paid or failed, voided."""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import card_declined, invalid_request
from ..events import emit
from ..forms import as_bool
from ..lists import created_filter, page
from ..lookup import get_or_404
from ..params import CREATED, LIST, accepts
from ..render import render
from ..store import new_id
from .clock_time import customer_now
from .payment_methods import customers_own, declines

DAY = 86400


def line_item(invoice_id: str, sub: dict[str, Any], item: dict[str, Any], price: dict[str, Any],
              start: int, end: int) -> dict[str, Any]:
    quantity = item.get("quantity") or 1
    amount = (price.get("unit_amount") or 0) * quantity
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{quantity} × {price.get('nickname') or price['product']}",
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


def new_invoice(call: Call, sub: dict[str, Any], customer: dict[str, Any], *, now: int, reason: str,
                start: int, end: int, zero: bool = False, invoice_id: str | None = None) -> dict[str, Any]:
    """Create a draft invoice for ``sub``'s items over [start, end] (``zero``: a trial's $0 invoice)."""
    invoice_id = invoice_id or new_id("in")
    lines = []
    for item in sub["_items"]:
        price = call.state.store.get("price", item["price"]) or {}
        line = line_item(invoice_id, sub, item, price, start, end)
        if zero:
            line["amount"] = line["subtotal"] = 0
            line["description"] = f"Trial period for {price.get('nickname') or price.get('product')}"
        lines.append(line)
    total = sum(line["amount"] for line in lines)
    invoice = {
        "id": invoice_id, "object": "invoice",
        "account_country": "US", "account_name": "Stripe emulator", "account_tax_ids": None,
        "amount_due": total, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": total,
        "amount_shipping": 0, "application": None, "application_fee_amount": None,
        "attempt_count": 0, "attempted": False, "auto_advance": True,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                          "status": None},
        "automatically_finalizes_at": None, "billing_reason": reason, "charge": None,
        "collection_method": "charge_automatically", "created": now, "currency": sub["currency"],
        "custom_fields": None, "customer": customer["id"], "customer_account": None,
        "customer_address": customer.get("address"), "customer_email": customer.get("email"),
        "customer_name": customer.get("name"), "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"), "customer_tax_exempt": "none", "customer_tax_ids": [],
        "default_payment_method": None, "default_source": None, "default_tax_rates": [], "description": None,
        "discount": None, "discounts": [], "due_date": None, "effective_at": None, "ending_balance": None,
        "footer": None, "from_invoice": None, "hosted_invoice_url": None, "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                  "url": f"/v1/invoices/{invoice_id}/lines"},
        "livemode": False, "metadata": {}, "next_payment_attempt": None, "number": None, "on_behalf_of": None,
        "paid": False, "paid_out_of_band": False,
        "parent": {"quote_details": None, "type": "subscription_details",
                   "subscription_details": {"metadata": dict(sub.get("metadata") or {}), "subscription": sub["id"]}},
        "payment_intent": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": end, "period_start": start, "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None, "shipping_cost": None,
        "shipping_details": None, "starting_balance": 0, "statement_descriptor": None, "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                               "voided_at": None},
        "subscription": sub["id"], "subtotal": total, "subtotal_excluding_tax": total, "tax": None,
        "test_clock": customer.get("test_clock"), "total": total, "total_discount_amounts": [],
        "total_excluding_tax": total, "total_pretax_credit_amounts": [], "total_tax_amounts": [], "total_taxes": [],
        "webhooks_delivered_at": now,
    }
    call.state.store.put("invoice", invoice)
    emit(call, "invoice.created", "invoice", invoice, created=now)
    return invoice


def finalize(call: Call, invoice: dict[str, Any], customer: dict[str, Any], now: int) -> None:
    sequence = customer.get("next_invoice_sequence") or 1
    customer["next_invoice_sequence"] = sequence + 1
    invoice["number"] = f"{customer.get('invoice_prefix')}-{sequence:04d}"
    invoice["status"] = "open"
    invoice["effective_at"] = now
    invoice["status_transitions"]["finalized_at"] = now
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/emulator/{invoice['id']}"
    emit(call, "invoice.finalized", "invoice", invoice, created=now)


def collect(call: Call, invoice: dict[str, Any], payment_method: str | None, now: int, *,
            retry: bool = True) -> bool:
    """Try to pay ``invoice``; emits ``invoice.paid`` or ``invoice.payment_failed``.

    A failed attempt schedules the next one per the billing settings (``retry=False``: none).
    """
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if invoice["amount_due"] and (payment_method is None or declines(call.state, payment_method)):
        retries = call.state.billing.retry_days if retry else []
        attempt = invoice["attempt_count"]
        invoice["next_payment_attempt"] = (
            now + int(retries[attempt - 1] * DAY) if attempt - 1 < len(retries) else None
        )
        invoice["_last_payment_error"] = "card_declined" if payment_method else "no_payment_method"
        emit(call, "invoice.payment_failed", "invoice", invoice, created=now)
        return False
    mark_paid(call, invoice, now)
    return True


def mark_paid(call: Call, invoice: dict[str, Any], now: int) -> None:
    invoice.update(status="paid", paid=True, amount_paid=invoice["amount_due"], amount_remaining=0,
                   next_payment_attempt=None)
    invoice["status_transitions"]["paid_at"] = now
    emit(call, "invoice.paid", "invoice", invoice, created=now)
    emit(call, "invoice.payment_succeeded", "invoice", invoice, created=now)


def void(call: Call, invoice: dict[str, Any], now: int) -> None:
    invoice.update(status="void", next_payment_attempt=None, amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = now
    emit(call, "invoice.voided", "invoice", invoice, created=now)


def mark_uncollectible(call: Call, invoice: dict[str, Any], now: int) -> None:
    invoice.update(status="uncollectible", next_payment_attempt=None)
    invoice["status_transitions"]["marked_uncollectible_at"] = now
    emit(call, "invoice.marked_uncollectible", "invoice", invoice, created=now)


# --- API ----------------------------------------------------------------------------------------


@accepts()
def retrieve(call: Call, invoice_id: str) -> dict[str, Any]:
    return render(call.state, "invoice", get_or_404(call, "invoice", invoice_id))


@accepts("customer", "subscription", "status", *CREATED, *LIST)
def list_invoices(call: Call) -> dict[str, Any]:
    params = call.params
    created = created_filter(call)
    rows = [
        inv for inv in call.state.store.newest_first("invoice")
        if (not params.get("customer") or inv["customer"] == params["customer"])
        and (not params.get("subscription") or inv["subscription"] == params["subscription"])
        and (not params.get("status") or inv["status"] == params["status"])
        and created(inv)
    ]
    return page(call, rows, "/v1/invoices", lambda r: render(call.state, "invoice", r), "invoice")


# Not implemented, so refused: forgive, mandate, off_session, source.
@accepts("payment_method", "paid_out_of_band")
def pay(call: Call, invoice_id: str) -> dict[str, Any]:
    """``POST /v1/invoices/{id}/pay``: pay an open invoice now (402 if the card declines)."""
    from .billing import after_invoice_paid, payment_method_for  # billing builds on this module

    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] != "open":
        raise invalid_request(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    sub = call.state.store.get("subscription", invoice["subscription"])
    customer = call.state.store.get("customer", invoice["customer"])
    assert sub is not None and customer is not None
    now = customer_now(call.state, customer)
    if as_bool(call.params.get("paid_out_of_band", "false"), "paid_out_of_band"):
        invoice["paid_out_of_band"] = True
        mark_paid(call, invoice, now)
    else:
        pm = call.params.get("payment_method")
        pm = customers_own(call, customer, pm, "payment_method") if pm else payment_method_for(call.state, sub)
        if not collect(call, invoice, pm, now):
            raise card_declined()
    after_invoice_paid(call, sub, invoice, now)
    return render(call.state, "invoice", invoice)


ROUTES: list[Route] = [
    *crud_routes("/v1/invoices", list_all=list_invoices, retrieve=retrieve),
    ("POST", "/v1/invoices/{id}/pay", pay),
]
