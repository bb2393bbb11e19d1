"""The customer portal: configurations, sessions, and what a customer does on the portal page.

A session's ``url`` is the emulator's hosted portal page (``pages/portal_page.py``), which lists
the customer's subscriptions and offers what the session's configuration enables:

- ``features[subscription_cancel]``: cancel, at the period end (``mode=at_period_end``, Stripe's
  default: ``cancel_at_period_end=true``, ``customer.subscription.updated``) or now
  (``mode=immediately``: ``customer.subscription.deleted``); a scheduled cancellation can be undone
  (renew, ``customer.subscription.updated``).
- ``features[subscription_update]``: switch a one-item subscription to another price among
  ``products[][prices]`` (``default_allowed_updates`` must name ``price``; no prorations, which is
  ``proration_behavior=none``): ``customer.subscription.updated``, and
  ``entitlements.active_entitlement_summary.updated`` when the features change.
- ``features[invoice_history]``: the customer's invoices.
- ``business_profile``: the headline and the policy links; ``default_return_url``: the return link
  of sessions created without ``return_url``.

Stripe's default configuration is the one saved in the Dashboard; the emulator has no Dashboard, so
the first configuration created is the default (``is_default``). A session without
``configuration`` uses it, and is refused as on Stripe while there is none.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import StripeError, invalid_request, missing_param, resource_missing
from ..events import emit_updated
from ..forms import as_bool, as_dict, as_str_list, blank_to_none, merge_metadata
from ..lists import page
from ..lookup import get_or_404, referenced
from ..params import LIST, accepts, implemented_values
from ..store import new_id, public
from . import billing
from .clock_time import customer_now

CONFIG = "billing_portal_configuration"
SESSION = "billing_portal_session"
SECRET = "billing_portal_secret"  # the secret in a session's url -> the session id
PAGE_PATH = "/p/session/"
CANCEL_MODES = ("at_period_end", "immediately")
ALLOWED_UPDATES = ("price", "quantity", "promotion_code")
LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")

_BUSINESS_PROFILE = ("headline", "privacy_policy_url", "terms_of_service_url")
# Not implemented, so refused: features[customer_update], features[payment_method_update],
# features[subscription_cancel][cancellation_reason], features[subscription_pause], login_page;
# proration_behavior other than none; default_allowed_updates other than price.
_CONFIG_PARAMS = (
    *(f"business_profile[{key}]" for key in _BUSINESS_PROFILE), "default_return_url", "metadata",
    "features[invoice_history][enabled]",
    "features[subscription_cancel][enabled]", "features[subscription_cancel][mode]",
    "features[subscription_cancel][proration_behavior]",
    "features[subscription_update][enabled]", "features[subscription_update][default_allowed_updates]",
    "features[subscription_update][products][][product]", "features[subscription_update][products][][prices]",
    "features[subscription_update][proration_behavior]",
)


def _default_features() -> dict[str, Any]:
    return {
        "customer_update": {"allowed_updates": [], "enabled": False},
        "invoice_history": {"enabled": False},
        "payment_method_update": {"enabled": False},
        "subscription_cancel": {"cancellation_reason": {"enabled": False, "options": []}, "enabled": False,
                                "mode": "at_period_end", "proration_behavior": "none"},
        "subscription_pause": {"enabled": False},
        "subscription_update": {"default_allowed_updates": [], "enabled": False, "products": [],
                                "proration_behavior": "none"},
    }


def _enabled(spec: dict[str, Any], target: dict[str, Any], param: str, creating: bool) -> None:
    if "enabled" in spec:
        target["enabled"] = as_bool(spec["enabled"], f"{param}[enabled]")
    elif creating:
        raise missing_param(f"{param}[enabled]")


def _cancel_feature(spec: dict[str, Any], target: dict[str, Any], creating: bool) -> None:
    param = "features[subscription_cancel]"
    _enabled(spec, target, param, creating)
    if "mode" in spec:
        if spec["mode"] not in CANCEL_MODES:
            raise invalid_request(f"Invalid {param}[mode]: must be one of {', '.join(CANCEL_MODES)}",
                                  param=f"{param}[mode]")
        target["mode"] = spec["mode"]
    implemented_values({f"{param}[proration_behavior]": spec.get("proration_behavior")},
                       f"{param}[proration_behavior]", "none")


def _products(call: Call, value: Any) -> list[dict[str, Any]]:
    param = "features[subscription_update][products]"
    if not isinstance(value, list):
        raise invalid_request("Invalid array", param=param)
    products = []
    for index, raw in enumerate(value):
        spec = as_dict(raw, f"{param}[{index}]")
        product = referenced(call, "product", spec.get("product"), f"{param}[{index}][product]")
        if not spec.get("prices"):
            raise missing_param(f"{param}[{index}][prices]")
        prices = as_str_list(spec["prices"], f"{param}[{index}][prices]")
        for price_id in prices:
            price = referenced(call, "price", price_id, f"{param}[{index}][prices]")
            if price["product"] != product["id"] or price["type"] != "recurring" or not price["active"]:
                raise invalid_request(f"The price {price_id} must be an active recurring price of the product "
                                      f"{product['id']}.", param=f"{param}[{index}][prices]")
        products.append({"prices": list(prices), "product": product["id"]})
    return products


def _update_feature(call: Call, spec: dict[str, Any], target: dict[str, Any], creating: bool) -> None:
    param = "features[subscription_update]"
    _enabled(spec, target, param, creating)
    if "default_allowed_updates" in spec:
        allowed = [] if spec["default_allowed_updates"] == "" else as_str_list(
            spec["default_allowed_updates"], f"{param}[default_allowed_updates]")
        for value in allowed:
            if value not in ALLOWED_UPDATES:
                raise invalid_request(f"Invalid {param}[default_allowed_updates]: must be among "
                                      f"{', '.join(ALLOWED_UPDATES)}", param=f"{param}[default_allowed_updates]")
            implemented_values({f"{param}[default_allowed_updates]": value}, f"{param}[default_allowed_updates]",
                               "price")
        target["default_allowed_updates"] = allowed
    if "products" in spec:
        target["products"] = [] if spec["products"] == "" else _products(call, spec["products"])
    implemented_values({f"{param}[proration_behavior]": spec.get("proration_behavior")},
                       f"{param}[proration_behavior]", "none")
    if target["enabled"] and not target["default_allowed_updates"]:
        raise missing_param(f"{param}[default_allowed_updates]")
    if target["enabled"] and not target["products"]:
        raise missing_param(f"{param}[products]")


def _features(call: Call, current: dict[str, Any], value: Any, creating: bool) -> dict[str, Any]:
    spec = as_dict(value, "features")
    features = copy.deepcopy(current)
    if "invoice_history" in spec:
        _enabled(as_dict(spec["invoice_history"], "features[invoice_history]"), features["invoice_history"],
                 "features[invoice_history]", creating)
    if "subscription_cancel" in spec:
        _cancel_feature(as_dict(spec["subscription_cancel"], "features[subscription_cancel]"),
                        features["subscription_cancel"], creating)
    if "subscription_update" in spec:
        _update_feature(call, as_dict(spec["subscription_update"], "features[subscription_update]"),
                        features["subscription_update"], creating)
    return features


def _url(value: Any, param: str) -> str | None:
    url = blank_to_none(value)
    if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
        raise invalid_request("Not a valid URL", param=param)
    return url


def _apply(call: Call, config: dict[str, Any], params: dict[str, Any], creating: bool) -> None:
    if "business_profile" in params:
        profile = as_dict(params["business_profile"], "business_profile")
        for key in _BUSINESS_PROFILE:
            if key in profile:
                value = blank_to_none(profile[key])
                param = f"business_profile[{key}]"
                config["business_profile"][key] = value if key == "headline" else _url(value, param)
    if "default_return_url" in params:
        config["default_return_url"] = _url(params["default_return_url"], "default_return_url")
    if "features" in params:
        config["features"] = _features(call, config["features"], params["features"], creating)
    if "metadata" in params:
        config["metadata"] = merge_metadata(config["metadata"], params["metadata"])


def default_configuration(call: Call) -> dict[str, Any] | None:
    return next((c for c in call.state.store.table(CONFIG).values() if c["is_default"]), None)


@accepts(*_CONFIG_PARAMS)
def create_configuration(call: Call) -> dict[str, Any]:
    if "features" not in call.params:
        raise missing_param("features")
    now = call.now()
    config: dict[str, Any] = {
        "id": new_id("bpc"), "object": "billing_portal.configuration", "active": True, "application": None,
        "business_profile": {key: None for key in _BUSINESS_PROFILE}, "created": now, "default_return_url": None,
        "features": _default_features(), "is_default": default_configuration(call) is None, "livemode": False,
        "login_page": {"enabled": False, "url": None}, "metadata": {}, "name": None, "updated": now,
    }
    _apply(call, config, call.params, creating=True)
    call.state.store.put(CONFIG, config)
    return public(config)


def _get_configuration(call: Call, config_id: str) -> dict[str, Any]:
    return get_or_404(call, CONFIG, config_id, label="billing_portal.configuration")


@accepts()
def retrieve_configuration(call: Call, config_id: str) -> dict[str, Any]:
    return public(_get_configuration(call, config_id))


@accepts("active", *_CONFIG_PARAMS)
def update_configuration(call: Call, config_id: str) -> dict[str, Any]:
    config = _get_configuration(call, config_id)
    changed = copy.deepcopy(config)
    _apply(call, changed, call.params, creating=False)
    if "active" in call.params:
        changed["active"] = as_bool(call.params["active"], "active")
        if config["is_default"] and not changed["active"]:
            raise invalid_request("The default configuration cannot be deactivated.", param="active")
    changed["updated"] = call.now()
    config.update(changed)
    return public(config)


@accepts("active", "is_default", *LIST)
def list_configurations(call: Call) -> dict[str, Any]:
    params = call.params
    active = as_bool(params["active"], "active") if "active" in params else None
    is_default = as_bool(params["is_default"], "is_default") if "is_default" in params else None
    rows = [c for c in call.state.store.newest_first(CONFIG)
            if active in (None, c["active"]) and is_default in (None, c["is_default"])]
    return page(call, rows, "/v1/billing_portal/configurations", public, "billing_portal.configuration")


# Not implemented, so refused: flow_data, locale, on_behalf_of.
@accepts("customer", "configuration", "return_url")
def create_session(call: Call) -> dict[str, Any]:
    params = call.params
    customer = referenced(call, "customer", params.get("customer"), "customer")
    if params.get("configuration"):
        config = referenced(call, CONFIG, params["configuration"], "configuration",
                            label="billing_portal.configuration")
        if not config["active"]:
            raise invalid_request("The configuration is inactive.", param="configuration")
    else:
        found = default_configuration(call)
        if found is None:
            raise invalid_request("No configuration provided and your test mode default configuration has not been "
                                  "created. Provide a configuration or create your default by saving your customer "
                                  "portal settings in test mode at "
                                  "https://dashboard.stripe.com/test/settings/billing/portal.")
        config = found
    return_url = _url(params.get("return_url"), "return_url") or config["default_return_url"]
    secret = f"test_{secrets.token_urlsafe(32)}"
    session = {
        "id": new_id("bps"), "object": "billing_portal.session", "configuration": config["id"],
        "created": customer_now(call.state, customer), "customer": customer["id"], "customer_account": None,
        "flow": None, "livemode": False, "locale": None, "on_behalf_of": None, "return_url": return_url,
        "url": call.public_url(PAGE_PATH + secret), "_secret": secret,
    }
    call.state.store.put(SESSION, session)
    call.state.store.put(SECRET, {"id": secret, "session": session["id"]})
    return public(session)


ROUTES: list[Route] = [
    *crud_routes("/v1/billing_portal/configurations", create=create_configuration, list_all=list_configurations,
                 retrieve=retrieve_configuration, update=update_configuration),
    ("POST", "/v1/billing_portal/sessions", create_session),
]


# --- what the customer does on the portal page ---------------------------------------------------


def _cycle(price: dict[str, Any]) -> tuple[str, int]:
    recurring = price.get("recurring") or {}
    return str(recurring.get("interval")), int(recurring.get("interval_count") or 1)


class PortalView:
    """One portal session as its page sees it: the session, its configuration, its customer."""

    def __init__(self, call: Call, secret: str) -> None:
        store = call.state.store
        link = store.get(SECRET, secret)
        session = store.get(SESSION, link["session"]) if link else None
        if session is None:
            raise resource_missing("billing_portal.session", secret)
        self.call = call
        self.session = session
        self.config: dict[str, Any] = store.get(CONFIG, session["configuration"]) or {}
        self.customer: dict[str, Any] = store.get("customer", session["customer"]) or {}

    @property
    def features(self) -> dict[str, Any]:
        features: dict[str, Any] = self.config["features"]
        return features

    def subscriptions(self) -> list[dict[str, Any]]:
        store = self.call.state.store
        subs = [store.get("subscription", sub_id) for sub_id in self.customer.get("_subscriptions", [])]
        return [s for s in subs if s is not None and s["status"] in LIVE_STATUSES]

    def invoices(self) -> list[dict[str, Any]]:
        return [i for i in self.call.state.store.newest_first("invoice")
                if i["customer"] == self.customer.get("id") and i["status"] != "draft"]

    def switch_targets(self, sub: dict[str, Any]) -> list[dict[str, Any]]:
        """The prices ``sub`` may switch to: the configuration's, billed at the same interval and in the same
        currency (no prorations here, so no cycle change), for a one-item active or trialing subscription."""
        update = self.features["subscription_update"]
        if not update["enabled"] or "price" not in update["default_allowed_updates"]:
            return []
        if len(sub["_items"]) != 1 or sub["status"] not in ("active", "trialing"):
            return []
        store = self.call.state.store
        current = store.get("price", sub["_items"][0]["price"]) or {}
        prices = [store.get("price", p) for product in update["products"] for p in product["prices"]]
        return [p for p in prices if p is not None and p["active"] and p["id"] != current.get("id")
                and p["currency"] == current.get("currency") and _cycle(p) == _cycle(current)]

    def _subscription(self, sub_id: str) -> dict[str, Any]:
        sub = next((s for s in self.subscriptions() if s["id"] == sub_id), None)
        if sub is None:
            raise resource_missing("subscription", sub_id)
        return sub

    def _now(self) -> int:
        return customer_now(self.call.state, self.customer)

    def cancel(self, sub_id: str) -> None:
        feature = self.features["subscription_cancel"]
        if not feature["enabled"]:
            raise invalid_request("This portal does not allow canceling subscriptions.")
        sub, now = self._subscription(sub_id), self._now()
        if feature["mode"] == "immediately":
            billing.cancel(self.call, sub, now, "cancellation_requested")
            return
        before = billing.snapshot(sub)
        billing.schedule_cancel(sub, True, now)
        emit_updated(self.call, "customer.subscription.updated", "subscription", before, sub, created=now)

    def renew(self, sub_id: str) -> None:
        sub, now = self._subscription(sub_id), self._now()
        if not sub["cancel_at_period_end"]:
            raise invalid_request("This subscription is not set to cancel.")
        before = billing.snapshot(sub)
        billing.schedule_cancel(sub, False, now)
        emit_updated(self.call, "customer.subscription.updated", "subscription", before, sub, created=now)

    def switch(self, sub_id: str, price_id: str) -> None:
        sub = self._subscription(sub_id)
        price = next((p for p in self.switch_targets(sub) if p["id"] == price_id), None)
        if price is None:
            raise StripeError(400, "invalid_request_error", "This plan is not available for this subscription.",
                              param="price")
        now = self._now()
        before = billing.snapshot(sub)
        sub["_items"][0]["price"] = price["id"]
        emit_updated(self.call, "customer.subscription.updated", "subscription", before, sub, created=now)
