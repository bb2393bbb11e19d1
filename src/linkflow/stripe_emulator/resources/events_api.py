"""``/v1/events``: list (by ``type``/``types[]``/``created``) and retrieve."""

from __future__ import annotations

import fnmatch
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..forms import as_str_list
from ..lists import created_filter, page
from ..lookup import get_or_404
from ..params import CREATED, LIST, accepts
from ..store import public


@accepts()
def retrieve(call: Call, event_id: str) -> dict[str, Any]:
    return public(get_or_404(call, "event", event_id))


# Not implemented, so refused: delivery_success.
@accepts("type", "types", *CREATED, *LIST)
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


ROUTES: list[Route] = crud_routes("/v1/events", list_all=list_events, retrieve=retrieve)
