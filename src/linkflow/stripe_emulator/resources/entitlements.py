"""Stripe Entitlements: features, features attached to products, customers' active entitlements.

A customer is entitled to the features of the products of its subscriptions that are active,
trialing or past_due. Whenever that set changes, ``entitlements.active_entitlement_summary.updated``
is emitted (with the previous set in ``previous_attributes``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param, resource_missing
from ..events import AFTER_EMIT, emit
from ..forms import as_bool, blank_to_none, merge_metadata
from ..lists import page
from ..lookup import get_or_404, referenced
from ..params import LIST, accepts
from ..render import deleted_stub
from ..store import new_id, public

FEATURE = "entitlement_feature"
SUMMARY = "entitlement_summary"
ENTITLING_STATUSES = ("active", "trialing", "past_due")


@accepts("name", "lookup_key", "metadata")
def create_feature(call: Call) -> dict[str, Any]:
    params = call.params
    for required in ("name", "lookup_key"):
        if not params.get(required):
            raise missing_param(required)
    if any(f["lookup_key"] == params["lookup_key"] for f in call.state.store.table(FEATURE).values()):
        raise invalid_request("A feature with this lookup_key already exists.", param="lookup_key")
    feature = {"id": new_id("feat_test"), "object": "entitlements.feature", "active": True, "livemode": False,
               "lookup_key": params["lookup_key"], "metadata": merge_metadata({}, params.get("metadata", {})),
               "name": params["name"]}
    call.state.store.put(FEATURE, feature)
    return public(feature)


@accepts()
def retrieve_feature(call: Call, feature_id: str) -> dict[str, Any]:
    return public(get_or_404(call, FEATURE, feature_id, label="feature"))


@accepts("name", "metadata", "active")
def update_feature(call: Call, feature_id: str) -> dict[str, Any]:
    feature = get_or_404(call, FEATURE, feature_id, label="feature")
    if "name" in call.params:
        feature["name"] = blank_to_none(call.params["name"]) or feature["name"]
    if "metadata" in call.params:
        feature["metadata"] = merge_metadata(feature["metadata"], call.params["metadata"])
    if "active" in call.params:
        feature["active"] = as_bool(call.params["active"], "active")
        _refresh_everyone(call)
    return public(feature)


# Not implemented, so refused: archived.
@accepts("lookup_key", *LIST)
def list_features(call: Call) -> dict[str, Any]:
    lookup_key = call.params.get("lookup_key")
    rows = [f for f in call.state.store.newest_first(FEATURE) if lookup_key in (None, f["lookup_key"])]
    return page(call, rows, "/v1/entitlements/features", public, "feature")


# --- product features -------------------------------------------------------------------------------


def _product_feature(call: Call, attached: dict[str, Any]) -> dict[str, Any]:
    feature = call.state.store.get(FEATURE, attached["feature"]) or {}
    return {"id": attached["id"], "object": "product_feature", "entitlement_feature": public(feature),
            "livemode": False}


@accepts("entitlement_feature")
def attach_feature(call: Call, product_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    feature = referenced(call, FEATURE, call.params.get("entitlement_feature"), "entitlement_feature",
                         label="feature")
    attached = {"id": new_id("prodft"), "feature": feature["id"]}
    product.setdefault("_features", []).append(attached)
    _refresh_everyone(call)
    return _product_feature(call, attached)


@accepts(*LIST)
def list_product_features(call: Call, product_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    rows = list(reversed(product.get("_features", [])))
    return page(call, rows, f"/v1/products/{product_id}/features", lambda r: _product_feature(call, r),
                "product_feature")


@accepts()
def retrieve_product_feature(call: Call, product_id: str, attached_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    attached = next((a for a in product.get("_features", []) if a["id"] == attached_id), None)
    if attached is None:
        raise resource_missing("product_feature", attached_id)
    return _product_feature(call, attached)


@accepts(expand=False)
def detach_feature(call: Call, product_id: str, attached_id: str) -> dict[str, Any]:
    product = get_or_404(call, "product", product_id)
    attached = next((a for a in product.get("_features", []) if a["id"] == attached_id), None)
    if attached is None:
        raise resource_missing("product_feature", attached_id)
    product["_features"].remove(attached)
    _refresh_everyone(call)
    return deleted_stub({"id": attached_id, "object": "product_feature"})


# --- active entitlements ------------------------------------------------------------------------------


def _entitled_features(call: Call, customer_id: str) -> list[str]:
    store = call.state.store
    customer = store.get("customer", customer_id) or {}
    found: list[str] = []
    for sub_id in customer.get("_subscriptions", []):
        sub = store.get("subscription", sub_id)
        if sub is None or sub["status"] not in ENTITLING_STATUSES:
            continue
        for item in sub["_items"]:
            price = store.get("price", item["price"]) or {}
            product = store.get("product", price.get("product", "")) or {}
            for attached in product.get("_features", []):
                feature = store.get(FEATURE, attached["feature"])
                if feature is not None and feature["active"] and feature["id"] not in found:
                    found.append(feature["id"])
    return found


def _entitlement(call: Call, customer_id: str, feature_id: str, *, expand_feature: bool = False) -> dict[str, Any]:
    feature = call.state.store.get(FEATURE, feature_id) or {"lookup_key": None}
    digest = hashlib.sha256(f"{customer_id}/{feature_id}".encode()).hexdigest()[:24]
    return {"id": f"ent_test_{digest}", "object": "entitlements.active_entitlement",
            "feature": public(feature) if expand_feature else feature_id, "livemode": False,
            "lookup_key": feature["lookup_key"]}


def _summary(call: Call, customer_id: str, features: list[str]) -> dict[str, Any]:
    data = [_entitlement(call, customer_id, f, expand_feature=True) for f in features]
    return {"object": "entitlements.active_entitlement_summary", "customer": customer_id,
            "entitlements": {"object": "list", "data": data, "has_more": False,
                             "url": f"/v1/customer/{customer_id}/entitlements"},
            "livemode": False}


def refresh_customer(call: Call, customer_id: str, created: int) -> None:
    """Emit the summary event if the customer's entitlements changed."""
    current = _entitled_features(call, customer_id)
    known = call.state.store.get(SUMMARY, customer_id)
    before = known["features"] if known else []
    if sorted(current) == sorted(before):
        return
    call.state.store.put(SUMMARY, {"id": customer_id, "features": current})
    previous = {"entitlements": _summary(call, customer_id, before)["entitlements"]}
    emit(call, "entitlements.active_entitlement_summary.updated", SUMMARY, _summary(call, customer_id, current),
         created=created, previous=previous)


