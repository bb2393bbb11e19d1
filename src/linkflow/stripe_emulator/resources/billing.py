"""The subscription lifecycle in time: trials ending, renewals, failed payments and their retries.

Everything here takes ``now`` explicitly: a test clock advance replays each step at the moment it
is due (events carry that moment in ``created``), in time order across the clock's subscriptions.
A renewal (or a trial's end) makes a draft invoice that finalizes and is charged an hour later
(``charge_renewal``), as Stripe does; ``invoice.upcoming`` comes ``upcoming_days`` before a renewal.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from ..call import Call
from ..errors import invalid_request
from ..events import emit, emit_updated
from . import invoiceitems, invoices
from .payment_methods import customer_payment_method, declines

DAY = 86400
TRIAL_WILL_END_NOTICE = 3 * DAY
MAX_STEPS = 10_000

_SECONDS = {"day": DAY, "week": 7 * DAY}


def add_interval(ts: int, interval: str, count: int, times: int = 1) -> int:
    """``ts`` plus ``times`` billing intervals; months keep the anchor's day, clamped to month end."""
    if interval in _SECONDS:
        return ts + _SECONDS[interval] * count * times
    months = count * times * (12 if interval == "year" else 1)
    start = dt.datetime.fromtimestamp(ts, dt.UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def snapshot(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)


def interval_of(call: Call, sub: dict[str, Any]) -> tuple[str, int]:
    price = call.state.store.get("price", sub["_items"][0]["price"]) or {}
    recurring = price.get("recurring") or {"interval": "month", "interval_count": 1}
    return recurring["interval"], int(recurring["interval_count"])


def set_period(sub: dict[str, Any], start: int, end: int) -> None:
    sub["current_period_start"], sub["current_period_end"] = start, end
    for item in sub["_items"]:
        item["current_period_start"], item["current_period_end"] = start, end


def start_cycle(call: Call, sub: dict[str, Any], anchor: int) -> None:
    """Begin billing cycles at ``anchor`` (creation, trial end, resume)."""
    interval, count = interval_of(call, sub)
    sub["billing_cycle_anchor"] = anchor
    sub["_cycle"] = 0
    set_period(sub, anchor, add_interval(anchor, interval, count))


def next_cycle(call: Call, sub: dict[str, Any]) -> None:
    interval, count = interval_of(call, sub)
    sub["_cycle"] += 1
    anchor = sub["billing_cycle_anchor"]
    set_period(sub, add_interval(anchor, interval, count, sub["_cycle"]),
               add_interval(anchor, interval, count, sub["_cycle"] + 1))


def customer_of(call: Call, sub: dict[str, Any]) -> dict[str, Any]:
    customer = call.state.store.get("customer", sub["customer"])
    assert customer is not None
    return customer


def payment_method_for(state: Any, sub: dict[str, Any]) -> str | None:
    if sub.get("default_payment_method"):
        return str(sub["default_payment_method"])
    customer = state.store.get("customer", sub["customer"])
    return customer_payment_method(customer) if customer else None


def can_pay(call: Call, sub: dict[str, Any]) -> bool:
    pm = payment_method_for(call.state, sub)
    return pm is not None and not declines(call.state, pm)


def bill(call: Call, sub: dict[str, Any], now: int, reason: str) -> tuple[dict[str, Any], bool]:
    """Invoice the current period of ``sub`` and try to collect it."""
    from .discounts import end_finished  # discounts build on billing

    end_finished(call, sub, now)
    customer = customer_of(call, sub)
    invoice = invoices.new_invoice(call, sub, customer, now=now, reason=reason,
                                   start=sub["current_period_start"], end=sub["current_period_end"])
    sub["latest_invoice"] = invoice["id"]
    invoices.finalize(call, invoice, customer, now)
    return invoice, invoices.collect(call, invoice, payment_method_for(call.state, sub), now)


def draft_renewal(call: Call, sub: dict[str, Any], now: int) -> dict[str, Any]:
    """A renewal's invoice: a draft that finalizes (and is charged) an hour later, as on Stripe."""
    from .discounts import end_finished  # discounts build on billing

    end_finished(call, sub, now)
    customer = customer_of(call, sub)
    invoice = invoices.new_invoice(call, sub, customer, now=now, reason="subscription_cycle",
                                   start=sub["current_period_start"], end=sub["current_period_end"])
    invoice["automatically_finalizes_at"] = now + invoices.AUTO_FINALIZE_DELAY
    sub["latest_invoice"] = invoice["id"]
    return invoice


def upcoming(call: Call, sub: dict[str, Any], when: int) -> None:
    """``invoice.upcoming``: the renewal invoice as it would be made (no id, nothing stored)."""
    sub["_upcoming_sent_for"] = sub["current_period_end"]
    nxt = copy.deepcopy(sub)
    next_cycle(call, nxt)
    customer = customer_of(call, sub)
    invoice = invoices.blank_invoice(call, customer, now=when, reason="upcoming", currency=sub["currency"], sub=nxt,
                                     start=nxt["current_period_start"], end=nxt["current_period_end"])
    invoice["lines"]["data"].extend(invoices.subscription_lines(call, invoice["id"], nxt, nxt["current_period_start"],
                                                                nxt["current_period_end"]))
    invoice["lines"]["data"].extend(invoiceitems.line_for(i, invoice["id"])
                                    for i in invoiceitems.pending(call.state, customer["id"], sub["currency"])
                                    if i["_subscription"] in (None, sub["id"]))
    invoice["starting_balance"] = customer.get("balance") or 0
    invoices.recompute(call, invoice)
    invoice["next_payment_attempt"] = sub["current_period_end"] + invoices.AUTO_FINALIZE_DELAY
    invoice["lines"]["url"] = f"/v1/invoices/upcoming/lines?subscription={sub['id']}"
    del invoice["id"]  # "The received Invoice object will not have an invoice ID."
    emit(call, "invoice.upcoming", "invoice", invoice, created=when)


def set_status(call: Call, sub: dict[str, Any], status: str, now: int) -> None:
    before = snapshot(sub)
    sub["status"] = status
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)


