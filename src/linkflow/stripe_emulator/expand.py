"""``expand[]``: replace object ids in an answer by the objects, along dotted paths.

``customer``, ``latest_invoice``, ``items.data.price.product`` and ``data.<field>`` on lists all
work the same way: walk the path (through lists element-wise), expand ids met on the way.

Stripe refuses a path of more than four levels and counts every segment, ``data`` on a list
included: ``data.items.data.price`` is the deepest expansion of a subscription list.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid_request
from .forms import as_str_list
from .render import EXTRA_EXPANSIONS, render_id
from .state import EmulatorState
from .versions import ACCOUNT_VERSION, adapt, expansion_allowed

MAX_DEPTH = 4


def expansion_paths(value: Any) -> list[str]:
    """The ``expand`` parameter as paths, refused before anything runs when one is too deep."""
    paths = as_str_list(value, "expand")
    for path in paths:
        if len(path.split(".")) > MAX_DEPTH:
            raise invalid_request(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                param="expand", code="property_expansion_max_depth",
            )
    return paths


def expand(state: EmulatorState, body: dict[str, Any], paths: list[str],
           version: str = ACCOUNT_VERSION) -> dict[str, Any]:
    """Expand ``paths`` in ``body``; every object expanded is shown as API version ``version`` has it."""
    for path in paths:
        if path == "total_count":
            continue  # search results count themselves
        _walk(state, body, path.split("."), path, version)
    return body


def _walk(state: EmulatorState, node: Any, parts: list[str], path: str, version: str) -> None:
    if isinstance(node, list):
        for element in node:
            _walk(state, element, parts, path, version)
        return
    if not isinstance(node, dict):
        return
    key, rest = parts[0], parts[1:]
    kind = str(node.get("object"))
    extra = EXTRA_EXPANSIONS.get((kind, key)) if expansion_allowed(kind, key, version) else None
    if key not in node and extra is not None:
        node[key] = extra(state, node)
    if key not in node:
        raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
    value = node[key]
    if isinstance(value, str):
        expanded = render_id(state, value)
        if expanded is None:
            raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
        node[key] = value = adapt(state, expanded, version)
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        expanded_all = [render_id(state, v) for v in value]  # a list of ids (``discounts``)
        if any(e is None for e in expanded_all):
            raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
        node[key] = value = adapt(state, expanded_all, version)
    elif value is not None and not isinstance(value, dict | list):
        raise invalid_request(f"This property cannot be expanded ({path}).", param="expand")
    if rest:
        _walk(state, value, rest, path, version)
