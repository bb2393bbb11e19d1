"""The legacy ``/v1/plans``: a plan is a recurring price seen through the older API.

As on Stripe, plans and prices are one thing ("Plans and prices are compatible: any plan can be used
as a price and vice versa", https://docs.stripe.com/billing/migration/migrating-prices): a plan
created here is a price with the same id (``prices.retrieve`` finds it, a subscription item takes
it as ``price`` or ``plan``), and every recurring price is listed as a plan. Creating one emits
``plan.created`` and ``price.created``; deleting it (``plan.deleted``) deletes the price too.
"""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param, resource_missing
from ..events import emit, emit_updated
from ..forms import as_bool, as_int, blank_to_none
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import RENDERERS, deleted_stub
from ..state import EmulatorState
from .billing import snapshot
from .prices import new_price, plan_of, update_shared_fields
from .products import create_product

PRODUCT_FIELDS = ("id", "name", "active", "metadata", "statement_descriptor", "unit_label")


def _render_plan(state: EmulatorState, price: dict[str, Any]) -> dict[str, Any]:
    return plan_of(price) or {}


RENDERERS["plan"] = _render_plan


def _plan(call: Call, plan_id: str) -> dict[str, Any]:
    price = get_or_404(call, "price", plan_id, label="plan")
    if price.get("recurring") is None:  # a one-time price is no plan
        raise resource_missing("plan", plan_id)
    return price


def _product_id(call: Call, value: Any) -> str:
    if isinstance(value, dict):
        return str(create_product(call, value)["id"])
    return str(referenced(call, "product", value, "product")["id"])


# Not implemented, so refused: aggregate_usage, amount_decimal, transform_usage,
# tiers[][unit_amount_decimal|flat_amount_decimal]; usage_type=metered as on prices.
@accepts("id", "amount", "currency", "interval", "interval_count", "product",
         *(f"product[{k}]" for k in PRODUCT_FIELDS), "nickname", "metadata", "active", "trial_period_days",
         "usage_type", "billing_scheme", "tiers_mode", "tiers[][up_to]", "tiers[][unit_amount]",
         "tiers[][flat_amount]")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    for name in ("currency", "interval", "product"):
        if not params.get(name):
            raise missing_param(name)
    plan_id = blank_to_none(params.get("id"))
    if plan_id and call.state.store.get("price", str(plan_id)) is not None:
        raise invalid_request("Plan already exists.", param="id", code="resource_already_exists")
    price_params: dict[str, Any] = {
        k: params[k] for k in ("currency", "nickname", "metadata", "active", "billing_scheme", "tiers_mode", "tiers")
        if k in params}
    if "amount" in params:
        price_params["unit_amount"] = params["amount"]
    price_params["recurring"] = {k: params[k] for k in ("interval", "interval_count", "usage_type") if k in params}
    product_id = _product_id(call, params["product"])
    price = new_price(call, price_params, product_id, price_id=str(plan_id) if plan_id else None)
    if params.get("trial_period_days") not in (None, ""):
        price["recurring"]["trial_period_days"] = as_int(params["trial_period_days"], "trial_period_days",
                                                         minimum=0, maximum=730)
    emit(call, "plan.created", "plan", price, created=price["created"])
    emit(call, "price.created", "price", price, created=price["created"])
    return _render_plan(call.state, price)


@accepts()
def retrieve(call: Call, plan_id: str) -> dict[str, Any]:
    return _render_plan(call.state, _plan(call, plan_id))


@accepts("active", "nickname", "metadata", "trial_period_days")
def update(call: Call, plan_id: str) -> dict[str, Any]:
    price = _plan(call, plan_id)
    params = call.params
    before = snapshot(price)
    update_shared_fields(price, params)
    if "trial_period_days" in params:
        price["recurring"]["trial_period_days"] = as_int(params["trial_period_days"], "trial_period_days",
                                                         minimum=0, maximum=730)
    emit_updated(call, "plan.updated", "plan", before, price, created=call.now())
    return _render_plan(call.state, price)


@accepts(expand=False)
def delete(call: Call, plan_id: str) -> dict[str, Any]:
    price = _plan(call, plan_id)
    emit(call, "plan.deleted", "plan", price, created=call.now())
    price["_deleted"] = True
    price["active"] = False
    return {**deleted_stub(price), "object": "plan"}


@accepts("active", "product", *CREATED, *LIST)
def list_plans(call: Call) -> dict[str, Any]:
    params = call.params
    active = as_bool(params["active"], "active") if "active" in params else None
    created = created_filter(call)
    rows = [
        p for p in call.state.store.newest_first("price")
        if p.get("recurring") and (active is None or p["active"] == active)
        and (not params.get("product") or p["product"] == params["product"]) and created(p)
    ]
    return page(call, rows, "/v1/plans", lambda r: _render_plan(call.state, r), "plan")


ROUTES: list[Route] = crud_routes("/v1/plans", create=create, list_all=list_plans, retrieve=retrieve,
                                  update=update, delete=delete)
