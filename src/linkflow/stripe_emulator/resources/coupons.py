"""Coupons and promotion codes: the API, and whether one can be redeemed right now.

A coupon takes ``percent_off`` (0 < p <= 100) or ``amount_off`` with its ``currency``, and a
``duration``: ``once`` (the first invoice that has something to discount), ``repeating`` (invoices
made during ``duration_in_months`` months after it is applied) or ``forever``. ``max_redemptions``
and ``redeem_by`` limit new redemptions (``valid`` turns false); discounts already made keep
working, also after the coupon is deleted, as on Stripe.

A promotion code is a customer-facing ``code`` for a coupon (``promotion[type]=coupon``,
``promotion[coupon]``, as API versions since 2025-09-30.clover have it) with its own ``active``,
``expires_at``, ``max_redemptions``, ``customer`` and ``restrictions`` (``first_time_transaction``:
a customer without a paid invoice; ``minimum_amount`` in ``minimum_amount_currency``). Active codes
are unique, compared without case as customers type them.

Events: ``coupon.created``, ``coupon.updated``, ``coupon.deleted``, ``promotion_code.created``,
``promotion_code.updated``.
"""

from __future__ import annotations

import secrets
import string
from decimal import Decimal, InvalidOperation
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param
from ..events import emit, emit_updated
from ..forms import as_bool, as_dict, as_int, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404
from ..params import CREATED, LIST, accepts, unknown_parameter
from ..render import RENDERERS, deleted_stub, render
from ..state import EmulatorState
from ..store import new_id, public
from ..versions import clover_or_later
from .clock_time import customer_now

COUPON, PROMO = "coupon", "promotion_code"
DURATIONS = ("once", "repeating", "forever")
_CODE_ALPHABET = string.ascii_uppercase + string.digits


def coupon_valid(state: EmulatorState, coupon: dict[str, Any], now: int | None = None) -> bool:
    now = state.clock.now_int() if now is None else now
    return (not coupon.get("_deleted") and (coupon["redeem_by"] is None or now < coupon["redeem_by"])
            and (coupon["max_redemptions"] is None or coupon["times_redeemed"] < coupon["max_redemptions"]))


def _render_coupon(state: EmulatorState, coupon: dict[str, Any]) -> dict[str, Any]:
    return {**public(coupon), "valid": coupon_valid(state, coupon)}


RENDERERS[COUPON] = _render_coupon


def _percent(value: Any) -> float:
    try:
        percent = Decimal(str(value))
    except InvalidOperation:
        raise invalid_request(f"Invalid decimal: {value}", param="percent_off") from None
    if not Decimal(0) < percent <= Decimal(100):
        raise invalid_request("percent_off must be greater than 0 and at most 100.", param="percent_off")
    return float(percent)


def _amounts(params: dict[str, Any]) -> tuple[float | None, int | None, str | None]:
    has_percent, has_amount = params.get("percent_off") not in (None, ""), params.get("amount_off") not in (None, "")
    if has_percent == has_amount:
        raise invalid_request("You must pass exactly one of percent_off or amount_off.",
                              param="amount_off" if has_amount else "percent_off")
    if has_percent:
        if params.get("currency"):
            raise invalid_request("currency can only be set with amount_off.", param="currency")
        return _percent(params["percent_off"]), None, None
    if not params.get("currency"):
        raise missing_param("currency")
    return None, as_int(params["amount_off"], "amount_off", minimum=1), str(params["currency"]).lower()


def _duration(params: dict[str, Any]) -> tuple[str, int | None]:
    duration = params.get("duration", "once")
    if duration not in DURATIONS:
        raise invalid_request("Invalid duration: must be one of once, repeating or forever", param="duration")
    months = params.get("duration_in_months")
    if duration == "repeating":
        if months in (None, ""):
            raise invalid_request("duration_in_months is required when duration is repeating.",
                                  param="duration_in_months")
        return duration, as_int(months, "duration_in_months", minimum=1)
    if months not in (None, ""):
        raise invalid_request("duration_in_months can only be set when duration is repeating.",
                              param="duration_in_months")
    return duration, None


