"""API versions: every answer and every event rendered for one of a small, explicit set of versions.

Records are stored in one shape (the fields of every supported version); ``adapt`` turns an answer
into what the requested version shows. The request's version is its ``Stripe-Version`` header, or
the account's default (``ACCOUNT_VERSION``, the version the pinned stripe-python sends); an event
is rendered for its ``api_version``, and each webhook endpoint receives it rendered for the
endpoint's own ``api_version`` (or the account's).

What differs between the supported versions (both changes are 2025-03-31.basil's):
- ``current_period_start``/``current_period_end`` moved from the subscription to its items
  (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end);
- the invoice's ``payment_intent``, ``charge``, ``paid`` and ``paid_out_of_band`` were removed, and
  ``invoice`` on PaymentIntents and Charges, in favour of ``payments`` and ``confirmation_secret``
  (https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices);
- ``GET /v1/invoices/upcoming`` was removed in favour of ``invoices.create_preview``
  (https://docs.stripe.com/changelog/basil/2025-03-31/invoice-preview-api-deprecations), and metered
  prices need a billing meter (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-legacy-usage-based-billing):
  the handlers ask ``basil_or_later`` for those.
And 2025-09-30.clover's: a promotion code names its coupon as ``promotion.coupon`` and a discount as
``source.coupon`` (ids) where older versions show the whole ``coupon``, and ``promotion_codes.create``
takes ``promotion[coupon]`` instead of ``coupon``
(https://docs.stripe.com/changelog/clover/2025-09-30/polymorphic-coupon,
https://docs.stripe.com/changelog/clover/2025-09-30/add-discount-source-property).
2024-06-20 and 2024-12-18.acacia render alike here (none of acacia's changes touch what the
emulator implements).
"""

from __future__ import annotations

from typing import Any

from .errors import invalid_request
from .render import render
from .state import EmulatorState

ACCOUNT_VERSION = "2026-02-25.clover"  # stripe-python's _ApiVersion.CURRENT (a contract test holds it)
SUPPORTED = ("2024-06-20", "2024-12-18.acacia", "2025-03-31.basil", ACCOUNT_VERSION)
BASIL = "2025-03-31"
CLOVER = "2025-09-30"

PERIOD_FIELDS = ("current_period_start", "current_period_end")
INVOICE_PAYMENT_FIELDS = ("payment_intent", "charge", "paid", "paid_out_of_band")
# Invoice properties that exist (and expand) from basil on only.
BASIL_EXPANSIONS = {("invoice", "payments"), ("invoice", "confirmation_secret")}


def check(version: str, *, param: str | None = None) -> str:
    """``version`` if supported, else Stripe's answer to an invalid version.

    Stripe answers "Invalid Stripe API version: <version>" (400 invalid_request_error), as reported in
    https://github.com/stripe/stripe-java/issues/682; a real version the emulator does not render is
    refused the same way, so a test never runs against shapes of another version.
    """
    if version not in SUPPORTED:
        raise invalid_request(f"Invalid Stripe API version: {version}", param=param)
    return version


def basil_or_later(version: str) -> bool:
    return version[:10] >= BASIL


def clover_or_later(version: str) -> bool:
    return version[:10] >= CLOVER


def expansion_allowed(kind: str, key: str, version: str) -> bool:
    return basil_or_later(version) or (kind, key) not in BASIL_EXPANSIONS


def adapt(state: EmulatorState, body: Any, version: str) -> Any:
    """``body`` (an answer, changed in place) as ``version`` shows it; events keep their own version."""
    if isinstance(body, list):
        for element in body:
            adapt(state, element, version)
    elif isinstance(body, dict):
        kind = body.get("object")
        if kind == "event":
            adapt_event(state, body, str(body.get("api_version") or ACCOUNT_VERSION))
            return body
        if isinstance(kind, str):
            _adapt_object(state, kind, body, version)
        for value in body.values():
            if isinstance(value, dict | list):
                adapt(state, value, version)
    return body


def adapt_event(state: EmulatorState, event: dict[str, Any], version: str) -> dict[str, Any]:
    """The event as an endpoint pinned to ``version`` receives it (changed in place)."""
    event["api_version"] = version
    data = event.get("data") or {}
    obj = data.get("object")
    if isinstance(obj, dict):
        adapt(state, obj, version)
        previous = data.get("previous_attributes")
        if isinstance(previous, dict):
            _drop_absent(str(obj.get("object")), previous, version)
            adapt(state, previous, version)
    return event


def _drop_absent(kind: str, previous: dict[str, Any], version: str) -> None:
    """``previous_attributes`` name only fields the version has."""
    if kind == "subscription" and basil_or_later(version):
        for key in PERIOD_FIELDS:
            previous.pop(key, None)
    if kind == "invoice" and basil_or_later(version):
        for key in INVOICE_PAYMENT_FIELDS:
            previous.pop(key, None)


def _adapt_object(state: EmulatorState, kind: str, obj: dict[str, Any], version: str) -> None:
    basil = basil_or_later(version)
    if kind == "subscription" and basil:
        for key in PERIOD_FIELDS:
            obj.pop(key, None)
    elif kind == "subscription_item" and not basil:
        for key in PERIOD_FIELDS:
            obj.pop(key, None)
    elif kind == "invoice":
        if basil:
            for key in INVOICE_PAYMENT_FIELDS:
                obj.pop(key, None)
        elif "id" in obj:
            _invoice_payment_fields(state, obj)
    elif kind == "promotion_code" and not clover_or_later(version) and "promotion" in obj:
        obj["coupon"] = _whole_coupon(state, (obj.pop("promotion") or {}).get("coupon"))
    elif kind == "discount" and not clover_or_later(version) and "source" in obj:
        obj["coupon"] = _whole_coupon(state, (obj.pop("source") or {}).get("coupon"))
    elif kind in ("payment_intent", "charge") and not basil and "invoice" not in obj:
        intent_id = obj.get("id") if kind == "payment_intent" else obj.get("payment_intent")
        intent = state.store.get("payment_intent", str(intent_id or ""))
        obj["invoice"] = (intent or {}).get("_invoice")


def _whole_coupon(state: EmulatorState, coupon: Any) -> Any:
    """Before clover a promotion code or discount shows its whole coupon, not ``...coupon`` as an id."""
    if isinstance(coupon, str):
        stored = state.store.get("coupon", coupon)
        return render(state, "coupon", stored) if stored is not None else coupon
    return coupon


def _invoice_payment_fields(state: EmulatorState, invoice: dict[str, Any]) -> None:
    """Pre-basil: the invoice's one PaymentIntent and its latest charge, by id (expandable)."""
    stored = state.store.get("invoice", invoice["id"]) or {}
    intent = state.store.get("payment_intent", stored.get("_payment_intent") or "")
    if "payment_intent" not in invoice:
        invoice["payment_intent"] = None if intent is None else intent["id"]
    if "charge" not in invoice:
        invoice["charge"] = None if intent is None else intent.get("latest_charge")
    invoice.setdefault("paid", stored.get("status") == "paid")
    invoice.setdefault("paid_out_of_band", False)
