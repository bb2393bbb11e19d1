"""The hosted customer portal at a portal session's ``url`` (``/p/session/{secret}``).

``GET`` lists the customer's subscriptions (plan, price, status, renewal or cancellation date), with
the buttons the configuration enables; each is a form that POSTs to the emulator and answers 303
back to the page, which then shows the new state:

- "Cancel subscription": ``POST {url}/subscriptions/{sub}/cancel`` (no fields);
- "Renew subscription" (once set to cancel at the period end): ``POST {url}/subscriptions/{sub}/renew``;
- "Switch to <plan>": ``POST {url}/subscriptions/{sub}/switch`` with field ``price``. <plan> is the
  price's nickname, else its product's name (with the price appended when two plans share a name).

Invoices are listed when ``features[invoice_history]`` is enabled; "Return" links to the
session's ``return_url``. A refused action answers 400 with the page and the reason; an unknown
session or subscription is a 404. What each action changes and emits: ``resources/billing_portal.py``.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..call import system_call
from ..errors import StripeError
from ..resources.billing_portal import PAGE_PATH, PortalView
from .html import FormError, alert, day, form_fields, link, money, page, plan_name, price_text, request_origin

_STATUS = {"active": "Active", "trialing": "Trial", "past_due": "Past due", "unpaid": "Unpaid",
           "incomplete": "Incomplete", "paused": "Paused"}


def _button(action: str, text: str, fields: dict[str, str] | None = None) -> str:
    hidden = "".join(f'<input type="hidden" name="{escape(k, quote=True)}" value="{escape(v, quote=True)}">'
                     for k, v in (fields or {}).items())
    return f'<form method="post" action="{escape(action, quote=True)}">{hidden}<button type="submit">' \
           f"{escape(text)}</button></form>\n"


def _names(view: PortalView, prices: list[dict[str, Any]]) -> dict[str, str]:
    state = view.call.state
    plain = {p["id"]: plan_name(state, p) for p in prices}
    shared = Counter(plain.values())
    return {pid: name if shared[name] == 1 else f"{name} ({price_text(next(p for p in prices if p['id'] == pid))})"
            for pid, name in plain.items()}


def _dates(sub: dict[str, Any]) -> str:
    if sub["cancel_at_period_end"] or sub.get("cancel_at"):
        return f"Cancels on {day(sub['cancel_at'])}"
    if sub["status"] == "trialing":
        return f"Trial ends on {day(sub['trial_end'])}"
    return f"Renews on {day(sub['current_period_end'])}"


def _subscription(view: PortalView, base: str, sub: dict[str, Any]) -> str:
    store = view.call.state.store
    item = sub["_items"][0]
    current = store.get("price", item["price"]) or {"id": item["price"]}
    targets = view.switch_targets(sub)
    names = _names(view, [current, *targets])
    action = f"{base}/subscriptions/{sub['id']}"
    html = (f'<article aria-label="{escape(names[current["id"]], quote=True)} subscription">'
            f"<h3>{escape(names[current['id']])}</h3>\n"
            f'<p class="price">{escape(price_text(current, item["quantity"] or 1))}</p>\n'
            f'<p class="status">Status: {escape(_STATUS.get(sub["status"], sub["status"]))}</p>\n'
            f'<p class="dates">{escape(_dates(sub))}</p>\n')
    if sub["cancel_at_period_end"]:
        html += _button(f"{action}/renew", "Renew subscription")
    elif view.features["subscription_cancel"]["enabled"]:
        html += _button(f"{action}/cancel", "Cancel subscription")
    for price in targets:
        html += (f"<p>{escape(names[price['id']])}: {escape(price_text(price))}</p>\n"
                 + _button(f"{action}/switch", f"Switch to {names[price['id']]}", {"price": price["id"]}))
    return html + "</article>\n"


def _invoices(view: PortalView) -> str:
    if not view.features["invoice_history"]["enabled"]:
        return ""
    rows = "".join(f"<tr><td>{escape(day(i['created']))}</td><td>{escape(str(i['number']))}</td>"
                   f"<td>{escape(money(i['total'], i['currency']))}</td><td>{escape(i['status'])}</td></tr>"
                   for i in view.invoices())
    return ('<section aria-labelledby="invoices"><h2 id="invoices">Invoice history</h2>\n'
            "<table><thead><tr><th>Date</th><th>Number</th><th>Amount</th><th>Status</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>\n")


def _render(view: PortalView, secret: str, message: str | None, status: int) -> Response:
    base = f"{PAGE_PATH}{secret}"
    profile = view.config["business_profile"]
    title = profile["headline"] or "Manage your subscription"
    subs = view.subscriptions()
    listed = "".join(_subscription(view, base, s) for s in subs) or "<p>No active subscriptions.</p>\n"
    policies = " ".join(link(profile[key], text) for key, text in (("terms_of_service_url", "Terms of service"),
                                                                 ("privacy_policy_url", "Privacy policy"))
                        if profile[key])
    back = view.session["return_url"]
    body = (f"<h1>{escape(title)}</h1>\n"
            + (f"<p>Signed in as {escape(str(view.customer['email']))}</p>\n" if view.customer.get("email") else "")
            + alert(message)
            + f'<section aria-labelledby="subscriptions"><h2 id="subscriptions">Current subscription'
            f'{"s" if len(subs) > 1 else ""}</h2>\n{listed}</section>\n'
            + _invoices(view)
            + (f"<p>{link(back, 'Return')}</p>\n" if back else "")
            + (f"<footer><p>{policies}</p></footer>\n" if policies else ""))
    return page(title, body, status)


def _not_found() -> Response:
    return page("Not found", "<h1>Not found</h1>\n<p>This portal session does not exist.</p>", 404)


async def show(request: Request) -> Response:
    state = request.app.state.emulator
    secret = request.path_params["secret"]
    with state.lock:
        try:
            view = PortalView(system_call(state, request_origin(request)), secret)
        except StripeError:
            return _not_found()
        return _render(view, secret, None, 200)


async def act(request: Request) -> Response:
    state = request.app.state.emulator
    secret, sub_id, action = (request.path_params[k] for k in ("secret", "sub", "action"))
    if action not in ("cancel", "renew", "switch"):
        return _not_found()
    try:
        fields = await form_fields(request, ("price",) if action == "switch" else ())
    except FormError as exc:
        return page("Bad request", f"<h1>Bad request</h1>\n{alert(str(exc))}", 400)
    with state.lock:
        try:
            view = PortalView(system_call(state, request_origin(request)), secret)
        except StripeError:
            return _not_found()
        try:
            if action == "cancel":
                view.cancel(sub_id)
            elif action == "renew":
                view.renew(sub_id)
            else:
                view.switch(sub_id, fields.get("price", ""))
        except StripeError as err:
            return _render(view, secret, err.message, err.status)
    return RedirectResponse(f"{PAGE_PATH}{secret}", 303)