def schedule_cancel(sub: dict[str, Any], at_period_end: bool, now: int) -> None:
    """``cancel_at_period_end``: as on Stripe, ``canceled_at`` records when the cancellation was asked
    for (the period end is ``cancel_at``); unscheduling clears both and the reason."""
    flips = at_period_end != sub["cancel_at_period_end"]
    sub.update(cancel_at_period_end=at_period_end, cancel_at=sub["current_period_end"] if at_period_end else None)
    if flips:
        sub["canceled_at"] = now if at_period_end else None
        sub["cancellation_details"] = {**sub["cancellation_details"],
                                       "reason": "cancellation_requested" if at_period_end else None}


def cancel(call: Call, sub: dict[str, Any], now: int, reason: str) -> None:
    sub.update(status="canceled", ended_at=now)
    sub["canceled_at"] = sub.get("canceled_at") or now
    sub["cancellation_details"] = {**sub["cancellation_details"], "reason": reason}
    emit(call, "customer.subscription.deleted", "subscription", sub, created=now)


def after_failed_payment(call: Call, sub: dict[str, Any], invoice: dict[str, Any], now: int) -> None:
    """After the last retry of ``invoice`` failed: the configured final action (cancel by default)."""
    if invoice["next_payment_attempt"] is not None:
        return
    action = call.state.billing.final_action
    if action == "cancel":
        cancel(call, sub, now, "payment_failed")
    elif action == "unpaid":
        set_status(call, sub, "unpaid", now)
    elif sub["status"] != "past_due":
        set_status(call, sub, "past_due", now)


