"""Stripe's reference shapes, condensed for the shape checks.

``stripe_reference_shapes.json`` (committed) holds, for every object kind the emulator answers
with: its ``object`` value, the ``required`` properties and property types of its schema in
``spec3.2023-08-16.json`` (none for kinds newer than that spec), and the top-level keys of its
example in ``fixtures3.json``. It is made
by ``extract()`` from the two files in ``../shared/stripe-reference`` (``STRIPE_REFERENCE_DIR``);
a test checks the committed file still matches them whenever they are present.

``stripe_reference_params.json`` (committed) holds, for every endpoint the emulator routes that the
spec has, the parameters the spec gives it, flattened to bracket notation as the emulator declares
them (``items[][price]``, ``created[gt]``; ``metadata`` and arrays of strings are one name). Made by
``extract_params()``; checked the same way.

Regenerate both: ``python tests/contract/stripe_reference.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMPACT = HERE / "stripe_reference_shapes.json"
PARAMS = HERE / "stripe_reference_params.json"
SOURCE_DIR = Path(os.environ.get("STRIPE_REFERENCE_DIR", HERE.parents[2] / "shared" / "stripe-reference"))

# schema name in the spec == resource name in the fixtures
SCHEMAS = [
    "customer", "deleted_customer", "product", "deleted_product", "price", "plan", "subscription",
    "subscription_item", "invoice", "line_item", "event", "webhook_endpoint", "deleted_webhook_endpoint",
    "test_helpers.test_clock", "deleted_test_helpers.test_clock", "checkout.session", "item", "payment_method",
    "billing_portal.configuration", "billing_portal.session", "invoiceitem", "deleted_invoiceitem",
    "deleted_invoice", "payment_intent", "charge", "refund", "setup_intent", "coupon", "deleted_coupon", "deleted_plan",
]
# Newer than the 2023 spec (its "product_feature" is another thing): checked against the fixtures only.
FIXTURE_ONLY = ["entitlements.feature", "product_feature", "entitlements.active_entitlement",
                "entitlements.active_entitlement_summary", "invoice_payment",
                # changed since that spec (promotion.coupon, source.coupon): the fixtures' shape
                "promotion_code", "discount", "deleted_discount"]
LIST_PATHS = {"list": "/v1/customers", "search_result": "/v1/customers/search"}


def _types(prop: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> set[str]:
    """JSON types a property may take: string, integer, number, boolean, object, array, null."""
    found: set[str] = set()
    if prop.get("nullable"):
        found.add("null")
    if "$ref" in prop:
        target = schemas[prop["$ref"].rsplit("/", 1)[-1]]
        found |= _types(target, schemas, depth + 1) if depth < 3 else {"object"}
        if not target.get("type") and not any(k in target for k in ("anyOf", "oneOf", "allOf")):
            found.add("object")
    for key in ("anyOf", "oneOf", "allOf"):
        for option in prop.get(key, []):
            found |= _types(option, schemas, depth + 1)
    if "type" in prop:
        found.add(prop["type"])
        if prop["type"] == "number":
            found.add("integer")
    return found


def extract(spec: dict[str, Any], fixtures: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    out: dict[str, Any] = {}
    for name in SCHEMAS:
        schema = schemas[name]
        props = schema.get("properties", {})
        out[name] = {
            "object": props["object"]["enum"][0],
            "required": sorted(schema.get("required", [])),
            "types": {key: sorted(_types(value, schemas)) for key, value in sorted(props.items())},
            "fixture_keys": sorted(fixtures["resources"][name].keys()),
        }
    for name in FIXTURE_ONLY:
        example = fixtures["resources"][name]
        out[name] = {"object": example["object"], "required": [], "types": {}, "fixture_keys": sorted(example)}
    for name, path in LIST_PATHS.items():
        body = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        out[name] = {
            "object": name,
            "required": sorted(body["required"]),
            "types": {key: sorted(_types(value, schemas)) for key, value in sorted(body["properties"].items())
                      if key != "data"},
            "fixture_keys": [],
        }
    errors = schemas["api_errors"]
    out["api_errors"] = {"object": None, "required": sorted(errors["required"]),
                         "types": {k: sorted(_types(v, schemas)) for k, v in sorted(errors["properties"].items())},
                         "fixture_keys": []}
    return {"sources": ["spec3.2023-08-16.json", "fixtures3.json"], "schemas": out}


def _flatten(schema: dict[str, Any], name: str, out: list[str]) -> None:
    nested = False
    for option in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        if option.get("type") == "object" and option.get("properties"):
            nested = True
            for key, child in option["properties"].items():
                _flatten(child, f"{name}[{key}]", out)
        element = option.get("items") if option.get("type") == "array" else None
        if isinstance(element, dict) and any(o.get("properties") for o in [element, *element.get("anyOf", [])]):
            nested = True
            _flatten(element, f"{name}[]", out)
    if not nested:
        out.append(name)


def endpoint_key(method: str, path: str) -> str:
    """``POST /v1/customers/{}``: path placeholders unnamed, so the spec's and the emulator's meet."""
    return f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}"


def spec_params(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Every endpoint of the spec with its parameters (query and form body), flattened."""
    found: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            names: list[str] = []
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    _flatten(parameter.get("schema", {}), parameter["name"], names)
            body = operation.get("requestBody", {}).get("content", {})
            form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
            for key, child in form.get("properties", {}).items():
                _flatten(child, key, names)
            found[endpoint_key(method, path)] = sorted(set(names))
    return found


def extract_params(spec: dict[str, Any], endpoints: list[str]) -> dict[str, Any]:
    every = spec_params(spec)
    return {"sources": ["spec3.2023-08-16.json"],
            "endpoints": {key: every[key] for key in sorted(set(endpoints)) if key in every}}


def emulator_endpoints() -> list[str]:
    from linkflow.stripe_emulator.routing import ROUTER

    return [endpoint_key(e["method"], e["path"]) for e in ROUTER.endpoints()]


def params_from_sources(source_dir: Path = SOURCE_DIR) -> dict[str, Any]:
    spec = json.loads((source_dir / "spec3.2023-08-16.json").read_text())
    return extract_params(spec, emulator_endpoints())


def load_params() -> dict[str, list[str]]:
    endpoints: dict[str, list[str]] = json.loads(PARAMS.read_text())["endpoints"]
    return endpoints


def from_sources(source_dir: Path = SOURCE_DIR) -> dict[str, Any]:
    spec = json.loads((source_dir / "spec3.2023-08-16.json").read_text())
    fixtures = json.loads((source_dir / "fixtures3.json").read_text())
    return extract(spec, fixtures)


def load() -> dict[str, Any]:
    return json.loads(COMPACT.read_text())["schemas"]


if __name__ == "__main__":
    COMPACT.write_text(json.dumps(from_sources(), indent=1, sort_keys=True) + "\n")
    PARAMS.write_text(json.dumps(params_from_sources(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {COMPACT} and {PARAMS}")
