"""SetupIntents: saving a card for later, with the test card's outcome.

Confirming with a card that succeeds attaches it to the SetupIntent's customer (a test token becomes
a new ``pm_``, as an attach does) and ends ``succeeded`` (``setup_intent.succeeded``). A declining
card fails the setup (``setup_intent.setup_failed``, ``last_setup_error``, back to
``requires_payment_method``, a 402 as Stripe answers), except ``pm_card_chargeCustomerFail``, which
Stripe documents as attaching fine and failing only when charged. A 3-D Secure card ends
``requires_action`` (``setup_intent.requires_action``).
"""

from __future__ import annotations

import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import card_error, invalid_request
from ..events import emit
from ..forms import as_bool, blank_to_none, merge_metadata
from ..lists import created_filter, page
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, accepts
from ..render import render
from ..store import new_id
from .clock_time import clock_now
from .payment_methods import attach_param, check_payment_method, outcome, payment_method_object, token_of

KIND = "setup_intent"
USAGES = ("on_session", "off_session")


def _now(call: Call, customer_id: str | None) -> int:
    customer = call.state.store.get("customer", customer_id) if customer_id else None
    return clock_now(call.state, (customer or {}).get("test_clock"))


def _confirm(call: Call, intent: dict[str, Any], pm_value: Any) -> None:
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid_request(f"This SetupIntent's status is {intent['status']}; it cannot be confirmed.",
                              code="setup_intent_unexpected_state")
    pm_value = pm_value or intent["payment_method"]
    if not pm_value:
        raise invalid_request("You cannot confirm this SetupIntent because it's missing a payment method.",
                              code="setup_intent_unexpected_state")
    pm_id = check_payment_method(call, pm_value, "payment_method")
    now = _now(call, intent["customer"])
    result = outcome(call.state, pm_id)
    token = token_of(call.state, pm_id).lower()
    intent.update(payment_method=pm_id, next_action=None, last_setup_error=None)
    if result.kind == "declined" and not token.endswith("chargecustomerfail"):
        intent.update(status="requires_payment_method", last_setup_error={
            "type": "card_error", "code": result.code, "decline_code": result.decline_code,
            "message": result.message, "payment_method": payment_method_object(call, pm_id)})
        emit(call, "setup_intent.setup_failed", KIND, intent, created=now)
        raise card_error(str(result.code), result.message, decline_code=result.decline_code, param="payment_method",
                         extra={"setup_intent": render(call.state, KIND, intent)})
    if result.kind == "action" and intent["status"] != "requires_action":
        intent.update(status="requires_action", next_action={
            "type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                                         "stripe_js": f"https://hooks.stripe.com/3d_secure_2/"
                                                                      f"emulator/{intent['id']}"}})
        emit(call, "setup_intent.requires_action", KIND, intent, created=now)
        return
    customer = call.state.store.get("customer", intent["customer"]) if intent["customer"] else None
    if customer is not None:
        intent["payment_method"] = attach_param(call, customer, pm_id, "payment_method")
    intent["status"] = "succeeded"
    emit(call, "setup_intent.succeeded", KIND, intent, created=now)


# Not implemented, so refused: attach_to_self, automatic_payment_methods, flow_directions, mandate_data,
# on_behalf_of, payment_method_configuration, payment_method_data, payment_method_options, return_url,
# single_use.
@accepts("customer", "payment_method", "confirm", "usage", "description", "metadata", "payment_method_types")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    customer = referenced(call, "customer", params["customer"], "customer") if params.get("customer") else None
    usage = params.get("usage", "off_session")
    if usage not in USAGES:
        raise invalid_request("Invalid usage: must be one of on_session or off_session", param="usage")
    if params.get("payment_method_types") not in (None, ["card"], "card"):
        raise invalid_request("The Stripe emulator only has card payment methods.", param="payment_method_types")
    setup_id = new_id("seti")
    now = _now(call, customer["id"] if customer else None)
    intent = {
        "id": setup_id, "object": KIND, "application": None, "automatic_payment_methods": None,
        "cancellation_reason": None, "client_secret": f"{setup_id}_secret_{secrets.token_urlsafe(18)}",
        "created": now, "customer": customer["id"] if customer else None, "customer_account": None,
        "description": blank_to_none(params.get("description")), "excluded_payment_method_types": None,
        "flow_directions": None, "last_setup_error": None, "latest_attempt": None, "livemode": False,
        "mandate": None, "metadata": merge_metadata({}, params.get("metadata", {})), "next_action": None,
        "on_behalf_of": None, "payment_method": None, "payment_method_configuration_details": None,
        "payment_method_options": {}, "payment_method_types": ["card"], "single_use_mandate": None,
        "status": "requires_payment_method", "usage": usage,
    }
    if params.get("payment_method"):
        intent.update(payment_method=check_payment_method(call, params["payment_method"], "payment_method"),
                      status="requires_confirmation")
    call.state.store.put(KIND, intent)
    emit(call, "setup_intent.created", KIND, intent, created=now)
    if as_bool(params.get("confirm", "false"), "confirm"):
        _confirm(call, intent, None)
    return render(call.state, KIND, intent)


@accepts()
def retrieve(call: Call, setup_id: str) -> dict[str, Any]:
    return render(call.state, KIND, get_or_404(call, KIND, setup_id))


@accepts("payment_method")
def confirm(call: Call, setup_id: str) -> dict[str, Any]:
    intent = get_or_404(call, KIND, setup_id)
    _confirm(call, intent, call.params.get("payment_method"))
    return render(call.state, KIND, intent)


@accepts("cancellation_reason")
def cancel(call: Call, setup_id: str) -> dict[str, Any]:
    intent = get_or_404(call, KIND, setup_id)
    if intent["status"] in ("succeeded", "canceled"):
        raise invalid_request(f"You cannot cancel this SetupIntent because it has a status of {intent['status']}.",
                              code="setup_intent_unexpected_state")
    reason = call.params.get("cancellation_reason", "requested_by_customer")
    if reason not in ("abandoned", "duplicate", "requested_by_customer"):
        raise invalid_request("Invalid cancellation_reason", param="cancellation_reason")
    intent.update(status="canceled", cancellation_reason=reason, next_action=None)
    emit(call, "setup_intent.canceled", KIND, intent, created=_now(call, intent["customer"]))
    return render(call.state, KIND, intent)


@accepts("customer", "payment_method", *CREATED, *LIST)
def list_setup_intents(call: Call) -> dict[str, Any]:
    params, created = call.params, created_filter(call)
    rows = [r for r in call.state.store.newest_first(KIND)
            if (not params.get("customer") or r["customer"] == params["customer"])
            and (not params.get("payment_method") or r["payment_method"] == params["payment_method"]) and created(r)]
    return page(call, rows, "/v1/setup_intents", lambda r: render(call.state, KIND, r), KIND)


ROUTES: list[Route] = [
    *crud_routes("/v1/setup_intents", create=create, list_all=list_setup_intents, retrieve=retrieve),
    ("POST", "/v1/setup_intents/{id}/confirm", confirm),
    ("POST", "/v1/setup_intents/{id}/cancel", cancel),
]
