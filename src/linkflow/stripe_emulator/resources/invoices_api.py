"""``/v1/invoices``: one-off invoices, their life (finalize, pay, void, mark uncollectible), lines, previews.

``invoices.create`` makes a draft for a customer; since 2022-08-01 it leaves pending invoice items
alone unless ``pending_invoice_items_behavior=include``. ``auto_advance`` (false by default for
invoices made through the API, true for a subscription's) finalizes a draft an hour after creation
(``automatically_finalizes_at``) and then charges it, on emulator time or the customer's test clock.
``invoices.create_preview`` answers the invoice a subscription change would make, without storing
anything (its ``id`` starts with ``upcoming_``, as Stripe's previews do).
"""

from __future__ import annotations

import copy
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import card_declined, invalid_request, resource_missing
from ..events import emit, emit_updated
from ..forms import as_bool, as_dict, as_int, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import deleted_stub, render
from ..store import new_id
from ..versions import basil_or_later
from . import billing, discounts, invoiceitems, invoices, plan_changes
from .clock_time import customer_now
from .payment_methods import customer_payment_method, customers_own

COLLECTION_METHODS = ("charge_automatically", "send_invoice")
DAY = invoices.DAY


def _customer_of(call: Call, invoice: dict[str, Any]) -> dict[str, Any]:
    customer = call.state.store.get("customer", invoice["customer"])
    assert customer is not None
    return customer


def payment_method_of(call: Call, invoice: dict[str, Any]) -> str | None:
    """The invoice's default, else its subscription's, else its customer's."""
    if invoice.get("default_payment_method"):
        return str(invoice["default_payment_method"])
    sub = call.state.store.get("subscription", invoice["subscription"] or "")
    if sub is not None:
        return billing.payment_method_for(call.state, sub)
    return customer_payment_method(_customer_of(call, invoice))


@accepts()
def retrieve(call: Call, invoice_id: str) -> dict[str, Any]:
    return render(call.state, "invoice", get_or_404(call, "invoice", invoice_id, include_deleted=True))


@accepts("customer", "subscription", "status", "collection_method", *CREATED, *LIST)
def list_invoices(call: Call) -> dict[str, Any]:
    params = call.params
    created = created_filter(call)
    rows = [
        inv for inv in call.state.store.newest_first("invoice")
        if (not params.get("customer") or inv["customer"] == params["customer"])
        and (not params.get("subscription") or inv["subscription"] == params["subscription"])
        and (not params.get("status") or inv["status"] == params["status"])
        and (not params.get("collection_method") or inv["collection_method"] == params["collection_method"])
        and created(inv)
    ]
    return page(call, rows, "/v1/invoices", lambda r: render(call.state, "invoice", r), "invoice")


def _settings(call: Call, invoice: dict[str, Any], customer: dict[str, Any], params: dict[str, Any]) -> None:
    """The fields create and update (of a draft) share."""
    if "collection_method" in params:
        if params["collection_method"] not in COLLECTION_METHODS:
            raise invalid_request("Invalid collection_method: must be one of " + ", ".join(COLLECTION_METHODS),
                                  param="collection_method")
        invoice["collection_method"] = params["collection_method"]
    if "days_until_due" in params:
        invoice["days_until_due"] = as_int(params["days_until_due"], "days_until_due", minimum=0)
    if invoice["days_until_due"] is not None and invoice["collection_method"] != "send_invoice":
        raise invalid_request("days_until_due can only be set with collection_method=send_invoice.",
                              param="days_until_due")
    if "description" in params:
        invoice["description"] = blank_to_none(params["description"])
    if "metadata" in params:
        invoice["metadata"] = merge_metadata(invoice["metadata"], params["metadata"])
    if "default_payment_method" in params:
        pm = blank_to_none(params["default_payment_method"])
        invoice["default_payment_method"] = customers_own(call, customer, pm, "default_payment_method") if pm else None
    if "auto_advance" in params:
        invoice["auto_advance"] = as_bool(params["auto_advance"], "auto_advance")
    if invoice["status"] == "draft":
        invoice["automatically_finalizes_at"] = (invoice["created"] + invoices.AUTO_FINALIZE_DELAY
                                                 if invoice["auto_advance"] else None)


# Not implemented, so refused: account_tax_ids, application_fee_amount, automatic_tax, custom_fields,
# default_source, default_tax_rates, discounts[][discount], due_date, effective_at, footer, from_invoice,
# issuer, number, on_behalf_of, payment_settings, rendering, shipping_*, statement_descriptor, subscription,
# transfer_data.
@accepts("customer", "auto_advance", "collection_method", "days_until_due", "default_payment_method",
         "description", "metadata", "pending_invoice_items_behavior", "currency", "discounts[][coupon]",
         "discounts[][promotion_code]")
