"""``expand[]``: replace object ids in an answer by the objects, along dotted paths.

``customer``, ``latest_invoice``, ``items.data.price.product`` and ``data.<field>`` on lists all
work the same way: walk the path (through lists element-wise), expand ids met on the way.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid_request
from .forms import as_str_list
from .render import EXTRA_EXPANSIONS, render_id
from .state import EmulatorState

MAX_DEPTH = 4


def expand(state: EmulatorState, body: dict[str, Any], paths: Any) -> dict[str, Any]:
    for path in as_str_list(paths, "expand"):
        if path == "total_count":
            continue  # search results count themselves
        parts = path.split(".")
        if len(parts) - (1 if body.get("object") in ("list", "search_result") else 0) > MAX_DEPTH:
            raise invalid_request(f"You cannot expand more than {MAX_DEPTH} levels of a property. "
                                  f"Property: {path}", param="expand")
        _walk(state, body, parts, path)
    return body


def _walk(state: EmulatorState, node: Any, parts: list[str], path: str) -> None:
    if isinstance(node, list):
        for element in node:
            _walk(state, element, parts, path)
        return
    if not isinstance(node, dict):
        return
    key, rest = parts[0], parts[1:]
    extra = EXTRA_EXPANSIONS.get((str(node.get("object")), key))
    if key not in node and extra is not None:
        node[key] = extra(state, node)
    if key not in node:
        raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
    value = node[key]
    if isinstance(value, str):
        expanded = render_id(state, value)
        if expanded is None:
            raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
        node[key] = value = expanded
    elif value is not None and not isinstance(value, dict | list):
        raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
    if rest:
        _walk(state, value, rest, path)