# Not implemented, so refused: applies_to, currency_options.
@accepts("id", "percent_off", "amount_off", "currency", "duration", "duration_in_months", "max_redemptions",
         "redeem_by", "name", "metadata")
def create_coupon(call: Call) -> dict[str, Any]:
    params, now = call.params, call.now()
    coupon_id = blank_to_none(params.get("id")) or "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    existing = call.state.store.get(COUPON, str(coupon_id))
    if existing is not None and not existing.get("_deleted"):
        raise invalid_request("Coupon already exists.", param="id", code="resource_already_exists")
    percent, amount, currency = _amounts(params)
    duration, months = _duration(params)
    redeem_by = as_int(params["redeem_by"], "redeem_by") if params.get("redeem_by") not in (None, "") else None
    if redeem_by is not None and redeem_by <= now:
        raise invalid_request("Invalid timestamp: must be in the future.", param="redeem_by")
    coupon = {
        "id": str(coupon_id), "object": COUPON, "amount_off": amount, "created": now, "currency": currency,
        "duration": duration, "duration_in_months": months, "livemode": False,
        "max_redemptions": _max_redemptions(params),
        "metadata": merge_metadata({}, params.get("metadata", {})), "name": blank_to_none(params.get("name")),
        "percent_off": percent, "redeem_by": redeem_by, "times_redeemed": 0,
    }
    call.state.store.put(COUPON, coupon)
    emit(call, "coupon.created", COUPON, coupon, created=now)
    return render(call.state, COUPON, coupon)


@accepts()
def retrieve_coupon(call: Call, coupon_id: str) -> dict[str, Any]:
    return render(call.state, COUPON, get_or_404(call, COUPON, coupon_id))


# Not implemented, so refused: currency_options.
@accepts("name", "metadata")
def update_coupon(call: Call, coupon_id: str) -> dict[str, Any]:
    coupon = get_or_404(call, COUPON, coupon_id)
    before = dict(coupon)
    if "name" in call.params:
        coupon["name"] = blank_to_none(call.params["name"])
    if "metadata" in call.params:
        coupon["metadata"] = merge_metadata(coupon["metadata"], call.params["metadata"])
    emit_updated(call, "coupon.updated", COUPON, before, coupon, created=call.now())
    return render(call.state, COUPON, coupon)


@accepts(expand=False)
def delete_coupon(call: Call, coupon_id: str) -> dict[str, Any]:
    """Existing discounts keep the coupon; nobody can redeem it any more."""
    coupon = get_or_404(call, COUPON, coupon_id)
    emit(call, "coupon.deleted", COUPON, coupon, created=call.now())
    coupon["_deleted"] = True
    return deleted_stub(coupon)


@accepts(*CREATED, *LIST)
def list_coupons(call: Call) -> dict[str, Any]:
    created = created_filter(call)
    rows = [c for c in call.state.store.newest_first(COUPON) if created(c)]
    return page(call, rows, "/v1/coupons", lambda r: render(call.state, COUPON, r), COUPON)


# --- promotion codes ----------------------------------------------------------------------------


def _live_code(state: EmulatorState, code: str) -> dict[str, Any] | None:
    return next((p for p in state.store.table(PROMO).values() if p["active"] and p["code"].lower() == code.lower()),
                None)


def _restrictions(params: dict[str, Any]) -> dict[str, Any]:
    spec = as_dict(params.get("restrictions", {}), "restrictions")
    minimum = spec.get("minimum_amount")
    currency = blank_to_none(spec.get("minimum_amount_currency"))
    if (minimum not in (None, "")) != bool(currency):
        raise invalid_request("minimum_amount and minimum_amount_currency go together.",
                              param="restrictions[minimum_amount_currency]")
    return {"currency_options": {}, "first_time_transaction": as_bool(spec.get("first_time_transaction", "false"),
                                                                      "restrictions[first_time_transaction]"),
            "minimum_amount": as_int(minimum, "restrictions[minimum_amount]", minimum=1) if currency else None,
            "minimum_amount_currency": str(currency).lower() if currency else None}


