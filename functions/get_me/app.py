"""GET /me: the caller's profile and entitlement (status, plan, features, period and trial ends)."""

from typing import Any

from linkflow_shared.app_api import ApiRequest, get_me
from linkflow_shared.deps import Deps
from linkflow_shared.step import step


@step(ApiRequest)
def handler(request: ApiRequest, deps: Deps) -> dict[str, Any]:
    return get_me(request, profiles=deps.profiles, entitlements=deps.entitlements).to_api_gateway()
