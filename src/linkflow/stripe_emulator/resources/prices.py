"""Prices (with ``lookup_key``) and the legacy ``plan`` view of a recurring price."""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param
from ..events import emit, emit_updated
from ..forms import as_bool, as_dict, as_int, as_str_list, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import render
from ..store import new_id, public
from .billing import snapshot
from .products import create_product

INTERVALS = ("day", "week", "month", "year")
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")


def _tax_behavior(value: Any) -> str:
    if value not in TAX_BEHAVIORS:
        raise invalid_request("Invalid tax_behavior: must be one of " + ", ".join(TAX_BEHAVIORS),
                              param="tax_behavior")
    return str(value)


def plan_of(price: dict[str, Any]) -> dict[str, Any] | None:
    """The ``plan`` object Stripe still shows next to a recurring price."""
    recurring = price.get("recurring")
    if not recurring:
        return None
    return {
        "id": price["id"], "object": "plan", "active": price["active"], "aggregate_usage": None,
        "amount": price["unit_amount"], "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"], "created": price["created"], "currency": price["currency"],
        "interval": recurring["interval"], "interval_count": recurring["interval_count"], "livemode": False,
        "metadata": dict(price["metadata"]), "meter": None, "nickname": price["nickname"],
        "product": price["product"], "tiers_mode": None, "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"), "usage_type": recurring["usage_type"],
    }


def _recurring(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    spec = as_dict(value, "recurring")
    interval = spec.get("interval")
    if interval is None:
        raise missing_param("recurring[interval]")
    if interval not in INTERVALS:
        raise invalid_request(f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}",
                              param="recurring[interval]")
    return {
        "aggregate_usage": None,
        "interval": interval,
        "interval_count": as_int(spec.get("interval_count", 1), "recurring[interval_count]", minimum=1),
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _claim_lookup_key(call: Call, lookup_key: str | None, transfer: bool, price_id: str) -> None:
    if not lookup_key:
        return
    for other in call.state.store.table("price").values():
        if other["id"] != price_id and other["lookup_key"] == lookup_key:
            if not transfer:
                raise invalid_request(
                    f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key"
                )
            before = snapshot(other)
            other["lookup_key"] = None
            emit_updated(call, "price.updated", "price", before, other, created=call.now())


# Not implemented, so refused: billing_scheme (tiers), currency_options, custom_unit_amount,
# recurring[aggregate_usage|usage_type] (metered), tiers, tiers_mode, transform_quantity; and
# recurring[trial_period_days], which Stripe's spec does not list either.
@accepts("currency", "unit_amount", "unit_amount_decimal", "product", "lookup_key", "transfer_lookup_key",
         "nickname", "metadata", "active", "tax_behavior",
         *(f"product_data[{k}]" for k in ("id", "name", "active", "metadata", "statement_descriptor", "tax_code",
                                          "unit_label")),
         "recurring[interval]", "recurring[interval_count]")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    if not params.get("currency"):
        raise missing_param("currency")
    if "unit_amount" not in params and "unit_amount_decimal" not in params:
        raise missing_param("unit_amount")
    if params.get("product"):
        product_id = referenced(call, "product", params["product"], "product")["id"]
    elif params.get("product_data"):
        product_id = create_product(call, as_dict(params["product_data"], "product_data"))["id"]
    else:
        raise missing_param("product")
    amount = as_int(params.get("unit_amount", params.get("unit_amount_decimal")), "unit_amount", minimum=0)
    price_id = new_id("price")
    lookup_key = blank_to_none(params.get("lookup_key"))
    _claim_lookup_key(call, lookup_key, as_bool(params.get("transfer_lookup_key", "false"),
                                                "transfer_lookup_key"), price_id)
    recurring = _recurring(params.get("recurring"))
    now = call.now()
    price = {
        "id": price_id, "object": "price", "active": as_bool(params.get("active", "true"), "active"),
        "billing_scheme": "per_unit", "created": now,
        "currency": str(params["currency"]).lower(), "custom_unit_amount": None, "livemode": False,
        "lookup_key": lookup_key, "metadata": merge_metadata({}, params.get("metadata", {})),
        "nickname": blank_to_none(params.get("nickname")), "product": product_id, "recurring": recurring,
        "tax_behavior": _tax_behavior(params.get("tax_behavior", "unspecified")), "tiers_mode": None,
        "transform_quantity": None, "type": "recurring" if recurring else "one_time",
        "unit_amount": amount, "unit_amount_decimal": str(amount),
    }
    call.state.store.put("price", price)
    emit(call, "price.created", "price", price, created=now)
    return render(call.state, "price", price)


@accepts()
def retrieve(call: Call, price_id: str) -> dict[str, Any]:
    return render(call.state, "price", get_or_404(call, "price", price_id))


@accepts("active", "lookup_key", "transfer_lookup_key", "nickname", "metadata", "tax_behavior")
def update(call: Call, price_id: str) -> dict[str, Any]:
    price = get_or_404(call, "price", price_id)
    params = call.params
    before = snapshot(price)
    if "lookup_key" in params:
        lookup_key = blank_to_none(params["lookup_key"])
        _claim_lookup_key(call, lookup_key, as_bool(params.get("transfer_lookup_key", "false"),
                                                    "transfer_lookup_key"), price_id)
        price["lookup_key"] = lookup_key
    if "active" in params:
        price["active"] = as_bool(params["active"], "active")
    if "nickname" in params:
        price["nickname"] = blank_to_none(params["nickname"])
    if "metadata" in params:
        price["metadata"] = merge_metadata(price["metadata"], params["metadata"])
    if "tax_behavior" in params:
        price["tax_behavior"] = _tax_behavior(params["tax_behavior"])
    emit_updated(call, "price.updated", "price", before, price, created=call.now())
    return render(call.state, "price", price)


@accepts("active", "lookup_keys", "product", "type", "currency", *CREATED, *LIST)
def list_prices(call: Call) -> dict[str, Any]:
    params = call.params
    active = as_bool(params["active"], "active") if "active" in params else None
    lookup_keys = set(as_str_list(params["lookup_keys"], "lookup_keys")) if "lookup_keys" in params else None
    if lookup_keys is not None and len(lookup_keys) > 10:
        raise invalid_request("You may pass at most 10 lookup_keys.", param="lookup_keys")
    created = created_filter(call)
    rows = [
        p for p in call.state.store.newest_first("price")
        if (active is None or p["active"] == active)
        and (lookup_keys is None or p["lookup_key"] in lookup_keys)
        and (not params.get("product") or p["product"] == params["product"])
        and (not params.get("type") or p["type"] == params["type"])
        and (not params.get("currency") or p["currency"] == params["currency"])
        and created(p)
    ]
    return page(call, rows, "/v1/prices", lambda r: public(r), "price")


ROUTES: list[Route] = crud_routes("/v1/prices", create=create, list_all=list_prices, retrieve=retrieve,
                                  update=update)