def _promotion_coupon(call: Call) -> tuple[Any, str]:
    """(coupon id, its parameter): ``promotion[coupon]`` since 2025-09-30.clover, ``coupon`` before."""
    params = call.params
    if not clover_or_later(call.api_version):
        if "promotion" in params:
            promotion = params["promotion"]
            inner = next(iter(promotion), "") if isinstance(promotion, dict) else ""
            raise unknown_parameter(f"promotion[{inner}]" if inner else "promotion")
        if not params.get("coupon"):
            raise missing_param("coupon")
        return params["coupon"], "coupon"
    if "coupon" in params:
        raise unknown_parameter("coupon")
    promotion = as_dict(params.get("promotion", {}), "promotion")
    if promotion.get("type") != "coupon":
        raise (missing_param("promotion[type]") if not promotion.get("type")
               else invalid_request("Invalid promotion[type]: must be coupon", param="promotion[type]"))
    if not promotion.get("coupon"):
        raise missing_param("promotion[coupon]")
    return promotion["coupon"], "promotion[coupon]"


# Not implemented, so refused: customer_account, restrictions[currency_options]. ``coupon`` (before
# clover) or ``promotion[...]`` (since), per the request's API version.
@accepts("promotion[type]", "promotion[coupon]", "coupon", "code", "active", "customer", "expires_at",
         "max_redemptions", "metadata", "restrictions[first_time_transaction]", "restrictions[minimum_amount]",
         "restrictions[minimum_amount_currency]")
def create_promotion_code(call: Call) -> dict[str, Any]:
    params, now = call.params, call.now()
    coupon_id, param = _promotion_coupon(call)
    coupon = call.state.store.get(COUPON, str(coupon_id))
    if coupon is None or coupon.get("_deleted"):
        raise invalid_request(f"No such coupon: '{coupon_id}'", param=param, code="resource_missing")
    code = blank_to_none(params.get("code")) or "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    active = as_bool(params.get("active", "true"), "active")
    if active and _live_code(call.state, str(code)) is not None:
        raise invalid_request(f"An active promotion code with the code {code} already exists.", param="code")
    customer_id = blank_to_none(params.get("customer"))
    if customer_id:
        get_or_404(call, "customer", str(customer_id))
    expires_at = as_int(params["expires_at"], "expires_at") if params.get("expires_at") not in (None, "") else None
    if expires_at is not None and (expires_at <= now or (coupon["redeem_by"] and expires_at > coupon["redeem_by"])):
        raise invalid_request("expires_at must be in the future and not after the coupon's redeem_by.",
                              param="expires_at")
    record = {
        "id": new_id("promo"), "object": PROMO, "active": active, "code": str(code), "created": now,
        "customer": customer_id, "customer_account": None, "expires_at": expires_at, "livemode": False,
        "max_redemptions": _max_redemptions(params),
        "metadata": merge_metadata({}, params.get("metadata", {})),
        "promotion": {"coupon": coupon["id"], "type": "coupon"}, "restrictions": _restrictions(params),
        "times_redeemed": 0,
    }
    call.state.store.put(PROMO, record)
    emit(call, "promotion_code.created", PROMO, record, created=now)
    return render(call.state, PROMO, record)


@accepts()
def retrieve_promotion_code(call: Call, promo_id: str) -> dict[str, Any]:
    return render(call.state, PROMO, get_or_404(call, PROMO, promo_id))


# Not implemented, so refused: restrictions[currency_options].
@accepts("active", "metadata")
def update_promotion_code(call: Call, promo_id: str) -> dict[str, Any]:
    record = get_or_404(call, PROMO, promo_id)
    before = dict(record)
    if "active" in call.params:
        active = as_bool(call.params["active"], "active")
        if active and not record["active"] and _live_code(call.state, record["code"]) is not None:
            raise invalid_request(f"An active promotion code with the code {record['code']} already exists.",
                                  param="active")
        record["active"] = active
    if "metadata" in call.params:
        record["metadata"] = merge_metadata(record["metadata"], call.params["metadata"])
    emit_updated(call, "promotion_code.updated", PROMO, before, record, created=call.now())
    return render(call.state, PROMO, record)


