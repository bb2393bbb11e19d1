"""Events: one per change, stored for ``/v1/events`` and handed to webhook delivery."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from .call import Call
from .render import render
from .store import new_id
from .versions import ACCOUNT_VERSION, adapt_event
from .webhooks import event_matches

# Called after every event with (call, event type, record, created): derived state such as
# entitlement summaries reacts to the changes it cares about.
AFTER_EMIT: list[Callable[[Call, str, dict[str, Any], int], None]] = []


def previous_attributes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Stripe's ``data.previous_attributes``: the old values of what changed, nested for hashes."""
    changed: dict[str, Any] = {}
    for key in old.keys() | new.keys():
        if key.startswith("_"):
            continue
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and "object" not in before:
            changed[key] = previous_attributes(before, after)  # a hash: only its changed keys
        else:
            changed[key] = before
    return changed


def emit(
    call: Call,
    event_type: str,
    kind: str,
    record: dict[str, Any],
    *,
    created: int,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an event about ``record`` (rendered now) and queue its webhook deliveries."""
    state = call.state
    data: dict[str, Any] = {"object": render(state, kind, {**record, "_deleted": False})}
    if previous is not None:
        data["previous_attributes"] = previous
    endpoints = [
        {"id": e["id"], "url": e["url"], "secret": e["_secret"], "api_version": e["api_version"] or ACCOUNT_VERSION}
        for e in state.store.table("webhook_endpoint").values()
        if e["status"] == "enabled" and event_matches(e["enabled_events"], event_type)
    ]
    event = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": ACCOUNT_VERSION,  # the account's default: what /v1/events shows
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": len(endpoints),
        "request": call.event_request(),
        "type": event_type,
    }
    state.store.put("event", event)
    if "id" in record:
        state.search.touch(record["id"], state.clock.now())
    for version in sorted({e["api_version"] for e in endpoints}):
        # Each endpoint gets the event rendered for its api_version (Stripe: "Webhook events use the API
        # version that's set during your webhook's endpoint creation", https://docs.stripe.com/api/versioning).
        rendered = adapt_event(state, copy.deepcopy(event), version)
        state.webhooks.enqueue(rendered, json.dumps(rendered).encode("utf-8"),
                               [e for e in endpoints if e["api_version"] == version])
    for hook in AFTER_EMIT:
        hook(call, event_type, record, created)
    return event


def emit_updated(
    call: Call, event_type: str, kind: str, before: dict[str, Any], after: dict[str, Any], *, created: int
) -> dict[str, Any] | None:
    """Emit ``*.updated`` with ``previous_attributes`` if anything visible changed."""
    old = render(call.state, kind, {**before, "_deleted": False})
    new = render(call.state, kind, {**after, "_deleted": False})
    changed = previous_attributes(old, new)
    if not changed:
        return None
    return emit(call, event_type, kind, after, created=created, previous=changed)