def _refresh_everyone(call: Call) -> None:
    customers = {sub["customer"] for sub in call.state.store.table("subscription").values()}
    for customer_id in sorted(customers | set(call.state.store.table(SUMMARY))):
        refresh_customer(call, customer_id, call.now())


def _after_event(call: Call, event_type: str, record: dict[str, Any], created: int) -> None:
    if event_type.startswith("customer.subscription.") and event_type != "customer.subscription.trial_will_end":
        refresh_customer(call, record["customer"], created)


AFTER_EMIT.append(_after_event)


@accepts("customer", *LIST)
def list_active(call: Call) -> dict[str, Any]:
    customer_id = call.params.get("customer")
    if not customer_id:
        raise missing_param("customer")
    rows = [_entitlement(call, str(customer_id), f) for f in _entitled_features(call, str(customer_id))]
    return page(call, rows, "/v1/entitlements/active_entitlements", lambda r: r, "active_entitlement")


@accepts()
def retrieve_active(call: Call, entitlement_id: str) -> dict[str, Any]:
    for sub in call.state.store.table("subscription").values():
        for feature_id in _entitled_features(call, sub["customer"]):
            entitlement = _entitlement(call, sub["customer"], feature_id)
            if entitlement["id"] == entitlement_id:
                return entitlement
    raise resource_missing("active_entitlement", entitlement_id)


ROUTES: list[Route] = [
    *crud_routes("/v1/entitlements/features", create=create_feature, list_all=list_features,
                 retrieve=retrieve_feature, update=update_feature),
    ("GET", "/v1/entitlements/active_entitlements", list_active),
    ("GET", "/v1/entitlements/active_entitlements/{id}", retrieve_active),
    ("POST", "/v1/products/{id}/features", attach_feature),
    ("GET", "/v1/products/{id}/features", list_product_features),
    ("GET", "/v1/products/{id}/features/{feature}", retrieve_product_feature),
    ("DELETE", "/v1/products/{id}/features/{feature}", detach_feature),
]
