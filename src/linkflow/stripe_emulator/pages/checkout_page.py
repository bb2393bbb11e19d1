"""The hosted Checkout page at a session's ``url``: ``GET /c/pay/{id}`` shows it, ``POST`` pays.

The form has one field, ``card_number`` (spaces and dashes allowed), one more, ``promotion_code``, when
the session has ``allow_promotion_codes``, and one button, "Pay".
Stripe's test cards: 4242 4242 4242 4242 (Visa) and 5555 5555 5555 4444 (Mastercard) pay;
4000 0000 0000 0002 (generic decline) and 4000 0000 0000 9995 (insufficient funds) are declined:
402, the page again with the decline, nothing created, the session still open. Another number is
refused as Stripe's page refuses it (incomplete, invalid, or a real card in test mode: 400).
Paying completes the session (see ``resources/checkout.py`` for what that creates and emits) and
answers 303 to its ``success_url``, ``{CHECKOUT_SESSION_ID}`` replaced by the session id. An
expired or completed session's page says so (a POST to it answers 409); an unknown one is a 404.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..call import Call, system_call
from ..errors import StripeError
from ..resources import checkout
from ..state import EmulatorState
from .html import FormError, alert, cadence, day, form_fields, link, money, page, plan_name, price_text, request_origin

TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
}
DECLINES = {"4000000000009995": "Your card has insufficient funds."}


def _luhn(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_token(raw: str) -> tuple[str | None, str | None]:
    """(test token, None) for a test card number, else (None, what Stripe's page says)."""
    number = raw.replace(" ", "").replace("-", "")
    if not number:
        return None, "Your card number is incomplete."
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn(number):
        return None, "Your card number is invalid."
    if number not in TEST_CARDS:
        return None, ("Your card was declined. Your request was in test mode, but used a non test card. For a "
                      "list of valid test cards, visit: https://stripe.com/docs/testing.")
    return TEST_CARDS[number], None


def _lines(state: EmulatorState, session: dict[str, Any]) -> str:
    rows = []
    for item in session["_line_items"]:
        price = state.store.get("price", item["price"]) or {}
        quantity = f"{item['quantity']} × " if item["quantity"] != 1 else ""
        rows.append(f"<li>{escape(quantity + plan_name(state, price))}: "
                    f'<span class="amount">{escape(price_text(price, item["quantity"]))}</span></li>')
    return f"<ul>{''.join(rows)}</ul>\n"


def _trial(session: dict[str, Any]) -> str | None:
    data = session["_subscription_data"]
    if data.get("trial_end") not in (None, ""):
        return f"Free until {day(int(data['trial_end']))}"
    if data.get("trial_period_days") not in (None, "", "0"):
        return f"{int(data['trial_period_days'])} days free"
    return None


def _open_page(state: EmulatorState, session: dict[str, Any], message: str | None, status: int) -> Response:
    currency = str(session["currency"] or "usd")
    total = money(session["amount_total"] or 0, currency)
    first = state.store.get("price", session["_line_items"][0]["price"]) if session["_line_items"] else None
    title = f"Subscribe to {plan_name(state, first)}" if first and session["mode"] == "subscription" else "Checkout"
    due = f"Total due today: {total}"
    if session["total_details"]["amount_discount"]:
        due += f" (discount: {money(session['total_details']['amount_discount'], currency)})"
    trial = _trial(session)
    if trial:
        due = f"{trial}, then {total} {cadence(first or {})}. Total due today: {money(0, currency)}"
    email = session["customer_email"] or (state.store.get("customer", session["customer"] or "") or {}).get("email")
    back = f"<p>{link(session['cancel_url'], 'Cancel and go back')}</p>\n" if session["cancel_url"] else ""
    body = (f"<h1>{escape(title)}</h1>\n{_lines(state, session)}<p id=\"total\">{escape(due)}</p>\n"
            + (f"<p>Email: {escape(str(email))}</p>\n" if email else "")
            + alert(message)
            + f'<form method="post" action="{checkout.PAGE_PATH}{escape(session["id"], quote=True)}">\n'
            '<label for="card_number">Card number</label>\n'
            '<input id="card_number" name="card_number" type="text" inputmode="numeric" autocomplete="cc-number" '
            'placeholder="1234 1234 1234 1234" required>\n'
            + ('<label for="promotion_code">Promotion code</label>\n'
               '<input id="promotion_code" name="promotion_code" type="text">\n'
               if session["allow_promotion_codes"] else "")
            + '<button type="submit">Pay</button>\n</form>\n'
            f"<p>Expires on {escape(day(session['expires_at']))}.</p>\n{back}")
    return page(title, body, status)


def _closed_page(session: dict[str, Any], status: int) -> Response:
    if session["status"] == "complete":
        body = ("<h1>Payment complete</h1>\n<p>This checkout session is complete; there is nothing more to pay.</p>\n"
                f"<p>{link(session['success_url'], 'Continue')}</p>\n")
        return page("Payment complete", body, status)
    back = f"<p>{link(session['cancel_url'], 'Go back')}</p>\n" if session["cancel_url"] else ""
    body = f"<h1>Session expired</h1>\n<p>This checkout session has expired.</p>\n{back}"
    return page("Session expired", body, status)


def _not_found() -> Response:
    return page("Not found", "<h1>Not found</h1>\n<p>There is no checkout session here.</p>", 404)


def _session(call: Call, session_id: str) -> dict[str, Any] | None:
    checkout.expire_due(call)
    session = call.state.store.get(checkout.KIND, session_id)
    return None if session is None or session["ui_mode"] != "hosted" else session  # embedded: no hosted page


async def show(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    with state.lock:
        session = _session(system_call(state, request_origin(request)), request.path_params["id"])
        if session is None:
            return _not_found()
        if session["status"] != "open":
            return _closed_page(session, 200)
        return _open_page(state, session, None, 200)


async def submit(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    try:
        fields = await form_fields(request, ("card_number", "promotion_code"))
    except FormError as exc:
        return page("Bad request", f"<h1>Bad request</h1>\n{alert(str(exc))}", 400)
    with state.lock:
        call = system_call(state, request_origin(request))
        session = _session(call, request.path_params["id"])
        if session is None:
            return _not_found()
        if session["status"] != "open":
            return _closed_page(session, 409)
        token, problem = card_token(fields.get("card_number", ""))
        if token is None:
            return _open_page(state, session, problem, 400)
        code = fields.get("promotion_code", "").strip()
        if code and not session["allow_promotion_codes"]:
            return page("Bad request", f"<h1>Bad request</h1>\n{alert('Unknown form field: promotion_code')}", 400)
        try:
            checkout.pay(call, session, token, code or None)
        except StripeError as err:
            number = fields["card_number"].replace(" ", "").replace("-", "")
            return _open_page(state, session, DECLINES.get(number, err.message), err.status)
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])
    return RedirectResponse(target, 303)
