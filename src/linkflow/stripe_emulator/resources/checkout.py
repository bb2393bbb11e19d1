"""Checkout Sessions, their expiry, and their completion by the customer.

A session's ``url`` is the emulator's hosted page (``pages/checkout_page.py``), where a card number
completes it. ``POST /v1/test_helpers/checkout/sessions/{id}/complete`` (authenticated, like
Stripe's own test helpers) and ``POST /_emulator/checkout/sessions/{id}/complete`` (admin, no auth)
do the same with an optional ``payment_method`` (default ``pm_card_visa``). A declining card
answers 402 and leaves the session open with nothing created.

Completing a ``mode=subscription`` session emits the events Stripe sends, in the order they are made
(a Stripe CLI capture of a Checkout shows the same sequence; Stripe does not promise delivery order):
(``customer.created`` when the session had no customer,) ``customer.subscription.created``
(``incomplete``), ``invoice.created``, ``payment_intent.created``, ``invoice.finalized``,
``charge.succeeded``, ``payment_intent.succeeded``, ``customer.subscription.updated`` (``active``),
``entitlements.active_entitlement_summary.updated`` (when the products carry features),
``invoice.paid``, ``invoice.payment_succeeded``, ``checkout.session.completed``. With a trial the
subscription starts ``trialing`` and its $0 invoice is paid, so there is no ``updated``.

An open session expires at ``expires_at`` (30 minutes to 24 hours after creation, 24 hours by
default) in its customer's time (a test clock's frozen time, else emulator time): when emulator time
or the test clock is advanced past it, or when the session is next read, listed or opened, it
becomes ``expired`` and ``checkout.session.expired`` is emitted with ``created = expires_at``.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import card_declined, invalid_request, missing_param
from ..events import emit, emit_updated
from ..forms import as_bool, as_dict, as_int, blank_to_none, merge_metadata
from ..lists import page
from ..lookup import get_or_404, referenced
from ..params import LIST, accepts
from ..render import render
from ..state import EmulatorState
from ..store import new_id, public
from . import billing, coupons, discounts, invoices, payments
from .clock_time import clock_now, customer_now
from .customers import new_customer
from .payment_methods import attach_param, check_payment_method, declines
from .subscriptions import new_subscription
from .tiers import price_amount

KIND = "checkout_session"
MODES = ("payment", "setup", "subscription")
MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 3600
PAGE_PATH = "/c/pay/"


def _get(call: Call, session_id: str) -> dict[str, Any]:
    expire_due(call)
    return get_or_404(call, KIND, session_id, label="checkout.session")


def session_now(state: EmulatorState, session: dict[str, Any]) -> int:
    """Now in the session's customer's time (its test clock's, if any)."""
    customer = state.store.get("customer", session["customer"]) if session["customer"] else None
    return clock_now(state, (customer or {}).get("test_clock"))


def _expire(call: Call, session: dict[str, Any], when: int) -> None:
    session.update(status="expired", url=None)
    emit(call, "checkout.session.expired", KIND, session, created=when)


def expire_due(call: Call, *, test_clock: str | None = None) -> int:
    """Expire the open sessions whose ``expires_at`` has passed; returns how many.

    ``test_clock``: only the sessions of that clock's customers (after it advanced).
    """
    due = []
    for session in call.state.store.table(KIND).values():
        if session["status"] != "open":
            continue
        customer = call.state.store.get("customer", session["customer"]) if session["customer"] else None
        if test_clock is not None and (customer or {}).get("test_clock") != test_clock:
            continue
        if session["expires_at"] <= session_now(call.state, session):
            due.append(session)
    for session in sorted(due, key=lambda s: s["expires_at"]):
        _expire(call, session, session["expires_at"])
    return len(due)


def _url(value: Any, param: str) -> str | None:
    url = blank_to_none(value)
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 5000:
        raise invalid_request("Not a valid URL", param=param)
    return url


def _expires_at(value: Any, now: int) -> int:
    if value in (None, ""):
        return now + MAX_LIFETIME
    expires_at = as_int(value, "expires_at")
    if expires_at < now + MIN_LIFETIME:
        raise invalid_request("The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                              "creation.", param="expires_at")
    if expires_at > now + MAX_LIFETIME:
        raise invalid_request("The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                              "creation.", param="expires_at")
    return expires_at


def _line_items(call: Call, value: Any, mode: str) -> list[dict[str, Any]]:
    if value in (None, "", []):
        if mode == "setup":
            return []
        raise missing_param("line_items")
    if not isinstance(value, list):
        raise invalid_request("Invalid array", param="line_items")
    items = []
    for index, raw in enumerate(value):
        spec = as_dict(raw, f"line_items[{index}]")
        price = referenced(call, "price", spec.get("price"), f"line_items[{index}][price]")
        if mode == "subscription" and price["type"] != "recurring":
            raise invalid_request("Subscription mode needs at least one recurring price.",
                                  param=f"line_items[{index}][price]")
        items.append({"price": price["id"],
                      "quantity": as_int(spec.get("quantity", 1), f"line_items[{index}][quantity]", minimum=1)})
    return items


def _redirects(params: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """``(ui_mode, success_url, cancel_url, return_url)``: hosted sessions redirect to ``success_url``;
    embedded ones (https://docs.stripe.com/payments/checkout/custom-success-page?payment-ui=embedded-form)
    take ``return_url`` instead and refuse ``success_url`` and ``cancel_url``."""
    ui_mode = params.get("ui_mode", "hosted")
    if ui_mode not in ("hosted", "embedded"):
        raise invalid_request("Invalid ui_mode: must be one of hosted or embedded", param="ui_mode")
    if ui_mode == "hosted":
        if "return_url" in params:
            raise invalid_request("`return_url` can only be used with `ui_mode: embedded`.", param="return_url")
        if not params.get("success_url"):
            raise missing_param("success_url")
        return ui_mode, _url(params["success_url"], "success_url"), _url(params.get("cancel_url"), "cancel_url"), None
    for name in ("success_url", "cancel_url"):
        if name in params:
            raise invalid_request(f"`{name}` cannot be used with `ui_mode: embedded`.", param=name)
    if not params.get("return_url"):
        raise missing_param("return_url")
    return ui_mode, None, None, _url(params["return_url"], "return_url")


def _amount(call: Call, items: list[dict[str, Any]]) -> int:
    return sum(_line_amounts(call, items))


def _line_amounts(call: Call, items: list[dict[str, Any]]) -> list[int]:
    return [price_amount(call.state.store.get("price", i["price"]) or {}, i["quantity"]) for i in items]


def _set_discounts(call: Call, session: dict[str, Any], found: discounts.Found) -> None:
    """The session's ``discounts`` and the amounts they take off (per line: ``line_items``' ``amount_discount``)."""
    left = _line_amounts(call, session["_line_items"])
    off = [0 for _ in left]
    for coupon, _ in found:
        for index, share in enumerate(discounts.split(left, coupon)):
            left[index] -= share
            off[index] += share
    session["discounts"] = [{"coupon": None if promo else coupon["id"], "promotion_code": promo and promo["id"]}
                            for coupon, promo in found]
    session["_line_discounts"] = off
    session["total_details"]["amount_discount"] = sum(off)
    session["amount_total"] = session["amount_subtotal"] - sum(off)


def _found(call: Call, session: dict[str, Any], customer: dict[str, Any] | None) -> discounts.Found:
    """The session's discounts, checked again (a coupon may have run out since the session was made)."""
    return discounts.resolve(call, [{k: v for k, v in d.items() if v} for d in session["discounts"]], "discounts",
                             customer=customer, currency=session["currency"], amount=session["amount_subtotal"])


# Not implemented, so refused: automatic_tax, billing_address_collection, consent_collection, currency,
# custom_fields, custom_text, customer_creation, customer_update, invoice_creation,
# line_items[][price_data|adjustable_quantity|tax_rates], payment_intent_data,
# payment_method_collection, payment_method_options, payment_method_types, phone_number_collection,
# redirect_on_completion, setup_intent_data, shipping_*, submit_type, subscription_data[anything else],
# tax_id_collection. ui_mode: hosted (the emulator's page at url) or embedded (client_secret and
# return_url, no page: completed by the test helper).
@accepts("mode", "line_items[][price]", "line_items[][quantity]", "success_url", "cancel_url", "customer",
         "ui_mode", "return_url",
         "customer_email", "client_reference_id", "metadata", "locale", "expires_at", "discounts[][coupon]",
         "discounts[][promotion_code]", "allow_promotion_codes",
         "subscription_data[trial_period_days]", "subscription_data[trial_end]", "subscription_data[metadata]",
         "subscription_data[description]", "subscription_data[trial_settings][end_behavior][missing_payment_method]")
def create(call: Call) -> dict[str, Any]:
    params = call.params
    mode = params.get("mode")
    if not mode:
        raise missing_param("mode")
    if mode not in MODES:
        raise invalid_request("Invalid mode: must be one of payment, setup or subscription", param="mode")
    ui_mode, success_url, cancel_url, return_url = _redirects(params)
    customer_id = blank_to_none(params.get("customer"))
    customer = referenced(call, "customer", customer_id, "customer") if customer_id else None
    items = _line_items(call, params.get("line_items"), mode)
    subscription_data = as_dict(params.get("subscription_data", {}), "subscription_data")
    now = customer_now(call.state, customer) if customer else call.now()
    expires_at = _expires_at(params.get("expires_at"), now)
    session_id = f"cs_test_{secrets.token_urlsafe(42).replace('-', 'a').replace('_', 'b')[:58]}"
    amount = _amount(call, items)
    currency = (call.state.store.get("price", items[0]["price"]) or {}).get("currency") if items else None
    allow_codes = as_bool(params["allow_promotion_codes"], "allow_promotion_codes") if blank_to_none(
        params.get("allow_promotion_codes")) is not None else None
    if allow_codes and params.get("discounts"):
        raise invalid_request("You may only specify one of these parameters: allow_promotion_codes, discounts.",
                              param="discounts")
    found = discounts.resolve(call, params.get("discounts"), "discounts", customer=customer, currency=currency,
                              amount=amount)
    session = {
        "id": session_id, "object": "checkout.session", "adaptive_pricing": None, "after_expiration": None,
        "allow_promotion_codes": allow_codes, "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None, "cancel_url": cancel_url,
        "client_reference_id": blank_to_none(params.get("client_reference_id")),
        "client_secret": None if ui_mode == "hosted" else f"{session_id}_secret_{secrets.token_urlsafe(18)}",
        "collected_information": None, "consent": None, "consent_collection": None, "created": now,
        "currency": currency, "currency_conversion": None, "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": customer_id, "customer_account": None,
        "customer_creation": None if customer_id else "always",
        "customer_details": None, "customer_email": blank_to_none(params.get("customer_email")),
        "discounts": [], "expires_at": expires_at,
        "integration_identifier": None, "invoice": None, "invoice_creation": None, "livemode": False,
        "locale": params.get("locale"), "managed_payments": None,
        "metadata": merge_metadata({}, params.get("metadata", {})), "mode": mode,
        "origin_context": None, "payment_intent": None, "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid", "permissions": None, "phone_number_collection": {"enabled": False},
        "recovered_from": None, "saved_payment_method_options": None, "setup_intent": None,
        "shipping_address_collection": None, "shipping_cost": None, "shipping_options": [], "status": "open",
        "submit_type": None, "subscription": None, "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "return_url": return_url, "ui_mode": ui_mode,
        "url": call.public_url(PAGE_PATH + session_id) if ui_mode == "hosted" else None,
        "wallet_options": None,
        "_line_items": items, "_subscription_data": subscription_data,
    }
    _set_discounts(call, session, found)
    call.state.store.put(KIND, session)
    return render(call.state, KIND, session)


@accepts()
def retrieve(call: Call, session_id: str) -> dict[str, Any]:
    return render(call.state, KIND, _get(call, session_id))


@accepts("customer", "status", "subscription", *LIST)
def list_sessions(call: Call) -> dict[str, Any]:
    params = call.params
    if params.get("status") not in (None, "open", "complete", "expired"):
        raise invalid_request("Invalid status: must be one of open, complete or expired", param="status")
    expire_due(call)
    rows = [
        s for s in call.state.store.newest_first(KIND)
        if (not params.get("customer") or s["customer"] == params["customer"])
        and (not params.get("status") or s["status"] == params["status"])
        and (not params.get("subscription") or s["subscription"] == params["subscription"])
    ]
    return page(call, rows, "/v1/checkout/sessions", lambda r: render(call.state, KIND, r), "checkout.session")


@accepts(*LIST)
def line_items(call: Call, session_id: str) -> dict[str, Any]:
    session = _get(call, session_id)
    rows = []
    for index, item in enumerate(session["_line_items"]):
        price = call.state.store.get("price", item["price"]) or {}
        amount = price_amount(price, item["quantity"])
        off = session["_line_discounts"][index]
        rows.append({
            "id": f"li_{session_id[-12:]}{index}", "object": "item", "adjustable_quantity": None,
            "amount_discount": off, "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount - off,
            "currency": price.get("currency"), "description": price.get("nickname") or price.get("product"),
            "metadata": {}, "price": public(price), "quantity": item["quantity"],
        })
    return page(call, rows, f"/v1/checkout/sessions/{session_id}/line_items", lambda r: r, "line_item")


@accepts()
def expire(call: Call, session_id: str) -> dict[str, Any]:
    session = _get(call, session_id)
    if session["status"] != "open":
        raise invalid_request(f"Only Checkout Sessions with a status of `open` can be expired; this one is "
                              f"`{session['status']}`.")
    _expire(call, session, session_now(call.state, session))
    return render(call.state, KIND, session)


@accepts("payment_method", "promotion_code")
def complete(call: Call, session_id: str) -> dict[str, Any]:
    """Play the customer paying on the hosted page (``promotion_code``: the code the customer types)."""
    session = _get(call, session_id)
    return render(call.state, KIND, pay(call, session, call.params.get("payment_method", "pm_card_visa"),
                                        blank_to_none(call.params.get("promotion_code"))))


def enter_code(call: Call, session: dict[str, Any], code: str) -> None:
    """The customer types a promotion code (sessions with ``allow_promotion_codes`` only)."""
    if not session["allow_promotion_codes"]:
        raise invalid_request("This Checkout Session does not take promotion codes.", param="promotion_code")
    promo = coupons.promotion_code_by_code(call.state, code)
    if promo is None:
        raise invalid_request("This code is invalid.", param="promotion_code")
    customer = call.state.store.get("customer", session["customer"]) if session["customer"] else None
    _set_discounts(call, session, discounts.resolve(call, [{"promotion_code": promo["id"]}], "promotion_code",
                                                    customer=customer, currency=session["currency"],
                                                    amount=session["amount_subtotal"]))


def pay(call: Call, session: dict[str, Any], payment_method: Any, promotion_code: str | None = None) -> dict[str, Any]:
    """The customer submits ``payment_method`` (a test token or a ``pm_``) on ``session``'s page."""
    if session["status"] != "open":
        raise invalid_request(f"This Checkout Session is {session['status']}, not open.")
    card = check_payment_method(call, payment_method, "payment_method")
    if promotion_code:
        enter_code(call, session, promotion_code)
    existing = call.state.store.get("customer", session["customer"]) if session["customer"] else None
    found = _found(call, session, existing)
    if declines(call.state, card):
        raise card_declined(param="payment_method")
    customer, pm = _customer(call, session, card)
    now = customer_now(call.state, customer)
    session.update(customer=customer["id"], status="complete", payment_status="paid", url=None,
                   customer_details={"address": customer.get("address"), "email": customer.get("email"),
                                     "name": customer.get("name"), "phone": customer.get("phone"),
                                     "tax_exempt": "none", "tax_ids": []})
    if session["mode"] == "subscription":
        _subscribe(call, session, customer, pm, now)
    elif session["mode"] == "payment":
        session["payment_intent"] = new_id("pi")
        for coupon, promo in found:
            discounts.redeem(call, coupon, promo, now, customer_id=customer["id"], checkout_session=session["id"])
    else:
        session["setup_intent"] = new_id("seti")
        session["payment_status"] = "no_payment_required"
    emit(call, "checkout.session.completed", KIND, session, created=now)
    return session


def _subscribe(call: Call, session: dict[str, Any], customer: dict[str, Any], pm: str, now: int) -> None:
    """Checkout creates the subscription ``incomplete``, pays its first invoice, then it is ``active``."""
    data = session["_subscription_data"]
    sub_params: dict[str, Any] = {"items": [dict(i) for i in session["_line_items"]], "default_payment_method": pm,
                                  "payment_behavior": "default_incomplete"}
    for key in ("trial_period_days", "trial_end", "metadata", "trial_settings", "description"):
        if key in data:
            sub_params[key] = data[key]
    if session["discounts"]:
        sub_params["discounts"] = [{k: v for k, v in d.items() if v} for d in session["discounts"]]
    sub = new_subscription(call, customer, sub_params)
    session.update(subscription=sub["id"], invoice=sub["latest_invoice"])
    if sub["status"] == "trialing":
        session["payment_status"] = "no_payment_required"
        return
    invoice = call.state.store.get("invoice", sub["latest_invoice"])
    assert invoice is not None
    # The payment succeeds (the card was checked above): the subscription turns active, then the invoice
    # reads paid, in the order a Stripe CLI capture of a Checkout shows them.
    payments.pay_invoice(call, invoice, pm, now)
    before = billing.snapshot(sub)
    sub["status"] = "active"
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
    invoices.mark_paid(call, invoice, now)


def _customer(call: Call, session: dict[str, Any], card: str) -> tuple[dict[str, Any], str]:
    """The session's customer (made now if it has none) and the payment method ``card`` attached to it."""
    if session["customer"]:
        customer = referenced(call, "customer", session["customer"], "customer")
    else:
        customer = new_customer(call, {"email": session["customer_email"]} if session["customer_email"] else {})
    return customer, attach_param(call, customer, card, "payment_method")


ROUTES: list[Route] = [
    *crud_routes("/v1/checkout/sessions", create=create, list_all=list_sessions, retrieve=retrieve),
    ("GET", "/v1/checkout/sessions/{id}/line_items", line_items),
    ("POST", "/v1/checkout/sessions/{id}/expire", expire),
    ("POST", "/v1/test_helpers/checkout/sessions/{id}/complete", complete),
]
