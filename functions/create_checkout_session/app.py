"""POST /billing/checkout-session: a subscription Checkout Session for the caller's customer."""

from typing import Any

from linkflow_shared.app_api import ApiRequest, create_checkout_session
from linkflow_shared.deps import Deps
from linkflow_shared.step import step


@step(ApiRequest)
def handler(request: ApiRequest, deps: Deps) -> dict[str, Any]:
    return create_checkout_session(request, profiles=deps.profiles, cognito=deps.cognito, stripe=deps.stripe,
                                   config=deps.app()).to_api_gateway()
