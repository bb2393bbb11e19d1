"""What a subscription update does to money: ``proration_behavior`` and ``billing_cycle_anchor``.

- ``create_prorations`` (Stripe's default): the prorations become pending invoice items, billed with
  the next invoice (the renewal).
- ``always_invoice``: the same items, invoiced, finalized and charged at once
  (``billing_reason=subscription_update``).
- ``none``: the items change, nothing is prorated.
- ``billing_cycle_anchor=now`` (and any change of the billing interval, as on Stripe): the cycle
  restarts now; the unused time of the old items is credited (unless ``none``) and the new period is
  invoiced in full at once.

``proration_date`` (a second in the current period) prorates as of that moment, so that an
``invoices.create_preview`` with the same date shows exactly what the update will bill.
A negative invoice total becomes customer credit (``balance``), used by the next invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..call import Call
from ..errors import invalid_request
from ..forms import as_int
from . import billing, invoiceitems, invoices, prorations

BEHAVIORS = ("create_prorations", "always_invoice", "none")
ANCHORS = ("now", "unchanged")
BILLABLE = ("active", "past_due")


@dataclass
class PlanChange:
    behavior: str
    reset: bool
    when: int


def _interval(call: Call, items: list[dict[str, Any]]) -> tuple[str, int] | None:
    price = call.state.store.get("price", items[0]["price"]) if items else None
    recurring = (price or {}).get("recurring") or {}
    return (recurring["interval"], int(recurring["interval_count"])) if recurring else None


def read(call: Call, sub: dict[str, Any], params: dict[str, Any], old_items: list[dict[str, Any]], now: int,
         prefix: str = "") -> PlanChange:
    """The options of an update (or of a preview, ``prefix="subscription_details"``), checked."""
    def name(key: str) -> str:
        return f"{prefix}[{key}]" if prefix else key

    behavior = params.get("proration_behavior") or "create_prorations"
    if behavior not in BEHAVIORS:
        raise invalid_request("Invalid proration_behavior: must be one of " + ", ".join(BEHAVIORS),
                              param=name("proration_behavior"))
    anchor = params.get("billing_cycle_anchor")
    if anchor not in (None, *ANCHORS):
        raise invalid_request("Invalid billing_cycle_anchor: must be one of now or unchanged",
                              param=name("billing_cycle_anchor"))
    when = now
    if params.get("proration_date") not in (None, ""):
        when = as_int(params["proration_date"], name("proration_date"))
        if not sub["current_period_start"] <= when <= sub["current_period_end"]:
            raise invalid_request("The proration_date must be within the subscription's current period.",
                                  param=name("proration_date"))
    interval_changed = _interval(call, old_items) != _interval(call, sub["_items"])
    if interval_changed and anchor == "unchanged":
        raise invalid_request("billing_cycle_anchor cannot be `unchanged` when the price's billing interval "
                              "changes.", param=name("billing_cycle_anchor"))
    reset = anchor == "now" or interval_changed
    if reset and sub["status"] not in BILLABLE:
        raise invalid_request(f"The billing cycle of a subscription with status={sub['status']} cannot be reset "
                              "(end a trial with trial_end=now).", param=name("billing_cycle_anchor"))
    return PlanChange(behavior=behavior, reset=reset, when=when)


def owed(call: Call, sub: dict[str, Any], old_items: list[dict[str, Any]],
         change: PlanChange) -> list[prorations.Proration]:
    """The prorations an update makes (none outside a paid period, or with ``none``)."""
    if change.behavior == "none" or sub["status"] not in BILLABLE:
        return []
    if change.reset:
        return prorations.unused(call.state, sub, old_items, change.when)
    return prorations.changes(call.state, sub, old_items, sub["_items"], change.when)


def as_item_fields(p: prorations.Proration, sub: dict[str, Any], now: int) -> dict[str, Any]:
    return {"amount": p.amount, "currency": sub["currency"], "description": p.description, "now": now,
            "price": p.price, "quantity": p.quantity, "period": (p.start, p.end), "proration": True,
            "sub_id": sub["id"], "sub_item": p.sub_item}


def apply(call: Call, sub: dict[str, Any], customer: dict[str, Any], old_items: list[dict[str, Any]],
          change: PlanChange, now: int) -> dict[str, Any] | None:
    """Make the prorations and invoices of an update whose items are already changed.

    Returns the invoice whose payment failed, for ``billing.after_failed_payment`` once the update's
    own event is out.
    """
    for p in owed(call, sub, old_items, change):
        invoiceitems.new_item(call, customer, **as_item_fields(p, sub, now))
    if change.reset:
        billing.start_cycle(call, sub, now)
        invoice, paid = billing.bill(call, sub, now, "subscription_update")
    elif change.behavior == "always_invoice" and invoiceitems.pending(call.state, customer["id"], sub["currency"]):
        invoice = invoices.new_invoice(call, sub, customer, now=now, reason="subscription_update", start=now,
                                       end=sub["current_period_end"], with_sub_lines=False)
        sub["latest_invoice"] = invoice["id"]
        invoices.finalize(call, invoice, customer, now)
        paid = invoices.collect(call, invoice, billing.payment_method_for(call.state, sub), now)
    else:
        return None
    if paid:
        return None
    if invoice["next_payment_attempt"] is not None and sub["status"] == "active":
        sub["status"] = "past_due"
    return invoice
