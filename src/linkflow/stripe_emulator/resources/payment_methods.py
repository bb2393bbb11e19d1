"""Stripe's test payment methods (``pm_card_visa``, ``pm_card_chargeDeclined``, ...).

No PaymentMethod objects are kept: ids are taken as given. A test card whose name says it fails
(``...Declined...``, ``...Fail...``) attaches fine and declines every charge, which is how the
failed-renewal scenarios are played.
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid_request


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
