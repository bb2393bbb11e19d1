"""``/v1/webhook_endpoints``: where events are delivered, each with its ``whsec_`` secret."""

from __future__ import annotations

import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import invalid_request, missing_param
from ..forms import as_bool, as_str_list, blank_to_none, merge_metadata
from ..lists import page
from ..lookup import get_or_404
from ..params import LIST, accepts
from ..render import deleted_stub
from ..store import new_id, public
from ..versions import check


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid_request("Invalid URL: must be an http(s) URL.", param="url", code="url_invalid")
    return value


def _events(value: Any) -> list[str]:
    events = as_str_list(value, "enabled_events")
    if not events:
        raise missing_param("enabled_events")
    return events


# Not implemented, so refused: connect. ``api_version``: one of versions.SUPPORTED; the endpoint's
# events are rendered for it (None: the account's default version).
@accepts("url", "enabled_events", "description", "metadata", "api_version")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    if "url" not in params:
        raise missing_param("url")
    if "enabled_events" not in params:
        raise missing_param("enabled_events")
    endpoint = {
        "id": new_id("we"), "object": "webhook_endpoint",
        "api_version": check(str(params["api_version"]), param="api_version") if params.get("api_version") else None,
        "application": None, "created": call.now(), "description": blank_to_none(params.get("description")),
        "enabled_events": _events(params["enabled_events"]), "livemode": False,
        "metadata": merge_metadata({}, params.get("metadata", {})), "status": "enabled",
        "url": _url(params["url"]), "_secret": f"whsec_{secrets.token_hex(16)}",
    }
    call.state.store.put("webhook_endpoint", endpoint)
    return {**public(endpoint), "secret": endpoint["_secret"]}


@accepts()
def retrieve(call: Call, endpoint_id: str) -> dict[str, Any]:
    return public(get_or_404(call, "webhook_endpoint", endpoint_id))


@accepts("url", "enabled_events", "description", "metadata", "disabled")
def update(call: Call, endpoint_id: str) -> dict[str, Any]:
    endpoint = get_or_404(call, "webhook_endpoint", endpoint_id)
    params = call.params
    if "url" in params:
        endpoint["url"] = _url(params["url"])
    if "enabled_events" in params:
        endpoint["enabled_events"] = _events(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = blank_to_none(params["description"])
    if "metadata" in params:
        endpoint["metadata"] = merge_metadata(endpoint["metadata"], params["metadata"])
    if "disabled" in params:
        endpoint["status"] = "disabled" if as_bool(params["disabled"], "disabled") else "enabled"
    return public(endpoint)


@accepts(expand=False)
def delete(call: Call, endpoint_id: str) -> dict[str, Any]:
    endpoint = get_or_404(call, "webhook_endpoint", endpoint_id)
    endpoint["_deleted"] = True
    endpoint["status"] = "disabled"
    return deleted_stub(endpoint)


@accepts(*LIST)
def list_endpoints(call: Call) -> dict[str, Any]:
    rows = call.state.store.newest_first("webhook_endpoint")
    return page(call, rows, "/v1/webhook_endpoints", public, "webhook_endpoint")


ROUTES: list[Route] = crud_routes("/v1/webhook_endpoints", create=create, list_all=list_endpoints,
                                  retrieve=retrieve, update=update, delete=delete)
