"""What a price comes to for a quantity: per unit, or tiered (``graduated`` or ``volume``).

Stripe's tiered pricing (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing):
``volume`` charges every unit at the tier the total quantity falls in; ``graduated`` charges the
units in each tier at that tier's price. A tier's ``flat_amount`` is added once when the quantity
reaches the tier (``volume``: the tier it falls in).
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid_request, missing_param
from ..forms import as_dict, as_int

TIERS_MODES = ("graduated", "volume")


def price_amount(price: dict[str, Any], quantity: int) -> int:
    """The amount of ``quantity`` units of ``price`` for one period, in the currency's minor unit."""
    if price.get("billing_scheme") != "tiered":
        return int(price.get("unit_amount") or 0) * quantity
    tiers: list[dict[str, Any]] = price["_tiers"]
    if price["tiers_mode"] == "volume":
        tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
        return (tier["unit_amount"] or 0) * quantity + (tier["flat_amount"] or 0)
    total, lower = 0, 0
    for tier in tiers:
        upper = tier["up_to"]
        units = quantity - lower if upper is None else max(0, min(quantity, upper) - lower)
        if units > 0:
            total += (tier["unit_amount"] or 0) * units + (tier["flat_amount"] or 0)
        if upper is None or quantity <= upper:
            break
        lower = upper
    return total


def read_tiers(params: dict[str, Any], *, unit_amount_given: bool) -> tuple[str, list[dict[str, Any]]] | None:
    """``(tiers_mode, tiers)`` of a ``billing_scheme=tiered`` price, checked; None for ``per_unit``."""
    scheme = params.get("billing_scheme", "per_unit")
    if scheme not in ("per_unit", "tiered"):
        raise invalid_request("Invalid billing_scheme: must be one of per_unit or tiered", param="billing_scheme")
    if scheme == "per_unit":
        for name in ("tiers", "tiers_mode"):
            if name in params:
                raise invalid_request(f"You may only specify {name} when billing_scheme is tiered.", param=name)
        return None
    if unit_amount_given:
        raise invalid_request("You may not specify unit_amount when billing_scheme is tiered.", param="unit_amount")
    mode = params.get("tiers_mode")
    if not mode:
        raise missing_param("tiers_mode")
    if mode not in TIERS_MODES:
        raise invalid_request("Invalid tiers_mode: must be one of graduated or volume", param="tiers_mode")
    raw = params.get("tiers")
    if not raw:
        raise missing_param("tiers")
    rows = raw if isinstance(raw, list) else [raw[k] for k in sorted(as_dict(raw, "tiers"), key=int)]
    tiers = [_tier(row, index, last=index == len(rows) - 1) for index, row in enumerate(rows)]
    bounds = [t["up_to"] for t in tiers[:-1]]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise invalid_request("Tiers must be sorted by increasing up_to.", param="tiers")
    return str(mode), tiers


def _tier(row: Any, index: int, *, last: bool) -> dict[str, Any]:
    spec = as_dict(row, f"tiers[{index}]")
    up_to = spec.get("up_to")
    if up_to is None:
        raise missing_param(f"tiers[{index}][up_to]")
    if last != (up_to == "inf"):
        raise invalid_request("The last tier, and only the last, must have up_to=inf.", param=f"tiers[{index}][up_to]")
    if "unit_amount" not in spec and "flat_amount" not in spec:
        raise invalid_request("Each tier needs a unit_amount or a flat_amount.", param=f"tiers[{index}]")
    unit = as_int(spec["unit_amount"], f"tiers[{index}][unit_amount]", minimum=0) if "unit_amount" in spec else None
    flat = as_int(spec["flat_amount"], f"tiers[{index}][flat_amount]", minimum=0) if "flat_amount" in spec else None
    return {
        "flat_amount": flat, "flat_amount_decimal": None if flat is None else str(flat),
        "unit_amount": unit, "unit_amount_decimal": None if unit is None else str(unit),
        "up_to": None if up_to == "inf" else as_int(up_to, f"tiers[{index}][up_to]", minimum=1),
    }