@accepts("active", "code", "coupon", "customer", *CREATED, *LIST)
def list_promotion_codes(call: Call) -> dict[str, Any]:
    params, created = call.params, created_filter(call)
    active = as_bool(params["active"], "active") if "active" in params else None
    rows = [p for p in call.state.store.newest_first(PROMO)
            if (active is None or p["active"] == active) and (not params.get("code") or p["code"] == params["code"])
            and (not params.get("coupon") or p["promotion"]["coupon"] == params["coupon"])
            and (not params.get("customer") or p["customer"] == params["customer"]) and created(p)]
    return page(call, rows, "/v1/promotion_codes", lambda r: render(call.state, PROMO, r), PROMO)


# --- redemption ---------------------------------------------------------------------------------


def _paid_before(state: EmulatorState, customer_id: str) -> bool:
    return any(i["customer"] == customer_id and i["status"] == "paid" and i["amount_paid"] > 0
               for i in state.store.table("invoice").values())


def usable_promotion_code(call: Call, promo: dict[str, Any], param: str, *, customer: dict[str, Any] | None,
                          currency: str | None, amount: int) -> dict[str, Any]:
    """The coupon of ``promo`` if this customer may redeem it on ``amount`` now (400 on ``param`` if not)."""
    now = customer_now(call.state, customer) if customer else call.now()
    if not promo["active"] or (promo["expires_at"] is not None and now >= promo["expires_at"]) or (
            promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]):
        raise invalid_request(f"This promotion code cannot be redeemed: {promo['code']} is not active.", param=param)
    if promo["customer"] and (customer is None or customer["id"] != promo["customer"]):
        raise invalid_request("This promotion code cannot be redeemed by this customer.", param=param)
    rules = promo["restrictions"]
    if rules["first_time_transaction"] and customer is not None and _paid_before(call.state, customer["id"]):
        raise invalid_request("This promotion code can only be redeemed by first-time customers.", param=param)
    if rules["minimum_amount"] is not None and (currency != rules["minimum_amount_currency"]
                                                or amount < rules["minimum_amount"]):
        raise invalid_request(f"This promotion code needs a minimum amount of {rules['minimum_amount']} "
                              f"{rules['minimum_amount_currency']}.", param=param)
    coupon = call.state.store.get(COUPON, promo["promotion"]["coupon"]) or {}
    return usable_coupon(call, coupon, param, customer=customer, currency=currency)


def usable_coupon(call: Call, coupon: dict[str, Any], param: str, *, customer: dict[str, Any] | None,
                  currency: str | None) -> dict[str, Any]:
    now = customer_now(call.state, customer) if customer else call.now()
    if not coupon_valid(call.state, coupon, now):
        raise invalid_request(f"Coupon expired: {coupon['id']}", param=param, code="coupon_expired")
    if coupon["amount_off"] is not None and currency is not None and coupon["currency"] != currency:
        raise invalid_request(f"The coupon {coupon['id']} is in {coupon['currency']}, not in {currency}.",
                              param=param)
    return coupon


def promotion_code_by_code(state: EmulatorState, code: str) -> dict[str, Any] | None:
    """The active promotion code a customer typed (hosted checkout page)."""
    return _live_code(state, code)


ROUTES: list[Route] = [
    *crud_routes("/v1/coupons", create=create_coupon, list_all=list_coupons, retrieve=retrieve_coupon,
                 update=update_coupon, delete=delete_coupon),
    *crud_routes("/v1/promotion_codes", create=create_promotion_code, list_all=list_promotion_codes,
                 retrieve=retrieve_promotion_code, update=update_promotion_code),
]


def _max_redemptions(params: dict[str, Any]) -> int | None:
    """A coupon's or promotion code's ``max_redemptions`` (at least 1; absent or blank: no limit)."""
    value = params.get("max_redemptions")
    return None if value in (None, "") else as_int(value, "max_redemptions", minimum=1)
