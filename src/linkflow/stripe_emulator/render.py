"""Turning stored records into the JSON the API answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .state import EmulatorState
from .store import kind_of, public

Renderer = Callable[[EmulatorState, dict[str, Any]], dict[str, Any]]

# Kinds whose JSON is more than the stored record register here (subscriptions embed their items).
RENDERERS: dict[str, Renderer] = {}

# Properties that only exist when expanded, e.g. ("customer", "subscriptions"), ("invoice", "payments").
EXTRA_EXPANSIONS: dict[tuple[str, str], Callable[[EmulatorState, dict[str, Any]], Any]] = {}


def deleted_stub(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "object": record["object"], "deleted": True}


def render(state: EmulatorState, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    if record.get("_deleted"):
        return deleted_stub(record)
    renderer = RENDERERS.get(kind)
    return renderer(state, record) if renderer else public(record)


def render_id(state: EmulatorState, object_id: str) -> dict[str, Any] | None:
    kind = kind_of(object_id)
    if kind is None and state.store.get("coupon", object_id) is not None:
        kind = "coupon"  # coupon ids are the merchant's own
    if kind is None:
        return None
    record = state.store.get(kind, object_id)
    return None if record is None else render(state, kind, record)
