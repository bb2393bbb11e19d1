"""Which plan a Stripe price sells: the mapping lives in Stripe, never in code.

A price's plan is, first match wins:

1. ``product.metadata.plan`` (the product names the plan all its prices sell: "pro" for
   ``pro_monthly`` and ``pro_yearly``), when the product is expanded;
2. ``price.metadata.plan``;
3. ``price.lookup_key`` (teams that key prices by plan name).

A price with none of them has no plan (``None``): the entitlement still follows the subscription's
status, and the log line says which price needs a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def plan_for_price(price: Mapping[str, Any] | None) -> str | None:
    """The plan of ``price`` (a Stripe price as JSON, ``product`` expanded or an id)."""
    if not price:
        return None
    product = price.get("product")
    if isinstance(product, Mapping):
        plan = _text((product.get("metadata") or {}).get("plan"))
        if plan:
            return plan
    return _text((price.get("metadata") or {}).get("plan")) or _text(price.get("lookup_key"))


def plan_for_subscription(subscription: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    """``(plan, item)``: the first item (in Stripe's order) whose price maps to a plan, else the
    first item with no plan."""
    items = list(((subscription.get("items") or {}).get("data")) or [])
    for item in items:
        plan = plan_for_price(item.get("price"))
        if plan:
            return plan, item
    return None, (items[0] if items else None)
