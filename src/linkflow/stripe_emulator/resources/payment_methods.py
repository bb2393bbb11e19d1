"""PaymentMethods: Stripe's test tokens (``pm_card_visa``, ``pm_card_chargeDeclined``, ...) and
the payment methods made from them, one per customer.

As on Stripe, attaching a test token creates a new ``pm_...`` PaymentMethod each time, attached to
that customer only; detaching it affects only that customer; an id that is neither stored nor a
test token is unknown (404 in the path, 400 in a parameter). A default payment method
(``invoice_settings[default_payment_method]``, a subscription's ``default_payment_method``,
``payment_method`` on ``/pay``) must be attached to that customer: a test token there is refused
as Stripe refuses it; attach it and pass the id it returns. The one place a token may name the
default is customer creation with the same token as ``payment_method``, which attaches it first.

Charging a card has the outcome Stripe documents for its test card (``outcome``):
``pm_card_chargeDeclined`` declines (``generic_decline``), ``...InsufficientFunds``
(``insufficient_funds``), ``...LostCard``, ``...StolenCard``, ``...Fraudulent``, ``...ExpiredCard``
(``expired_card``), ``...IncorrectCvc``, ``...ProcessingError``; ``pm_card_chargeCustomerFail``
attaches and then declines; ``pm_card_threeDSecure2Required`` and ``pm_card_authenticationRequired``
need 3-D Secure (``requires_action``).

As on Stripe, a card is checked when it is attached (``attach``, ``customers.create`` with
``payment_method``, a SetupIntent, Checkout): the ``chargeDeclined`` cards are refused there with
their decline (402 ``card_error``, nothing attached); ``pm_card_chargeCustomerFail`` is the card that
attaches and then fails every charge, and the 3-D Secure cards attach (they ask for authentication
when charged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..call import Call
from ..endpoints import Route
from ..errors import card_error, invalid_request
from ..lists import page
from ..lookup import get_or_404, referenced
from ..params import LIST, accepts
from ..state import EmulatorState
from ..store import new_id, public

KIND = "payment_method"
TEST_TOKEN_PREFIX = "pm_card_"
_BRANDS = {"visa": "4242", "mastercard": "4444", "amex": "8431", "discover": "1117", "diners": "0004",
           "jcb": "0505", "unionpay": "0005"}


_LAST4 = {"chargecustomerfail": "0341", "chargedeclinedinsufficientfunds": "9995", "threedsecure2required": "3220",
          "authenticationrequired": "3184"}


def _is_token(value: str) -> bool:
    return value.startswith(TEST_TOKEN_PREFIX) and len(value) > len(TEST_TOKEN_PREFIX)


def _card_of(state: EmulatorState, pm_id: str) -> str:
    """The test token a payment method was made from (a token is its own)."""
    record = state.store.get(KIND, pm_id)
    return str(record["_token"]) if record is not None else pm_id


def token_of(state: EmulatorState, pm_id: str) -> str:
    """The test token a payment method was made from."""
    return _card_of(state, pm_id)


def _fails(token: str) -> bool:
    name = token.lower()
    return "declined" in name or "fail" in name or "authentication" in name or "threedsecure2" in name


@dataclass(frozen=True)
class Outcome:
    """What charging a test card does: ``ok``, ``declined`` (``code``, ``decline_code``) or ``action`` (3DS)."""

    kind: str
    code: str | None = None
    decline_code: str | None = None
    message: str = ""


OK = Outcome("ok")
# Stripe's test cards (docs.stripe.com/testing): the token's suffix after pm_card_chargeDeclined...
_DECLINES = {
    "": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficientfunds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "lostcard": ("card_declined", "lost_card", "Your card was declined."),
    "stolencard": ("card_declined", "stolen_card", "Your card was declined."),
    "fraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "expiredcard": ("expired_card", "expired_card", "Your card has expired."),
    "incorrectcvc": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "processingerror": ("processing_error", "processing_error",
                        "An error occurred while processing your card. Try again in a little bit."),
}


def outcome_of(token: str) -> Outcome:
    name = token.removeprefix(TEST_TOKEN_PREFIX).lower()
    if name in ("threedsecure2required", "authenticationrequired", "authenticationrequiredchargedeclined"):
        return Outcome("action", "authentication_required", "authentication_required",
                       "Your card was declined. This transaction requires authentication.")
    if name == "chargecustomerfail":
        return Outcome("declined", *_DECLINES[""])
    if name.startswith("chargedeclined"):
        code, decline_code, message = _DECLINES.get(name.removeprefix("chargedeclined"), _DECLINES[""])
        return Outcome("declined", code, decline_code, message)
    return Outcome("declined", *_DECLINES[""]) if _fails(token) else OK


def outcome(state: EmulatorState, pm_id: str) -> Outcome:
    """What charging payment method ``pm_id`` (a stored one or a test token) does."""
    return outcome_of(_card_of(state, pm_id))


def declines(state: EmulatorState, pm_id: str) -> bool:
    """True unless a charge on ``pm_id`` succeeds without the customer (declines and 3DS cards)."""
    return outcome(state, pm_id).kind != "ok"


def _object(pm_id: str, token: str, customer_id: str | None, created: int) -> dict[str, Any]:
    name = token.removeprefix(TEST_TOKEN_PREFIX).lower()
    brand = next((b for b in _BRANDS if name.startswith(b)), "visa")
    last4 = _LAST4.get(name, "0002" if _fails(token) else _BRANDS[brand])
    return {
        "id": pm_id, "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        "card": {"brand": brand, "checks": None, "country": "US", "display_brand": brand, "exp_month": 12,
                 "exp_year": 2034, "fingerprint": f"emu{last4}{brand}", "funding": "credit", "generated_from": None,
                 "last4": last4, "networks": {"available": [brand], "preferred": None},
                 "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True}, "wallet": None},
        "created": created, "customer": customer_id, "customer_account": None,
        "livemode": False, "metadata": {}, "type": "card",
    }


def check_attachable(token: str) -> None:
    """Refuse a test card that Stripe's check at attach declines (all but ``chargeCustomerFail`` among
    the declining ones) with that decline, as Stripe answers."""
    result = outcome_of(token)
    if result.kind == "declined" and token.lower() != "pm_card_chargecustomerfail":
        raise card_error(str(result.code), result.message, decline_code=result.decline_code)


def _attach_new(call: Call, token: str, customer: dict[str, Any]) -> dict[str, Any]:
    check_attachable(token)
    record = _object(new_id("pm"), token, customer["id"], call.now())
    record["_token"] = token
    call.state.store.put(KIND, record)
    customer["_payment_methods"].append(record["id"])
    return record


def _stored(call: Call, value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {value}", param=param)
    return referenced(call, KIND, value, param, label="PaymentMethod")


def check_payment_method(call: Call, value: Any, param: str) -> str:
    """``value`` names a test token or a stored payment method (400 on ``param`` if not)."""
    if isinstance(value, str) and _is_token(value):
        return value
    return str(_stored(call, value, param)["id"])


def attach_param(call: Call, customer: dict[str, Any], value: Any, param: str) -> str:
    """``payment_method`` when creating a customer: a test token, or an unattached payment method."""
    if isinstance(value, str) and _is_token(value):
        return str(_attach_new(call, value, customer)["id"])
    record = _stored(call, value, param)
    if record["customer"] not in (None, customer["id"]):
        raise invalid_request("The payment method you provided has already been attached to a customer.",
                              param=param)
    if record["customer"] is None:
        record["customer"] = customer["id"]
        customer["_payment_methods"].append(record["id"])
    return str(record["id"])


def customers_own(call: Call, customer: dict[str, Any], value: Any, param: str) -> str:
    """A payment method ``value`` that must be attached to ``customer`` (a test token never is)."""
    if isinstance(value, str) and _is_token(value):
        raise _not_attached(value, param)
    record = _stored(call, value, param)
    if record["id"] not in customer["_payment_methods"]:
        raise _not_attached(str(record["id"]), param)
    return str(record["id"])


def _not_attached(pm_id: str, param: str) -> Exception:
    return invalid_request(f"The customer does not have a payment method with the ID {pm_id}. The payment "
                           "method must be attached to the customer.", param=param)


def customer_payment_method(customer: dict[str, Any]) -> str | None:
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if default:
        return str(default)
    attached = customer.get("_payment_methods") or []
    return attached[-1] if attached else None


def payment_method_object(call: Call, pm_id: str) -> dict[str, Any]:
    """The PaymentMethod ``pm_id`` as the API shows it (a test token is its own, unattached)."""
    record = call.state.store.get(KIND, pm_id)
    return public(record) if record is not None else _object(pm_id, pm_id, None, call.now())


@accepts()
def retrieve(call: Call, pm_id: str) -> dict[str, Any]:
    if _is_token(pm_id):
        return _object(pm_id, pm_id, None, call.now())
    return public(get_or_404(call, KIND, pm_id, label="PaymentMethod"))


@accepts("customer")
def attach(call: Call, pm_id: str) -> dict[str, Any]:
    customer = referenced(call, "customer", call.params.get("customer"), "customer")
    if not _is_token(pm_id):
        get_or_404(call, KIND, pm_id, label="PaymentMethod")
    return public(call.state.store.get(KIND, attach_param(call, customer, pm_id, "id")) or {})


@accepts()
def detach(call: Call, pm_id: str) -> dict[str, Any]:
    if _is_token(pm_id):
        record = None
    else:
        record = get_or_404(call, KIND, pm_id, label="PaymentMethod")
    if record is None or record["customer"] is None:
        raise invalid_request("The payment method you provided is not attached to a customer so detachment "
                              "is impossible.")
    customer = call.state.store.get("customer", record["customer"])
    if customer is not None:
        customer["_payment_methods"].remove(pm_id)
        if customer["invoice_settings"]["default_payment_method"] == pm_id:
            customer["invoice_settings"]["default_payment_method"] = None
    record["customer"] = None
    return public(record)


def _listing(call: Call, customer: dict[str, Any], url: str) -> dict[str, Any]:
    records = (call.state.store.get(KIND, pm_id) for pm_id in reversed(customer["_payment_methods"]))
    return page(call, [r for r in records if r is not None], url, public, "payment_method")


# Not implemented, so refused: type (every payment method here is a card).
@accepts("customer", *LIST)
def list_payment_methods(call: Call) -> dict[str, Any]:
    customer = referenced(call, "customer", call.params.get("customer"), "customer")
    return _listing(call, customer, "/v1/payment_methods")


@accepts(*LIST)
def list_customer_payment_methods(call: Call, customer_id: str) -> dict[str, Any]:
    customer = get_or_404(call, "customer", customer_id)
    return _listing(call, customer, f"/v1/customers/{customer_id}/payment_methods")


ROUTES: list[Route] = [
    ("GET", "/v1/payment_methods", list_payment_methods),
    ("GET", "/v1/payment_methods/{id}", retrieve),
    ("POST", "/v1/payment_methods/{id}/attach", attach),
    ("POST", "/v1/payment_methods/{id}/detach", detach),
    ("GET", "/v1/customers/{id}/payment_methods", list_customer_payment_methods),
]