def create(call: Call) -> dict[str, Any]:
    """A draft; ``discounts`` are redeemed for this invoice alone."""
    params = call.params
    customer = referenced(call, "customer", params.get("customer"), "customer")
    behavior = params.get("pending_invoice_items_behavior", "exclude")
    if behavior not in ("include", "exclude"):
        raise invalid_request("Invalid pending_invoice_items_behavior: must be one of include or exclude",
                              param="pending_invoice_items_behavior")
    now = customer_now(call.state, customer)
    currency = str(params.get("currency") or customer.get("currency") or "usd").lower()
    invoice = invoices.blank_invoice(call, customer, now=now, reason="manual", currency=currency)
    _settings(call, invoice, customer, params)
    pending = [i for i in invoiceitems.pending(call.state, customer["id"], currency) if i["_subscription"] is None]
    found = discounts.resolve(call, params.get("discounts"), "discounts", customer=customer, currency=currency,
                              amount=sum(i["amount"] for i in pending) if behavior == "include" else 0)
    if behavior == "include":
        invoices.add_pending_items(call, invoice, customer, None)
    invoice["discounts"] = [discounts.redeem(call, coupon, promo, now, customer_id=customer["id"],
                                             invoice=invoice["id"])["id"] for coupon, promo in found]
    return render(call.state, "invoice", invoices.store_new(call, invoice, now))


@accepts("auto_advance", "collection_method", "days_until_due", "default_payment_method", "description",
         "metadata")
def update(call: Call, invoice_id: str) -> dict[str, Any]:
    invoice = get_or_404(call, "invoice", invoice_id)
    params = call.params
    if invoice["status"] != "draft":
        allowed = {"metadata", "description", "expand"} | ({"auto_advance"} if invoice["status"] == "open" else set())
        extra = sorted(set(params) - allowed)
        if extra:
            raise invalid_request(f"You can only update {extra[0]} on a draft invoice; this one is "
                                  f"{invoice['status']}.", param=extra[0])
    customer = _customer_of(call, invoice)
    before = billing.snapshot(invoice)
    _settings(call, invoice, customer, params)
    emit_updated(call, "invoice.updated", "invoice", before, invoice, created=customer_now(call.state, customer))
    return render(call.state, "invoice", invoice)


@accepts(expand=False)
def delete(call: Call, invoice_id: str) -> dict[str, Any]:
    """Only drafts can be deleted; their invoice items become pending again."""
    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] != "draft":
        raise invalid_request("You can only delete draft invoices. Void an open invoice instead.")
    for line in invoice["lines"]["data"]:
        item = call.state.store.get(invoiceitems.KIND, invoiceitems.item_of(line) or "")
        if item is not None:
            item["invoice"] = None
    emit(call, "invoice.deleted", "invoice", invoice, created=customer_now(call.state, _customer_of(call, invoice)))
    invoice["_deleted"] = True
    return deleted_stub(invoice)


def finalize_now(call: Call, invoice: dict[str, Any], now: int) -> None:
    """Finalize; an ``auto_advance`` invoice charged automatically is attempted an hour later, as Stripe does."""
    invoices.finalize(call, invoice, _customer_of(call, invoice), now)
    if not invoice["amount_due"]:
        invoices.mark_paid(call, invoice, now)
    elif invoice["auto_advance"] and invoice["collection_method"] == "charge_automatically":
        invoice["next_payment_attempt"] = now + invoices.AUTO_FINALIZE_DELAY


@accepts("auto_advance")
def finalize(call: Call, invoice_id: str) -> dict[str, Any]:
    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] != "draft":
        raise invalid_request(f"This invoice is already finalized (status {invoice['status']}).",
                              code="invoice_not_editable")
    if "auto_advance" in call.params:
        invoice["auto_advance"] = as_bool(call.params["auto_advance"], "auto_advance")
    finalize_now(call, invoice, customer_now(call.state, _customer_of(call, invoice)))
    return render(call.state, "invoice", invoice)


