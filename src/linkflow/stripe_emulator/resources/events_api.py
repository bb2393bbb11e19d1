"""``/v1/events``: list (by ``type``/``types[]``/``created``) and retrieve."""

from __future__ import annotations

import fnmatch
from typing import Any

from ..call import Call
from ..errors import resource_missing
from ..forms import as_str_list
from ..lists import created_filter, page
from ..store import public


def retrieve(call: Call, event_id: str) -> dict[str, Any]:
    event = call.state.store.get("event", event_id)
    if event is None:
        raise resource_missing("event", event_id)
    return public(event)


def list_events(call: Call) -> dict[str, Any]:
    params = call.params
    patterns = []
    if params.get("type"):
        patterns.append(str(params["type"]))
    if "types" in params:
        patterns.extend(as_str_list(params["types"], "types"))
    created = created_filter(call)
    rows = [
        e for e in call.state.store.newest_first("event")
        if (not patterns or any(fnmatch.fnmatchcase(e["type"], p) for p in patterns)) and created(e)
    ]
    return page(call, rows, "/v1/events", public, "event")


ROUTES = [
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{id}", retrieve),
]
