"""Customers: create, retrieve (a deleted one answers its stub), update, delete, list, search."""

from __future__ import annotations

import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request
from ..events import emit, emit_updated
from ..forms import as_dict, as_str_list, blank_to_none, merge_metadata
from ..lists import created_filter, page, search_records
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, SEARCH, accepts
from ..render import EXTRA_EXPANSIONS, deleted_stub, render
from ..search import CUSTOMER_FIELDS
from ..state import EmulatorState
from ..store import new_id
from . import billing
from .clock_time import clock_now, customer_now
from .payment_methods import attach_param, customers_own

_TEXT_FIELDS = ("email", "name", "phone", "description")
_ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
# Not implemented, so refused: balance, cash_balance, coupon, promotion_code, invoice_prefix,
# next_invoice_sequence, shipping, source, tax, tax_id_data, invoice_settings[custom_fields|rendering_options].
TAX_EXEMPT = ("none", "exempt", "reverse")
_UPDATE_PARAMS = ("email", "name", "phone", "description", "metadata", "preferred_locales", "tax_exempt",
                  "invoice_settings[default_payment_method]", "invoice_settings[footer]",
                  *(f"address[{field}]" for field in _ADDRESS_FIELDS))


def _tax_exempt(value: Any) -> str:
    if value not in TAX_EXEMPT:
        raise invalid_request("Invalid tax_exempt: must be one of " + ", ".join(TAX_EXEMPT), param="tax_exempt")
    return str(value)


def _address(value: Any, param: str) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    spec = as_dict(value, param)
    return {field: blank_to_none(spec.get(field)) for field in _ADDRESS_FIELDS}


def _invoice_settings(call: Call, customer: dict[str, Any], value: Any, attached: dict[str, str]) -> None:
    """``attached``: test tokens this request attached, so that ``payment_method=pm_card_visa`` with
    ``invoice_settings[default_payment_method]=pm_card_visa`` names one payment method, as on Stripe."""
    spec = as_dict(value, "invoice_settings")
    settings = customer["invoice_settings"]
    if "default_payment_method" in spec:
        pm = blank_to_none(spec["default_payment_method"])
        if pm:
            pm = attached.get(pm) or customers_own(call, customer, pm, "invoice_settings[default_payment_method]")
        settings["default_payment_method"] = pm
    if "footer" in spec:
        settings["footer"] = blank_to_none(spec["footer"])


def new_customer(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Create a customer from create parameters (shared with Checkout completion)."""
    clock_id = blank_to_none(params.get("test_clock"))
    if clock_id:
        referenced(call, "test_clock", clock_id, "test_clock", label="test_helpers.test_clock")
    now = clock_now(call.state, clock_id)
    customer: dict[str, Any] = {
        "id": new_id("cus", 14), "object": "customer", "address": _address(params.get("address"), "address"),
        "balance": 0, "created": now, "currency": None, "default_source": None, "delinquent": False,
        "description": None, "discount": None, "email": None,
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": merge_metadata({}, params.get("metadata", {})), "name": None,
        "next_invoice_sequence": 1, "phone": None,
        "preferred_locales": as_str_list(params.get("preferred_locales", []), "preferred_locales"),
        "shipping": None, "tax_exempt": _tax_exempt(params.get("tax_exempt", "none")), "test_clock": clock_id,
        "_payment_methods": [],
    }
    for field in _TEXT_FIELDS:
        if field in params:
            customer[field] = blank_to_none(params[field])
    attached: dict[str, str] = {}
    if params.get("payment_method"):
        token = params["payment_method"]
        attached[str(token)] = attach_param(call, customer, token, "payment_method")
    if "invoice_settings" in params:
        _invoice_settings(call, customer, params["invoice_settings"], attached)
    call.state.store.put("customer", customer)
    emit(call, "customer.created", "customer", customer, created=now)
    return customer


@accepts(*_UPDATE_PARAMS, "payment_method", "test_clock")
def create(call: Call) -> dict[str, Any]:
    return render(call.state, "customer", new_customer(call, call.params))


@accepts()
def retrieve(call: Call, customer_id: str) -> dict[str, Any]:
    return render(call.state, "customer", get_or_404(call, "customer", customer_id, include_deleted=True))


@accepts(*_UPDATE_PARAMS)
def update(call: Call, customer_id: str) -> dict[str, Any]:
    customer = get_or_404(call, "customer", customer_id)
    params = call.params
    before = billing.snapshot(customer)
    for field in _TEXT_FIELDS:
        if field in params:
            customer[field] = blank_to_none(params[field])
    if "metadata" in params:
        customer["metadata"] = merge_metadata(customer["metadata"], params["metadata"])
    if "address" in params:
        customer["address"] = _address(params["address"], "address")
    if "preferred_locales" in params:
        locales = params["preferred_locales"]
        customer["preferred_locales"] = [] if locales == "" else as_str_list(locales, "preferred_locales")
    if "invoice_settings" in params:
        _invoice_settings(call, customer, params["invoice_settings"], {})
    if "tax_exempt" in params:
        customer["tax_exempt"] = _tax_exempt(params["tax_exempt"])
    emit_updated(call, "customer.updated", "customer", before, customer, created=customer_now(call.state, customer))
    return render(call.state, "customer", customer)


@accepts(expand=False)
def delete(call: Call, customer_id: str) -> dict[str, Any]:
    """Delete a customer; its live subscriptions are canceled first, as on Stripe."""
    customer = get_or_404(call, "customer", customer_id)
    now = customer_now(call.state, customer)
    for sub_id in customer.get("_subscriptions", []):
        sub = call.state.store.get("subscription", sub_id)
        if sub is not None and sub["status"] not in ("canceled", "incomplete_expired"):
            billing.cancel(call, sub, now, "cancellation_requested")
    emit(call, "customer.deleted", "customer", customer, created=now)
    customer["_deleted"] = True
    return deleted_stub(customer)


@accepts("email", "test_clock", *CREATED, *LIST)
def list_customers(call: Call) -> dict[str, Any]:
    params = call.params
    created = created_filter(call)
    email = params.get("email")
    clock = params.get("test_clock")
    rows = [
        c for c in call.state.store.newest_first("customer")
        if (email is None or c["email"] == email)
        and (clock is None or c["test_clock"] == clock)
        and created(c)
    ]
    return page(call, rows, "/v1/customers", lambda r: render(call.state, "customer", r), "customer")


@accepts(*SEARCH)
def search(call: Call) -> dict[str, Any]:
    return search_records(call, "customer", CUSTOMER_FIELDS, "/v1/customers/search")


def _subscriptions_of(state: EmulatorState, customer: dict[str, Any]) -> dict[str, Any]:
    """``expand[]=subscriptions`` on a customer: its subscriptions that have not ended."""
    record = state.store.get("customer", customer["id"]) or {}  # ``customer`` is the rendered one
    subs = (state.store.get("subscription", sub_id) for sub_id in reversed(record.get("_subscriptions", [])))
    rows = [render(state, "subscription", s) for s in subs
            if s is not None and s["status"] not in ("canceled", "incomplete_expired")]
    return {"object": "list", "data": rows, "has_more": False, "total_count": len(rows),
            "url": f"/v1/customers/{customer['id']}/subscriptions"}


EXTRA_EXPANSIONS[("customer", "subscriptions")] = _subscriptions_of


ROUTES: list[Route] = [
    *crud_routes("/v1/customers", create=create, list_all=list_customers, retrieve=retrieve, update=update,
                 delete=delete),
    ("GET", "/v1/customers/search", search),
]