# Not implemented, so refused: forgive, mandate, off_session, source.
@accepts("payment_method", "paid_out_of_band")
def pay(call: Call, invoice_id: str) -> dict[str, Any]:
    """``POST /v1/invoices/{id}/pay``: pay an open invoice now (402 if the card declines)."""
    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] == "draft":
        finalize_now(call, invoice, customer_now(call.state, _customer_of(call, invoice)))
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    customer = _customer_of(call, invoice)
    sub = call.state.store.get("subscription", invoice["subscription"] or "")
    now = customer_now(call.state, customer)
    if as_bool(call.params.get("paid_out_of_band", "false"), "paid_out_of_band"):
        invoice["paid_out_of_band"] = True
        invoices.mark_paid(call, invoice, now)
    else:
        pm = call.params.get("payment_method")
        pm = customers_own(call, customer, pm, "payment_method") if pm else payment_method_of(call, invoice)
        if not invoices.collect(call, invoice, pm, now, retry=sub is not None):
            raise card_declined(decline_code=invoice.get("_decline_code") or "generic_decline")
    if sub is not None:
        billing.after_invoice_paid(call, sub, invoice, now)
    return render(call.state, "invoice", invoice)


@accepts()
def void(call: Call, invoice_id: str) -> dict[str, Any]:
    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(f"You can only void open or uncollectible invoices; this one is {invoice['status']}.")
    invoices.void(call, invoice, customer_now(call.state, _customer_of(call, invoice)))
    return render(call.state, "invoice", invoice)


@accepts()
def mark_uncollectible(call: Call, invoice_id: str) -> dict[str, Any]:
    invoice = get_or_404(call, "invoice", invoice_id)
    if invoice["status"] != "open":
        raise invalid_request(f"You can only mark open invoices uncollectible; this one is {invoice['status']}.")
    invoices.mark_uncollectible(call, invoice, customer_now(call.state, _customer_of(call, invoice)))
    return render(call.state, "invoice", invoice)


@accepts(*LIST)
def lines(call: Call, invoice_id: str) -> dict[str, Any]:
    invoice = get_or_404(call, "invoice", invoice_id)
    return page(call, invoice["lines"]["data"], f"/v1/invoices/{invoice_id}/lines", copy.deepcopy, "line_item")


# --- previews -----------------------------------------------------------------------------------

_DETAILS = "subscription_details"


def _preview_of_change(call: Call, invoice: dict[str, Any], sub: dict[str, Any], customer: dict[str, Any],
                       details: dict[str, Any], now: int) -> None:
    from .subscriptions import apply_item_specs  # subscriptions builds on invoices

    changed = copy.deepcopy(sub)
    old_items = copy.deepcopy(sub["_items"])
    if "items" in details:
        apply_item_specs(call, changed, details["items"], now, param=f"{_DETAILS}[items]")
    change = plan_changes.read(call, changed, details, old_items, now, prefix=_DETAILS)
    fields = [plan_changes.as_item_fields(p, changed, now) for p in plan_changes.owed(call, changed, old_items, change)]
    items = [invoiceitems.build_item(customer, **f) for f in fields]
    pending = [i for i in invoiceitems.pending(call.state, customer["id"], sub["currency"])
               if i["_subscription"] in (None, sub["id"])]
    if change.reset:
        billing.start_cycle(call, changed, now)
        start, end = changed["current_period_start"], changed["current_period_end"]
        invoice["billing_reason"] = "subscription_update"
    elif change.behavior == "always_invoice":
        start, end = now, changed["current_period_end"]
        invoice["billing_reason"] = "subscription_update"
    else:
        billing.next_cycle(call, changed)
        start, end = changed["current_period_start"], changed["current_period_end"]
    data = invoice["lines"]["data"]
    if change.reset or change.behavior != "always_invoice":
        data.extend(invoices.subscription_lines(call, invoice["id"], changed, start, end))
    data.extend(invoiceitems.line_for(item, invoice["id"]) for item in [*pending, *items])
    invoice.update(period_start=start if change.reset else sub["current_period_start"],
                   period_end=end if change.reset else sub["current_period_end"])


# Not implemented, so refused: automatic_tax, currency, customer_details, discounts (see coupons),
# invoice_items, issuer, on_behalf_of, preview_mode, schedule, schedule_details, and
# subscription_details beyond items, proration_behavior, proration_date and billing_cycle_anchor.
@accepts("customer", "subscription", f"{_DETAILS}[items][][id]", f"{_DETAILS}[items][][price]",
         f"{_DETAILS}[items][][quantity]", f"{_DETAILS}[items][][deleted]", f"{_DETAILS}[items][][metadata]",
         f"{_DETAILS}[proration_behavior]", f"{_DETAILS}[proration_date]", f"{_DETAILS}[billing_cycle_anchor]")