def after_invoice_paid(call: Call, sub: dict[str, Any], invoice: dict[str, Any], now: int) -> None:
    """Paying the last open invoice brings a subscription back to active."""
    if sub["status"] not in ("past_due", "unpaid", "incomplete"):
        return
    still_open = [
        inv for inv in call.state.store.table("invoice").values()
        if inv["subscription"] == sub["id"] and inv["status"] == "open"
    ]
    if not still_open:
        set_status(call, sub, "active", now)


# --- steps --------------------------------------------------------------------------------------


def _open_invoices(call: Call, sub: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        inv for inv in call.state.store.table("invoice").values()
        if inv["subscription"] == sub["id"] and inv["status"] == "open" and inv["next_payment_attempt"]
    ]


def next_step(call: Call, sub: dict[str, Any]) -> tuple[int, int, str] | None:
    """(when, priority, action) of the next thing due for ``sub``, if any."""
    status = sub["status"]
    steps: list[tuple[int, int, str]] = []
    if status in ("active", "past_due", "unpaid", "trialing") and sub.get("cancel_at"):
        steps.append((sub["cancel_at"], 0, "cancel_at"))
    if status == "trialing":
        if not sub.get("_trial_will_end_sent"):
            steps.append((sub["trial_end"] - TRIAL_WILL_END_NOTICE, 1, "trial_will_end"))
        steps.append((sub["trial_end"], 2, "trial_end"))
    if status in ("active", "past_due"):
        steps.append((sub["current_period_end"], 2, "renew"))
        days = call.state.billing.upcoming_days
        notice = sub["current_period_end"] - int(days * DAY) if days else None
        renews = not sub.get("cancel_at") or sub["cancel_at"] > sub["current_period_end"]
        if (notice is not None and renews and notice >= sub["current_period_start"]
                and sub.get("_upcoming_sent_for") != sub["current_period_end"]):
            steps.append((notice, 1, "upcoming"))
    if status == "past_due":
        steps.extend((inv["next_payment_attempt"], 3, "retry") for inv in _open_invoices(call, sub))
    if status == "incomplete":
        expiry = sub["created"] + int(call.state.billing.incomplete_expiry_hours * 3600)
        steps.append((expiry, 2, "expire"))
    return min(steps) if steps else None


def run_step(call: Call, sub: dict[str, Any], when: int, action: str) -> None:
    if action == "cancel_at":
        cancel(call, sub, when, "cancellation_requested")
    elif action == "trial_will_end":
        sub["_trial_will_end_sent"] = True
        emit(call, "customer.subscription.trial_will_end", "subscription", sub, created=when)
    elif action == "upcoming":
        upcoming(call, sub, when)
    elif action == "trial_end":
        end_trial(call, sub, when)
    elif action == "renew":
        renew(call, sub, when)
    elif action == "retry":
        retry(call, sub, when)
    elif action == "expire":
        expire(call, sub, when)


def end_trial(call: Call, sub: dict[str, Any], now: int) -> None:
    behavior = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
    if payment_method_for(call.state, sub) is None and behavior in ("cancel", "pause"):
        if behavior == "cancel":
            cancel(call, sub, now, "cancellation_requested")
            return
        before = snapshot(sub)
        sub["status"] = "paused"
        emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
        emit(call, "customer.subscription.paused", "subscription", sub, created=now)
        return
    before = snapshot(sub)
    sub["trial_end"] = min(sub["trial_end"], now)
    sub["status"] = "active"  # until the invoice, finalized an hour later, fails to be paid
    start_cycle(call, sub, now)
    draft_renewal(call, sub, now)
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)


def renew(call: Call, sub: dict[str, Any], now: int) -> None:
    before = snapshot(sub)
    next_cycle(call, sub)
    pause = sub.get("pause_collection")
    if pause:
        customer = customer_of(call, sub)
        invoice = invoices.new_invoice(call, sub, customer, now=now, reason="subscription_cycle",
                                       start=sub["current_period_start"], end=sub["current_period_end"])
        sub["latest_invoice"] = invoice["id"]
        emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
        if pause["behavior"] == "void":
            invoices.void(call, invoice, now)
        elif pause["behavior"] == "mark_uncollectible":
            invoices.mark_uncollectible(call, invoice, now)
        return
    draft_renewal(call, sub, now)
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)


