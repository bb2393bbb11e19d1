"""List answers (``object: list``), cursor pagination and the common list filters."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from .call import Call
from .errors import invalid_request, missing_param, resource_missing
from .forms import as_dict, as_int
from .render import render
from .search import FieldRule, compile_query


def page(
    call: Call,
    records: Iterable[dict[str, Any]],
    url: str,
    render: Callable[[dict[str, Any]], dict[str, Any]],
    kind_name: str,
) -> dict[str, Any]:
    """One page of ``records`` (given newest first) as Stripe pages lists."""
    params = call.params
    limit = as_int(params.get("limit", 10), "limit", minimum=1, maximum=100)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise invalid_request("You may only specify one of these parameters: ending_before, starting_after.")
    rows = list(records)
    if after or before:
        cursor = after or before
        index = next((i for i, r in enumerate(rows) if r["id"] == cursor), None)
        if index is None:
            raise resource_missing(kind_name, str(cursor), param="starting_after" if after else "ending_before")
        if after:
            window = rows[index + 1:index + 1 + limit]
            has_more = index + 1 + limit < len(rows)
        else:
            start = max(0, index - limit)
            window = rows[start:index]
            has_more = start > 0
    else:
        window = rows[:limit]
        has_more = len(rows) > limit
    return {"object": "list", "data": [render(r) for r in window], "has_more": has_more, "url": url}


def created_filter(call: Call, field: str = "created") -> Callable[[dict[str, Any]], bool]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>``."""
    spec = call.params.get(field)
    if spec is None:
        return lambda record: True
    if isinstance(spec, str):
        exact = as_int(spec, field)
        return lambda record: record.get(field) == exact
    bounds = {op: as_int(v, f"{field}[{op}]") for op, v in as_dict(spec, field).items()}  # ops: params.CREATED

    def check(record: dict[str, Any]) -> bool:
        value = record.get(field) or 0
        return (
            ("gt" not in bounds or value > bounds["gt"])
            and ("gte" not in bounds or value >= bounds["gte"])
            and ("lt" not in bounds or value < bounds["lt"])
            and ("lte" not in bounds or value <= bounds["lte"])
        )

    return check


def search_page(
    call: Call,
    records: list[dict[str, Any]],
    url: str,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """A ``search_result`` page; ``page`` is an opaque token for the next page."""
    limit = as_int(call.params.get("limit", 10), "limit", minimum=1, maximum=100)
    token = call.params.get("page")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(str(token).encode()).decode().removeprefix("offset:"))
        except ValueError:
            raise invalid_request("Invalid page token.", param="page") from None
    window = records[offset:offset + limit]
    has_more = offset + limit < len(records)
    next_page = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else None
    result: dict[str, Any] = {
        "object": "search_result",
        "data": [render(r) for r in window],
        "has_more": has_more,
        "next_page": next_page,
        "url": url,
    }
    if "total_count" in (call.params.get("expand") or []):
        result["total_count"] = len(records)
    return result


def search_records(call: Call, kind: str, fields: dict[str, FieldRule], url: str) -> dict[str, Any]:
    """``GET /v1/<resource>/search``: the ``kind`` records the index shows yet that match ``query``."""
    query = call.params.get("query")
    if not query:
        raise missing_param("query")
    predicate = compile_query(str(query), fields)
    now = call.state.clock.now()
    rows = [
        r for r in call.state.store.newest_first(kind)
        if call.state.search.visible(r["id"], now) and predicate(r)
    ]
    return search_page(call, rows, url, lambda r: render(call.state, kind, r))
