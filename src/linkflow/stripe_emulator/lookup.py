"""Finding the stored objects a request names, with Stripe's answer when one is not there.

An object named in the path that does not exist is a 404 (``get_or_404``); one named by a parameter
is a 400 on that parameter (``referenced``). A deleted object, kept only so that retrieving it
answers its stub, counts as missing for both.
"""

from __future__ import annotations

from typing import Any

from .call import Call
from .errors import missing_param, missing_reference, resource_missing


def get_or_404(
    call: Call, kind: str, object_id: str, *, label: str | None = None, include_deleted: bool = False
) -> dict[str, Any]:
    """The stored ``kind`` record ``object_id``; ``label`` is the name Stripe's message uses."""
    record = call.state.store.get(kind, object_id)
    if record is None or (record.get("_deleted") and not include_deleted):
        raise resource_missing(label or kind, object_id)
    return record


def referenced(call: Call, kind: str, value: Any, param: str, *, label: str | None = None) -> dict[str, Any]:
    """The record a required parameter names (``customer=cus_...``)."""
    if not value:
        raise missing_param(param)
    record = call.state.store.get(kind, str(value))
    if record is None or record.get("_deleted"):
        raise missing_reference(label or kind, str(value), param)
    return record