def charge_renewal(call: Call, sub: dict[str, Any], invoice: dict[str, Any], now: int) -> None:
    """An hour after a renewal: finalize its invoice and charge it; a failure makes the subscription past due."""
    invoices.finalize(call, invoice, customer_of(call, sub), now)
    if invoices.collect(call, invoice, payment_method_for(call.state, sub), now):
        after_invoice_paid(call, sub, invoice, now)
        return
    if invoice["next_payment_attempt"] is not None and sub["status"] == "active":
        set_status(call, sub, "past_due", now)
    after_failed_payment(call, sub, invoice, now)


def retry(call: Call, sub: dict[str, Any], now: int) -> None:
    due = [inv for inv in _open_invoices(call, sub) if inv["next_payment_attempt"] <= now]
    invoice = min(due, key=lambda inv: inv["next_payment_attempt"])
    if invoices.collect(call, invoice, payment_method_for(call.state, sub), now):
        after_invoice_paid(call, sub, invoice, now)
    else:
        after_failed_payment(call, sub, invoice, now)


def expire(call: Call, sub: dict[str, Any], now: int) -> None:
    invoice = call.state.store.get("invoice", sub.get("latest_invoice") or "")
    if invoice is not None and invoice["status"] == "open":
        invoices.void(call, invoice, now)
    before = snapshot(sub)
    sub.update(status="incomplete_expired", ended_at=now)
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)


def invoice_step(invoice: dict[str, Any]) -> tuple[int, int, str] | None:
    """The next thing due for an invoice outside a subscription's cycle: finalizing an ``auto_advance``
    draft (and charging it), or the payment attempt of an open one-off invoice."""
    if invoice["status"] == "draft" and invoice["auto_advance"] and invoice["automatically_finalizes_at"]:
        return invoice["automatically_finalizes_at"], 1, "finalize"
    if (invoice["status"] == "open" and invoice["subscription"] is None and invoice["next_payment_attempt"]
            and invoice["collection_method"] == "charge_automatically"):
        return invoice["next_payment_attempt"], 3, "attempt"
    return None


def run_invoice_step(call: Call, invoice: dict[str, Any], when: int, action: str) -> None:
    customer = call.state.store.get("customer", invoice["customer"]) or {}
    sub = call.state.store.get("subscription", invoice["subscription"] or "")
    if action == "finalize" and sub is not None and invoice["billing_reason"] == "subscription_cycle":
        charge_renewal(call, sub, invoice, when)
        return
    if action == "finalize":
        invoices.finalize(call, invoice, customer, when)
        if invoice["collection_method"] != "charge_automatically":
            return
    pm = invoice.get("default_payment_method") or customer_payment_method(customer)
    invoices.collect(call, invoice, pm, when)


def advance(call: Call, subscriptions: Callable[[], list[dict[str, Any]]], until: int,
            invoices_of: Callable[[], list[dict[str, Any]]] = list) -> int:
    """Run every step due up to ``until``, earliest first; returns how many ran."""
    for count in range(MAX_STEPS):
        best: tuple[tuple[int, int, str], dict[str, Any], bool] | None = None
        for sub in subscriptions():
            step = next_step(call, sub)
            if step is not None and step[0] <= until and (best is None or step < best[0]):
                best = (step, sub, True)
        for invoice in invoices_of():
            step = invoice_step(invoice)
            if step is not None and step[0] <= until and (best is None or step < best[0]):
                best = (step, invoice, False)
        if best is None:
            return count
        (when, _, action), record, is_sub = best
        if is_sub:
            run_step(call, record, when, action)
        else:
            run_invoice_step(call, record, when, action)
    raise invalid_request(f"More than {MAX_STEPS} billing steps in one advance; advance in smaller steps.",
                          param="frozen_time")
