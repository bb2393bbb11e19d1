"""Discounts: a coupon (or promotion code) applied to a subscription, an invoice or a Checkout Session,
and the amounts it takes off invoices.

``discounts=[{coupon}]`` or ``[{promotion_code}]`` redeems each (``times_redeemed`` counts it) into a
``discount`` (``di_...``; ``source: {type: coupon, coupon}``, ``start``, ``end`` for a repeating
coupon). A subscription lists its discounts' ids in ``discounts`` (``expand[]=discounts``); each
invoice made for it names the discounts in force then (``once``: until an invoice had something to
discount; ``repeating``: until ``end``). On an invoice, as the SDK's API version shows it: the lines'
``amount`` and the invoice's ``subtotal`` are before discounts; each discountable line with a positive
amount has ``discount_amounts`` (``[{amount, discount}]``); ``total_discount_amounts`` sums them per
discount; ``total`` and ``amount_due`` are after them. ``percent_off`` is taken off each line,
rounded half up to the cent; ``amount_off`` is spread over the lines in proportion to their amounts
(never more than they come to). Several discounts apply one after another to what is left.

Events: ``customer.discount.created`` when a discount is applied to a subscription,
``customer.discount.deleted`` when it is removed or, at the next renewal, has ended.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..call import Call
from ..endpoints import Route
from ..errors import invalid_request, resource_missing
from ..events import emit, emit_updated
from ..forms import as_dict
from ..lookup import get_or_404
from ..params import accepts
from ..render import render
from ..state import EmulatorState
from ..store import new_id
from . import billing, coupons, invoices
from .clock_time import customer_now

KIND = "discount"
Found = list[tuple[dict[str, Any], dict[str, Any] | None]]  # (coupon, promotion code or None) per discount


def _spec_list(value: Any, param: str) -> list[dict[str, Any]]:
    if value in ("", None):
        return []
    if not isinstance(value, list):
        raise invalid_request("Invalid array", param=param)
    specs = []
    for index, raw in enumerate(value):
        spec = as_dict(raw, f"{param}[{index}]")
        if bool(spec.get("coupon")) == bool(spec.get("promotion_code")):
            raise invalid_request("Each discount takes exactly one of coupon or promotion_code.",
                                  param=f"{param}[{index}]")
        specs.append(spec)
    return specs


def resolve(call: Call, value: Any, param: str, *, customer: dict[str, Any] | None, currency: str | None,
            amount: int) -> Found:
    """``discounts`` checked: (coupon, promotion code or None) for each element, nothing redeemed yet."""
    found: Found = []
    for index, spec in enumerate(_spec_list(value, param)):
        where = f"{param}[{index}]"
        if spec.get("coupon"):
            coupon = call.state.store.get(coupons.COUPON, str(spec["coupon"]))
            if coupon is None or coupon.get("_deleted"):
                raise invalid_request(f"No such coupon: '{spec['coupon']}'", param=f"{where}[coupon]",
                                      code="resource_missing")
            found.append((coupons.usable_coupon(call, coupon, f"{where}[coupon]", customer=customer,
                                                currency=currency), None))
            continue
        promo = call.state.store.get(coupons.PROMO, str(spec["promotion_code"]))
        if promo is None:
            raise invalid_request(f"No such promotion code: '{spec['promotion_code']}'",
                                  param=f"{where}[promotion_code]", code="resource_missing")
        coupon = coupons.usable_promotion_code(call, promo, f"{where}[promotion_code]", customer=customer,
                                               currency=currency, amount=amount)
        found.append((coupon, promo))
    coupon_ids = [c["id"] for c, _ in found]
    if len(set(coupon_ids)) != len(coupon_ids):
        raise invalid_request("The same coupon cannot be applied twice.", param=param)
    return found


def redeem(call: Call, coupon: dict[str, Any], promo: dict[str, Any] | None, now: int, *,
           customer_id: str | None, subscription: str | None = None, invoice: str | None = None,
           checkout_session: str | None = None) -> dict[str, Any]:
    """Make (and store) the discount, counting the redemption."""
    coupon["times_redeemed"] += 1
    if promo is not None:
        promo["times_redeemed"] += 1
    months = coupon["duration_in_months"] if coupon["duration"] == "repeating" else None
    record = {
        "id": new_id("di"), "object": KIND, "checkout_session": checkout_session, "customer": customer_id,
        "customer_account": None, "end": billing.add_interval(now, "month", int(months)) if months else None,
        "invoice": invoice, "invoice_item": None, "promotion_code": promo["id"] if promo else None,
        "source": {"coupon": coupon["id"], "type": "coupon"}, "start": now, "subscription": subscription,
        "subscription_item": None, "_used": False,
    }
    call.state.store.put(KIND, record)
    return record


def coupon_of(state: EmulatorState, discount: dict[str, Any]) -> dict[str, Any]:
    return state.store.get(coupons.COUPON, discount["source"]["coupon"]) or {}


def in_force(state: EmulatorState, discount_ids: list[str], now: int) -> list[str]:
    """The discounts that still apply to an invoice made at ``now``."""
    kept = []
    for discount_id in discount_ids:
        discount = state.store.get(KIND, discount_id)
        if discount is None or (discount["end"] is not None and now >= discount["end"]):
            continue
        if coupon_of(state, discount).get("duration") == "once" and discount["_used"]:
            continue
        kept.append(discount_id)
    return kept


# --- subscriptions ------------------------------------------------------------------------------


def apply_to_subscription(call: Call, sub: dict[str, Any], found: Found, now: int, *,
                          announce: bool = True) -> list[dict[str, Any]]:
    """Replace the subscription's discounts by ``found`` (those already on it are kept as they are);
    returns the new ones (``announce=False``: their ``customer.discount.created`` is the caller's)."""
    current = {coupon_of(call.state, d)["id"]: d for d in _records(call.state, sub["discounts"])}
    wanted = {coupon["id"] for coupon, _ in found}
    for coupon_id, discount in current.items():
        if coupon_id not in wanted:
            _remove(call, sub, discount, now)
    made = []
    for coupon, promo in found:
        if coupon["id"] not in current:
            discount = redeem(call, coupon, promo, now, customer_id=sub["customer"], subscription=sub["id"])
            sub["discounts"].append(discount["id"])
            made.append(discount)
    if announce:
        announce_created(call, made, now)
    return made


def announce_created(call: Call, made: list[dict[str, Any]], now: int) -> None:
    for discount in made:
        emit(call, "customer.discount.created", KIND, discount, created=now)


def _records(state: EmulatorState, ids: list[str]) -> list[dict[str, Any]]:
    return [d for d in (state.store.get(KIND, i) for i in ids) if d is not None]


def _remove(call: Call, sub: dict[str, Any], discount: dict[str, Any], now: int) -> None:
    sub["discounts"].remove(discount["id"])
    emit(call, "customer.discount.deleted", KIND, discount, created=now)


def end_finished(call: Call, sub: dict[str, Any], now: int) -> None:
    """At a renewal: drop the discounts that have ended (``customer.discount.deleted``)."""
    live = set(in_force(call.state, sub["discounts"], now))
    for discount in _records(call.state, list(sub["discounts"])):
        if discount["id"] not in live:
            _remove(call, sub, discount, now)


@accepts(expand=False)
def delete_subscription_discount(call: Call, sub_id: str) -> dict[str, Any]:
    """``DELETE /v1/subscriptions/{id}/discount``: removes the subscription's discounts."""
    sub = get_or_404(call, "subscription", sub_id)
    records = _records(call.state, sub["discounts"])
    if not records:
        raise resource_missing("discount", sub_id)
    before = billing.snapshot(sub)
    now = customer_now(call.state, billing.customer_of(call, sub))
    for discount in records:
        _remove(call, sub, discount, now)
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
    return {**render(call.state, KIND, records[0]), "deleted": True}


# --- amounts ------------------------------------------------------------------------------------


def _percent_of(amount: int, percent: float) -> int:
    return int((Decimal(amount) * Decimal(str(percent)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(amounts: list[int], coupon: dict[str, Any]) -> list[int]:
    """What ``coupon`` takes off each of ``amounts`` (non-negative amounts, what is left to discount)."""
    if coupon.get("percent_off") is not None:
        return [_percent_of(a, coupon["percent_off"]) for a in amounts]
    base = sum(amounts)
    off = min(int(coupon.get("amount_off") or 0), base)
    if not base or not off:
        return [0 for _ in amounts]
    shares = [off * a // base for a in amounts]
    rest = off - sum(shares)
    for index in sorted(range(len(amounts)), key=lambda i: -amounts[i]):
        if rest <= 0:
            break
        if amounts[index] - shares[index] > 0:
            shares[index] += 1
            rest -= 1
    return shares


def discount_invoice(call: Call, invoice: dict[str, Any]) -> int:
    """``invoices.DISCOUNTER``: fill the lines' ``discount_amounts`` and ``total_discount_amounts``."""
    lines = invoice["lines"]["data"]
    left = [line["amount"] if line.get("discountable", True) and line["amount"] > 0 else 0 for line in lines]
    for line in lines:
        line["discount_amounts"] = []
    totals = []
    for discount in _records(call.state, invoice.get("discounts") or []):
        shares = split(left, coupon_of(call.state, discount))
        for index, share in enumerate(shares):
            if left[index] > 0:
                lines[index]["discount_amounts"].append({"amount": share, "discount": discount["id"]})
            left[index] -= share
        totals.append({"amount": sum(shares), "discount": discount["id"]})
    invoice["total_discount_amounts"] = totals
    return sum(t["amount"] for t in totals)


def _after_emit(call: Call, event_type: str, record: dict[str, Any], created: int) -> None:
    """A ``once`` discount is used up by the first finalized invoice it took something off."""
    if event_type != "invoice.finalized":
        return
    for total in record.get("total_discount_amounts") or []:
        discount = call.state.store.get(KIND, total["discount"])
        if discount is not None and total["amount"] > 0:
            discount["_used"] = True


invoices.DISCOUNTER.append(discount_invoice)
invoices.SUBSCRIPTION_DISCOUNTS.append(in_force)


def _install() -> None:
    from ..events import AFTER_EMIT

    if _after_emit not in AFTER_EMIT:
        AFTER_EMIT.append(_after_emit)


_install()


ROUTES: list[Route] = [
    ("DELETE", "/v1/subscriptions/{id}/discount", delete_subscription_discount),
]
