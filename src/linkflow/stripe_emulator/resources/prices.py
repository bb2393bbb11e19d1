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
from ..params import CREATED, LIST, accepts, unknown_parameter
from ..render import EXTRA_EXPANSIONS, render
from ..state import EmulatorState
from ..store import new_id, public
from ..versions import basil_or_later
from .billing import snapshot
from .products import create_product
from .tiers import read_tiers

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
        "product": price["product"], "tiers_mode": price["tiers_mode"], "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"), "usage_type": recurring["usage_type"],
    }


def _recurring(call: Call, value: Any, param: str = "recurring") -> dict[str, Any] | None:
    if value is None:
        return None
    spec = as_dict(value, param)
    interval = spec.get("interval")
    if interval is None:
        raise missing_param(f"{param}[interval]")
    if interval not in INTERVALS:
        raise invalid_request(f"Invalid {param}[interval]: must be one of {', '.join(INTERVALS)}",
                              param=f"{param}[interval]")
    usage_type = spec.get("usage_type", "licensed")
    if usage_type not in ("licensed", "metered"):
        raise invalid_request(f"Invalid {param}[usage_type]: must be one of licensed or metered",
                              param=f"{param}[usage_type]")
    if usage_type == "metered":
        if basil_or_later(call.api_version):
            # Since 2025-03-31.basil a metered price needs a billing meter ("You can no longer create a price
            # with a usage_type of metered without a specified meter":
            # https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-legacy-usage-based-billing).
            # Billing meters are not implemented, so recurring[meter] itself is refused as unknown.
            raise missing_param(f"{param}[meter]")
        # Before basil: legacy usage records, not implemented: refused as any unimplemented parameter.
        raise unknown_parameter(f"{param}[usage_type]")
    return {
        "aggregate_usage": None,
        "interval": interval,
        "interval_count": as_int(spec.get("interval_count", 1), f"{param}[interval_count]", minimum=1),
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


def new_price(call: Call, params: dict[str, Any], product_id: str, *, price_id: str | None = None,
              prefix: str = "") -> dict[str, Any]:
    """A price of ``product_id`` from create parameters (``prefix``: where they sit, for errors); stored, no event."""

    def name(param: str) -> str:
        return f"{prefix}[{param}]" if prefix else param

    if not params.get("currency"):
        raise missing_param(name("currency"))
    unit_given = "unit_amount" in params or "unit_amount_decimal" in params
    tiered = read_tiers(params, unit_amount_given=unit_given)
    if tiered is None and not unit_given:
        raise missing_param(name("unit_amount"))
    amount = None if tiered is not None else as_int(params.get("unit_amount", params.get("unit_amount_decimal")),
                                                     name("unit_amount"), minimum=0)
    price_id = price_id or new_id("price")
    lookup_key = blank_to_none(params.get("lookup_key"))
    _claim_lookup_key(call, lookup_key, as_bool(params.get("transfer_lookup_key", "false"),
                                                "transfer_lookup_key"), price_id)
    recurring = _recurring(call, params.get("recurring"), name("recurring"))
    if tiered is not None and recurring is None:
        raise invalid_request("Tiered pricing is only available for recurring prices; pass recurring[interval].",
                              param=name("billing_scheme"))
    price = {
        "id": price_id, "object": "price", "active": as_bool(params.get("active", "true"), "active"),
        "billing_scheme": "per_unit" if tiered is None else "tiered", "created": call.now(),
        "currency": str(params["currency"]).lower(), "custom_unit_amount": None, "livemode": False,
        "lookup_key": lookup_key, "metadata": merge_metadata({}, params.get("metadata", {})),
        "nickname": blank_to_none(params.get("nickname")), "product": product_id, "recurring": recurring,
        "tax_behavior": _tax_behavior(params.get("tax_behavior", "unspecified")),
        "tiers_mode": None if tiered is None else tiered[0],
        "transform_quantity": None, "type": "recurring" if recurring else "one_time",
        "unit_amount": amount, "unit_amount_decimal": None if amount is None else str(amount),
        "_tiers": None if tiered is None else tiered[1],
    }
    call.state.store.put("price", price)
    return price


# Not implemented, so refused: currency_options, custom_unit_amount, recurring[aggregate_usage|meter],
# tiers[][unit_amount_decimal|flat_amount_decimal], transform_quantity; and recurring[trial_period_days],
# which Stripe's spec does not list either. Metered prices: see _recurring.
@accepts("currency", "unit_amount", "unit_amount_decimal", "product", "lookup_key", "transfer_lookup_key",
         "nickname", "metadata", "active", "tax_behavior", "billing_scheme", "tiers_mode",
         "tiers[][up_to]", "tiers[][unit_amount]", "tiers[][flat_amount]",
         *(f"product_data[{k}]" for k in ("id", "name", "active", "metadata", "statement_descriptor", "tax_code",
                                          "unit_label")),
         "recurring[interval]", "recurring[interval_count]", "recurring[usage_type]")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    if params.get("product"):
        product_id = referenced(call, "product", params["product"], "product")["id"]
    elif params.get("product_data"):
        product_id = None
    else:
        raise missing_param("product")
    if product_id is None:
        product_id = create_product(call, as_dict(params["product_data"], "product_data"))["id"]
    price = new_price(call, params, product_id)
    emit(call, "price.created", "price", price, created=price["created"])
    return render(call.state, "price", price)


def _tiers_of(state: EmulatorState, price: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``expand[]=tiers``: Stripe leaves ``tiers`` out of a price unless expanded."""
    stored = state.store.get("price", price["id"]) or {}
    tiers = stored.get("_tiers")
    return None if tiers is None else [dict(t) for t in tiers]


EXTRA_EXPANSIONS[("price", "tiers")] = _tiers_of
EXTRA_EXPANSIONS[("plan", "tiers")] = _tiers_of


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
    update_shared_fields(price, params)
    if "tax_behavior" in params:
        price["tax_behavior"] = _tax_behavior(params["tax_behavior"])
    emit_updated(call, "price.updated", "price", before, price, created=call.now())
    return render(call.state, "price", price)


def update_shared_fields(price: dict[str, Any], params: dict[str, Any]) -> None:
    """``active``, ``nickname`` and ``metadata``: what a price update and a plan update share."""
    if "active" in params:
        price["active"] = as_bool(params["active"], "active")
    if "nickname" in params:
        price["nickname"] = blank_to_none(params["nickname"])
    if "metadata" in params:
        price["metadata"] = merge_metadata(price["metadata"], params["metadata"])


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