def create_preview(call: Call) -> dict[str, Any]:
    """``POST /v1/invoices/create_preview``: the next invoice, as a change would make it; nothing is stored."""
    params = call.params
    sub = referenced(call, "subscription", params["subscription"], "subscription") if params.get(
        "subscription") else None
    if sub is None and not params.get("customer"):
        raise invalid_request("Either customer or subscription must be given.", param="customer")
    customer = referenced(call, "customer", params.get("customer") or sub and sub["customer"], "customer")
    if sub is not None and sub["customer"] != customer["id"]:
        raise invalid_request("The subscription does not belong to that customer.", param="subscription")
    details = as_dict(params.get(_DETAILS, {}), _DETAILS)
    if sub is None and details:
        raise invalid_request("subscription_details need a subscription.", param=_DETAILS)
    now = customer_now(call.state, customer)
    invoice_id = "upcoming_" + new_id("in")
    currency = sub["currency"] if sub else str(customer.get("currency") or "usd")
    invoice = invoices.blank_invoice(call, customer, now=now, reason="upcoming", currency=currency, sub=sub,
                                     invoice_id=invoice_id)
    if sub is not None:
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise invalid_request("No upcoming invoices for a canceled subscription.", code="invoice_upcoming_none")
        _preview_of_change(call, invoice, sub, customer, details, now)
    else:
        invoice["lines"]["data"].extend(invoiceitems.line_for(i, invoice_id)
                                        for i in invoiceitems.pending(call.state, customer["id"], currency))
        if not invoice["lines"]["data"]:
            raise invalid_request(f"No upcoming invoices for customer: {customer['id']}",
                                  code="invoice_upcoming_none")
    invoice["starting_balance"] = customer.get("balance") or 0
    invoices.recompute(call, invoice)
    invoice["lines"]["url"] = f"/v1/invoices/{invoice_id}/lines"
    return render(call.state, "invoice", invoice)


# Not implemented, so refused: the upcoming endpoint's subscription_items, subscription_proration_* and
# other preview parameters (create_preview takes subscription_details instead).
@accepts("customer", "subscription")
def upcoming(call: Call) -> dict[str, Any]:
    """``GET /v1/invoices/upcoming``: removed in 2025-03-31.basil, served to older versions.

    From basil on the route no longer exists, and the path reads as an invoice id: the answer is
    ``retrieve``'s 404, "No such invoice: 'upcoming'"
    (https://docs.stripe.com/changelog/basil/2025-03-31/invoice-preview-api-deprecations).
    Before it: the customer's next invoice, as ``create_preview`` makes it, without an ``id`` (an
    upcoming invoice has none).
    """
    if basil_or_later(call.api_version):
        raise resource_missing("invoice", "upcoming")
    if not call.params.get("subscription") and call.params.get("customer"):
        # The customer's subscription renewing first (Stripe's old endpoint could add up several).
        live = [s for s in call.state.store.newest_first("subscription")
                if s["customer"] == call.params["customer"] and s["status"] not in ("canceled", "incomplete_expired")]
        if live:
            call.params["subscription"] = min(live, key=lambda s: s["current_period_end"] or 0)["id"]
    invoice = create_preview(call)
    invoice.pop("id", None)
    return invoice


@accepts("customer", "subscription", *LIST)
def upcoming_lines(call: Call) -> dict[str, Any]:
    """``GET /v1/invoices/upcoming/lines``: the upcoming invoice's lines, removed with it in basil."""
    if basil_or_later(call.api_version):
        raise resource_missing("invoice", "upcoming")
    invoice = upcoming(call)
    return page(call, invoice["lines"]["data"], "/v1/invoices/upcoming/lines", copy.deepcopy, "line_item")


ROUTES: list[Route] = [
    ("GET", "/v1/invoices/upcoming", upcoming),
    ("GET", "/v1/invoices/upcoming/lines", upcoming_lines),
    *crud_routes("/v1/invoices", create=create, list_all=list_invoices, retrieve=retrieve, update=update,
                 delete=delete),
    ("POST", "/v1/invoices/create_preview", create_preview),
    ("GET", "/v1/invoices/{id}/lines", lines),
    ("POST", "/v1/invoices/{id}/finalize", finalize),
    ("POST", "/v1/invoices/{id}/pay", pay),
    ("POST", "/v1/invoices/{id}/void", void),
    ("POST", "/v1/invoices/{id}/mark_uncollectible", mark_uncollectible),
]
