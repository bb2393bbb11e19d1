"""Prorations of a subscription change, as Stripe computes them: time-based, to the second.

Changing an item's price or quantity mid-period credits the unused time of what it was ("Unused
time on 1 × Pro after 02 Dec 2026", a negative amount) and charges the remaining time of what it is
now ("Remaining time on 1 × Team after 02 Dec 2026"): ``unit amount × quantity × (period end −
proration date) / (period end − period start)``, each rounded to the nearest cent. Resetting the
billing cycle (``billing_cycle_anchor=now``) credits the unused time of every item, and the new
period is invoiced in full.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..state import EmulatorState
from .invoiceitems import price_name
from .tiers import price_amount


@dataclass
class Proration:
    amount: int
    description: str
    price: dict[str, Any]
    quantity: int
    start: int
    end: int
    sub_item: str


def _share(amount: int, remaining: int, whole: int) -> int:
    """``amount × remaining / whole`` rounded half away from zero, in integer arithmetic."""
    numerator = abs(amount) * remaining
    rounded = (2 * numerator + whole) // (2 * whole)
    return rounded if amount >= 0 else -rounded


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")


def _one(state: EmulatorState, item: dict[str, Any], sub: dict[str, Any], when: int, credit: bool) -> Proration:
    price = state.store.get("price", item["price"]) or {}
    start, end = sub["current_period_start"], sub["current_period_end"]
    quantity = item.get("quantity") or 0
    full = price_amount(price, quantity)
    amount = _share(full, end - when, max(1, end - start))
    words = "Unused time on" if credit else "Remaining time on"
    return Proration(amount=-amount if credit else amount,
                     description=f"{words} {quantity} × {price_name(price)} after {_day(when)}",
                     price=price, quantity=quantity, start=when, end=end, sub_item=item["id"])


def changes(state: EmulatorState, sub: dict[str, Any], before: list[dict[str, Any]],
            after: list[dict[str, Any]], when: int) -> list[Proration]:
    """Credits for what changed or went, charges for what changed or came, in item order."""
    old = {item["id"]: item for item in before}
    new = {item["id"]: item for item in after}
    found: list[Proration] = []
    for item_id in [*old, *(i for i in new if i not in old)]:
        was, now = old.get(item_id), new.get(item_id)
        if was and now and (was["price"], was["quantity"]) == (now["price"], now["quantity"]):
            continue
        if was:
            found.append(_one(state, was, sub, when, credit=True))
        if now:
            found.append(_one(state, now, sub, when, credit=False))
    return [p for p in found if p.amount or p.quantity]


def unused(state: EmulatorState, sub: dict[str, Any], before: list[dict[str, Any]], when: int) -> list[Proration]:
    """Credits for the unused time of every item (the cycle restarts now)."""
    return [_one(state, item, sub, when, credit=True) for item in before]
