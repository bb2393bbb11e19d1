"""Shape checks of Stripe objects against the condensed reference (``stripe_reference.py``).

Every dict with an ``object`` value anywhere in an answer is checked: the schema's required
properties and the fixture's top-level keys must be present, and the properties the spec knows
must have one of its types. Extra properties are fine (the spec is older than the fixtures).
"""

from __future__ import annotations

from typing import Any

from stripe_reference import load

REFERENCE = load()

# Fields the reference requires that some API versions the emulator renders lack (2025-03-31.basil moved
# the period to the items and removed the invoice's payment fields; clover changed how promotion codes and
# discounts name their coupon): which version has which is held by test_stripe_api_versions.py, so here
# they are not required of every answer.
VERSIONED = {
    "subscription": {"current_period_start", "current_period_end"},
    "subscription_item": {"current_period_start", "current_period_end"},
    "invoice": {"paid", "paid_out_of_band", "payment_intent", "charge"},
    "promotion_code": {"promotion", "coupon"},  # promotion.coupon since 2025-09-30.clover, coupon before
    "discount": {"source", "coupon"},  # source.coupon since clover, coupon before
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def schema_name(obj: dict[str, Any]) -> str:
    kind = str(obj.get("object"))
    return f"deleted_{kind}" if obj.get("deleted") is True else kind


def _check(obj: dict[str, Any], name: str, where: str, problems: list[str]) -> None:
    ref = REFERENCE.get(name)
    if ref is None:
        problems.append(f"{where}: no reference schema for object {obj.get('object')!r}")
        return
    if ref["object"] is not None and obj.get("object") != ref["object"]:
        problems.append(f"{where}: object is {obj.get('object')!r}, expected {ref['object']!r}")
    expected = (set(ref["required"]) | set(ref["fixture_keys"])) - VERSIONED.get(name, set())
    if name == "invoice" and obj.get("billing_reason") == "upcoming" and "id" not in obj:
        expected.discard("id")  # invoice.upcoming: "The received Invoice object will not have an invoice ID."
    missing = sorted(expected - set(obj))
    if missing:
        problems.append(f"{where} ({name}): missing {', '.join(missing)}")
    for key, value in obj.items():
        allowed = ref["types"].get(key)
        if allowed and _json_type(value) not in allowed:
            problems.append(f"{where}.{key} ({name}): {_json_type(value)} is not one of {', '.join(allowed)}")
    if name in ("list", "search_result") and not str(obj.get("url", "")).startswith("/v1/"):
        problems.append(f"{where}.url ({name}): {obj.get('url')!r} is not a /v1 path")


def _walk(value: Any, where: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for index, element in enumerate(value):
            _walk(element, f"{where}[{index}]", problems)
        return
    if not isinstance(value, dict):
        return
    if "object" in value and isinstance(value["object"], str):
        _check(value, schema_name(value), where, problems)
    for key, child in value.items():
        _walk(child, f"{where}.{key}", problems)


def violations(body: Any) -> list[str]:
    """Everything in an API answer (object, list, search result or error) that breaks the reference."""
    problems: list[str] = []
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and "object" not in body:
        _check(body["error"], "api_errors", "$.error", problems)
        return problems
    _walk(body, "$", problems)
    return problems


def kinds(body: Any) -> set[str]:
    """Schema names of every object in ``body``."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for element in value:
                walk(element)
        elif isinstance(value, dict):
            if isinstance(value.get("object"), str):
                found.add(schema_name(value))
            for child in value.values():
                walk(child)

    walk(body)
    return found
