"""Stripe's test payment methods (``pm_card_visa``, ``pm_card_chargeDeclined``, ...).

PaymentMethods are not stored: an id stands for itself and its object is made up from it. A test
card whose name says it fails (``...Declined...``, ``...Fail...``) attaches fine and declines
every charge, which is how the failed-payment scenarios are played. A customer's attached payment
methods live on the customer record.
"""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route
from ..errors import invalid_request, resource_missing
from ..lists import page
from ..lookup import get_or_404, referenced
from ..render import SYNTHETIC
from ..state import EmulatorState

_BRANDS = {"visa": "4242", "mastercard": "4444", "amex": "8431", "discover": "1117", "diners": "0004",
           "jcb": "0505", "unionpay": "0005"}


def check_payment_method(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value.startswith("pm_"):
        raise invalid_request(f"No such PaymentMethod: '{value}'", param=param, code="resource_missing")
    return value


def declines(payment_method: str) -> bool:
    name = payment_method.lower()
    return "declined" in name or "fail" in name


def customer_payment_method(customer: dict[str, Any]) -> str | None:
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if default:
        return str(default)
    attached = customer.get("_payment_methods") or []
    return attached[-1] if attached else None


def _owner(state: EmulatorState, pm_id: str) -> str | None:
    for customer in state.store.table("customer").values():
        if not customer.get("_deleted") and pm_id in customer.get("_payment_methods", []):
            return str(customer["id"])
    return None


def payment_method_object(state: EmulatorState, pm_id: str, customer_id: str | None = None) -> dict[str, Any]:
    name = pm_id.removeprefix("pm_card_").lower()
    brand = next((b for b in _BRANDS if name.startswith(b)), "visa")
    last4 = "0002" if declines(pm_id) else _BRANDS[brand]
    return {
        "id": pm_id, "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        "card": {"brand": brand, "checks": None, "country": "US", "display_brand": brand, "exp_month": 12,
                 "exp_year": 2034, "fingerprint": f"emu{last4}{brand}", "funding": "credit", "generated_from": None,
                 "last4": last4, "networks": {"available": [brand], "preferred": None},
                 "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True}, "wallet": None},
        "created": 0, "customer": customer_id or _owner(state, pm_id), "customer_account": None,
        "livemode": False, "metadata": {}, "type": "card",
    }


SYNTHETIC["payment_method"] = payment_method_object


def retrieve(call: Call, pm_id: str) -> dict[str, Any]:
    if not pm_id.startswith("pm_"):
        raise resource_missing("PaymentMethod", pm_id)
    return payment_method_object(call.state, pm_id)


def attach(call: Call, pm_id: str) -> dict[str, Any]:
    call.allow("customer")
    customer = referenced(call, "customer", call.params.get("customer"), "customer")
    check_payment_method(pm_id, "id")
    if pm_id not in customer["_payment_methods"]:
        customer["_payment_methods"].append(pm_id)
    return payment_method_object(call.state, pm_id, customer["id"])


def detach(call: Call, pm_id: str) -> dict[str, Any]:
    owner = _owner(call.state, pm_id)
    if owner is None:
        raise invalid_request("The payment method you provided is not attached to a customer so detachment "
                              "is impossible.")
    customer = call.state.store.get("customer", owner)
    assert customer is not None
    customer["_payment_methods"].remove(pm_id)
    if customer["invoice_settings"]["default_payment_method"] == pm_id:
        customer["invoice_settings"]["default_payment_method"] = None
    obj = payment_method_object(call.state, pm_id)
    obj["customer"] = None
    return obj


def _listing(call: Call, customer: dict[str, Any], url: str) -> dict[str, Any]:
    rows = [{"id": pm} for pm in reversed(customer["_payment_methods"])]
    return page(call, rows, url, lambda r: payment_method_object(call.state, r["id"], customer["id"]),
                "payment_method")


def list_payment_methods(call: Call) -> dict[str, Any]:
    customer = referenced(call, "customer", call.params.get("customer"), "customer")
    return _listing(call, customer, "/v1/payment_methods")


def list_customer_payment_methods(call: Call, customer_id: str) -> dict[str, Any]:
    customer = get_or_404(call, "customer", customer_id)
    return _listing(call, customer, f"/v1/customers/{customer_id}/payment_methods")


ROUTES: list[Route] = [
    ("GET", "/v1/payment_methods", list_payment_methods),
    ("GET", "/v1/payment_methods/{id}", retrieve),
    ("POST", "/v1/payment_methods/{id}/attach", attach),
    ("POST", "/v1/payment_methods/{id}/detach", detach),
    ("GET", "/v1/customers/{id}/payment_methods", list_customer_payment_methods),
]
