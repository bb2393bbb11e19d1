"""Route tables of the resource modules: ``(method, path pattern, handler)`` rows.

``{name}`` segments of a pattern match one path segment each and become the handler's arguments
after the ``Call``. Most Stripe resources expose the same five endpoints; ``crud_routes`` writes
them out so a resource module lists only what it has beyond them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate

from .call import Call

Handler = Callable[Concatenate[Call, ...], dict[str, Any]]
Route = tuple[str, str, Handler]


def crud_routes(
    path: str,
    *,
    create: Handler | None = None,
    list_all: Handler | None = None,
    retrieve: Handler | None = None,
    update: Handler | None = None,
    delete: Handler | None = None,
) -> list[Route]:
    """``POST path``, ``GET path``, ``GET|POST|DELETE path/{id}``: the ones given a handler."""
    rows: list[tuple[str, str, Handler | None]] = [
        ("POST", path, create),
        ("GET", path, list_all),
        ("GET", f"{path}/{{id}}", retrieve),
        ("POST", f"{path}/{{id}}", update),
        ("DELETE", f"{path}/{{id}}", delete),
    ]
    return [(method, pattern, handler) for method, pattern, handler in rows if handler is not None]
