"""Subscriptions: create (trial, payment behaviour), update, cancel, pause/resume, list, search."""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..endpoints import Route, crud_routes
from ..errors import StripeError, card_declined, invalid_request, missing_param, missing_reference, resource_missing
from ..events import emit, emit_updated
from ..forms import as_bool, as_dict, as_int, blank_to_none, merge_metadata
from ..lists import created_filter, page, search_records
from ..lookup import get_or_404, referenced
from ..params import CREATED, LIST, SEARCH, accepts, implemented_values
from ..render import RENDERERS, render
from ..search import SUBSCRIPTION_FIELDS
from ..state import EmulatorState
from ..store import new_id, public
from . import billing, discounts, invoices, plan_changes
from .clock_time import customer_now
from .payment_methods import customers_own
from .prices import plan_of
from .tiers import price_amount

DAY = billing.DAY
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
MISSING_PM_BEHAVIORS = ("cancel", "create_invoice", "pause")
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")
LIVE_STATUSES = ("active", "past_due", "unpaid", "trialing", "incomplete", "paused")
# GET /v1/subscriptions?status=: the values Stripe accepts (any other is a 400, not an empty list).
LIST_STATUSES = ("active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused",
                 "trialing", "unpaid")


def _render_items(state: EmulatorState, sub: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for item in sub["_items"]:
        rendered = public(item)
        price = state.store.get("price", item["price"])
        if price is not None:
            rendered["price"] = public(price)
            rendered["plan"] = plan_of(price)
        items.append(rendered)
    return items


def render_subscription(state: EmulatorState, sub: dict[str, Any]) -> dict[str, Any]:
    body = public(sub)
    items = _render_items(state, sub)
    body["items"] = {"object": "list", "data": items, "has_more": False, "total_count": len(items),
                     "url": f"/v1/subscription_items?subscription={sub['id']}"}
    if len(items) == 1:  # older API versions show the single item's plan on the subscription
        body["plan"] = items[0].get("plan")
        body["quantity"] = items[0]["quantity"]
    return body


RENDERERS["subscription"] = render_subscription


def _price_for(call: Call, price_id: Any, param: str) -> dict[str, Any]:
    price = referenced(call, "price", price_id, param)
    if not price["active"]:
        raise invalid_request("The price specified is inactive. This field only accepts active prices.",
                              param=param)
    if price["type"] != "recurring":
        raise invalid_request("The price specified is set to `type=one_time` but this field only accepts "
                              "prices with `type=recurring`.", param=param)
    return price


def _item_price(call: Call, spec: dict[str, Any], where: str) -> dict[str, Any]:
    """An item's ``price`` (a plan's id too: a plan is a price). ``items[][plan]`` is not in Stripe's spec
    since 2023 at least, so it is refused as unknown."""
    return _price_for(call, spec.get("price"), f"{where}[price]")


def _new_item(call: Call, sub_id: str, spec: dict[str, Any], index: int, now: int) -> dict[str, Any]:
    price = _item_price(call, spec, f"items[{index}]")
    return {
        "id": new_id("si", 14), "object": "subscription_item", "billing_thresholds": None, "created": now,
        "current_period_end": None, "current_period_start": None, "discounts": [],
        "metadata": merge_metadata({}, spec.get("metadata", {})), "price": price["id"],
        "quantity": as_int(spec.get("quantity", 1), f"items[{index}][quantity]", minimum=0),
        "subscription": sub_id, "tax_rates": [],
    }


def _check_intervals(call: Call, items: list[dict[str, Any]]) -> str:
    prices = [call.state.store.get("price", item["price"]) or {} for item in items]
    intervals = {(p["recurring"]["interval"], p["recurring"]["interval_count"]) for p in prices}
    if len(intervals) > 1:
        raise invalid_request("All prices on a subscription must have the same `recurring.interval` and "
                              "`recurring.interval_count`.", param="items")
    currencies = {str(p["currency"]) for p in prices}
    if len(currencies) > 1:
        raise invalid_request("All prices on a subscription must have the same currency.", param="items")
    return currencies.pop()


def _trial_end(call: Call, params: dict[str, Any], items: list[dict[str, Any]], now: int) -> int | None:
    if params.get("trial_end") not in (None, "", "now"):
        trial_end = as_int(params["trial_end"], "trial_end")
        if trial_end <= now:
            raise invalid_request("Invalid timestamp: must be in the future.", param="trial_end")
        return trial_end
    if params.get("trial_period_days") not in (None, ""):
        days = as_int(params["trial_period_days"], "trial_period_days", minimum=0, maximum=730)
        return now + days * DAY if days else None
    if as_bool(params.get("trial_from_plan", "false"), "trial_from_plan"):
        price = call.state.store.get("price", items[0]["price"]) or {}
        plan_days = (price.get("recurring") or {}).get("trial_period_days")
        return now + int(plan_days) * DAY if plan_days else None
    return None


def _trial_settings(value: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = current or {"end_behavior": {"missing_payment_method": "create_invoice"}}
    if value is None:
        return settings
    behavior = as_dict(as_dict(value, "trial_settings").get("end_behavior", {}), "trial_settings[end_behavior]")
    missing = behavior.get("missing_payment_method", settings["end_behavior"]["missing_payment_method"])
    if missing not in MISSING_PM_BEHAVIORS:
        raise invalid_request("Invalid trial_settings[end_behavior][missing_payment_method]: must be one of "
                              + ", ".join(MISSING_PM_BEHAVIORS),
                              param="trial_settings[end_behavior][missing_payment_method]")
    return {"end_behavior": {"missing_payment_method": missing}}


def _record(call: Call, sub_id: str, customer: dict[str, Any], params: dict[str, Any],
            items: list[dict[str, Any]], currency: str, now: int) -> dict[str, Any]:
    pm = params.get("default_payment_method")
    return {
        "id": sub_id, "object": "subscription", "application": None, "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now, "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"}, "billing_schedules": [],
        "billing_thresholds": None, "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically", "created": now, "currency": currency,
        "current_period_end": None, "current_period_start": None, "customer": customer["id"],
        "customer_account": None, "days_until_due": None,
        "default_payment_method": customers_own(call, customer, pm, "default_payment_method") if pm else None,
        "default_source": None, "default_tax_rates": [], "description": blank_to_none(params.get("description")),
        "discount": None, "discounts": [], "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}}, "latest_invoice": None,
        "livemode": False, "managed_payments": {"enabled": False},
        "metadata": merge_metadata({}, params.get("metadata", {})), "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None, "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
        "schedule": None, "start_date": now, "status": "incomplete", "test_clock": customer.get("test_clock"),
        "transfer_data": None, "trial_end": None, "trial_settings": _trial_settings(params.get("trial_settings")),
        "trial_start": None, "_items": items, "_cycle": 0,
    }


def _start(call: Call, sub: dict[str, Any], trial_end: int | None, behavior: str, now: int) -> None:
    """Set the first period and the status: trialing, active (paid) or incomplete."""
    if trial_end:
        sub.update(status="trialing", trial_start=now, trial_end=trial_end, billing_cycle_anchor=trial_end)
        billing.set_period(sub, now, trial_end)
        return
    billing.start_cycle(call, sub, now)
    pays = billing.can_pay(call, sub) and behavior != "default_incomplete"
    if not pays and behavior == "error_if_incomplete":
        if billing.payment_method_for(call.state, sub) is None:
            raise invalid_request("This customer has no attached payment source or default payment method.",
                                  code="resource_missing")
        raise card_declined()
    sub["status"] = "active" if pays else "incomplete"


def new_subscription(call: Call, customer: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Create a subscription from create parameters (shared with Checkout completion)."""
    now = customer_now(call.state, customer)
    specs = params.get("items")
    if not specs:
        raise missing_param("items")
    if not isinstance(specs, list):
        raise invalid_request("Invalid array", param="items")
    sub_id = new_id("sub")
    items = [_new_item(call, sub_id, as_dict(spec, f"items[{i}]"), i, now) for i, spec in enumerate(specs)]
    currency = _check_intervals(call, items)
    behavior = params.get("payment_behavior", "allow_incomplete")
    if behavior not in PAYMENT_BEHAVIORS:
        raise invalid_request("Invalid payment_behavior: must be one of " + ", ".join(PAYMENT_BEHAVIORS),
                              param="payment_behavior")
    found = discounts.resolve(call, params.get("discounts"), "discounts", customer=customer, currency=currency,
                              amount=items_amount(call, items))
    sub = _record(call, sub_id, customer, params, items, currency, now)
    _start(call, sub, _trial_end(call, params, items, now), behavior, now)
    if as_bool(params.get("cancel_at_period_end", "false"), "cancel_at_period_end"):
        sub.update(cancel_at_period_end=True, cancel_at=sub["current_period_end"])
    elif params.get("cancel_at"):
        sub["cancel_at"] = as_int(params["cancel_at"], "cancel_at")
    _first_invoice(call, sub, customer, behavior, found, now)
    return sub


def items_amount(call: Call, items: list[dict[str, Any]]) -> int:
    """What the items come to per period (a promotion code's ``minimum_amount`` is checked on it)."""
    return sum(price_amount(call.state.store.get("price", i["price"]) or {}, i["quantity"] or 0) for i in items)


def _first_invoice(call: Call, sub: dict[str, Any], customer: dict[str, Any], behavior: str,
                   found: discounts.Found, now: int) -> None:
    invoice_id = new_id("in")
    sub["latest_invoice"] = invoice_id
    call.state.store.put("subscription", sub)
    customer.setdefault("_subscriptions", []).append(sub["id"])  # index: the customer's subscriptions
    made = discounts.apply_to_subscription(call, sub, found, now, announce=False)
    emit(call, "customer.subscription.created", "subscription", sub, created=now)
    discounts.announce_created(call, made, now)
    trialing = sub["status"] == "trialing"
    invoice = invoices.new_invoice(call, sub, customer, now=now, reason="subscription_create",
                                   start=sub["current_period_start"], end=sub["current_period_end"],
                                   zero=trialing, invoice_id=invoice_id)
    invoices.finalize(call, invoice, customer, now)
    if trialing:
        invoices.mark_paid(call, invoice, now)
        if sub["trial_end"] - now <= billing.TRIAL_WILL_END_NOTICE:
            sub["_trial_will_end_sent"] = True
            emit(call, "customer.subscription.trial_will_end", "subscription", sub, created=now)
    elif behavior != "default_incomplete":
        # A first invoice is not retried: unpaid, the subscription expires after 23 hours.
        invoices.collect(call, invoice, billing.payment_method_for(call.state, sub), now, retry=False)


_TRIAL_SETTINGS = "trial_settings[end_behavior][missing_payment_method]"


# Not implemented, so refused: add_invoice_items, application_fee_percent, automatic_tax, backdate_start_date,
# billing_cycle_anchor(_config), billing_thresholds, coupon and promotion_code (gone from the SDK's API
# version: discounts), currency, days_until_due, default_source, default_tax_rates, discounts[][discount],
# invoice_settings, items[][price_data|tax_rates|discounts|billing_thresholds], off_session, on_behalf_of,
# payment_settings, pending_invoice_item_interval, proration_behavior, transfer_data.
@accepts("customer", "items[][price]", "items[][quantity]", "items[][metadata]",
         "trial_period_days", "trial_end",
         "discounts[][coupon]", "discounts[][promotion_code]",
         "trial_from_plan", _TRIAL_SETTINGS, "default_payment_method", "payment_behavior", "cancel_at_period_end",
         "cancel_at", "metadata", "description", "collection_method")
def create(call: Call) -> dict[str, Any]:
    implemented_values(call.params, "collection_method", "charge_automatically")
    if call.params.get("payment_behavior") == "pending_if_incomplete":
        raise invalid_request("payment_behavior=pending_if_incomplete can only be used when updating a "
                              "subscription.", param="payment_behavior")
    customer = referenced(call, "customer", call.params.get("customer"), "customer")
    return render(call.state, "subscription", new_subscription(call, customer, call.params))


@accepts()
def retrieve(call: Call, sub_id: str) -> dict[str, Any]:
    return render(call.state, "subscription", get_or_404(call, "subscription", sub_id))


def apply_item_specs(call: Call, sub: dict[str, Any], specs: Any, now: int, *, param: str = "items") -> None:
    """Add, change and delete items as ``items[]`` of an update (or of a preview) says."""
    if not isinstance(specs, list):
        raise invalid_request("Invalid array", param=param)
    for index, raw in enumerate(specs):
        where = f"{param}[{index}]"
        spec = as_dict(raw, where)
        item_id = spec.get("id")
        if not item_id:
            sub["_items"].append(_new_item(call, sub["id"], spec, index, now))
            continue
        item = next((i for i in sub["_items"] if i["id"] == item_id), None)
        if item is None:
            raise missing_reference("subscription_item", str(item_id), f"{where}[id]")
        if as_bool(spec.get("deleted", "false"), f"{where}[deleted]"):
            sub["_items"].remove(item)
            continue
        if "price" in spec:
            item["price"] = _item_price(call, spec, where)["id"]
        if "quantity" in spec:
            item["quantity"] = as_int(spec["quantity"], f"{where}[quantity]", minimum=0)
        if "metadata" in spec:
            item["metadata"] = merge_metadata(item["metadata"], spec["metadata"])
    if not sub["_items"]:
        raise invalid_request("A subscription must have at least one active plan.", param=param)
    _check_intervals(call, sub["_items"])
    billing.set_period(sub, sub["current_period_start"], sub["current_period_end"])


def _apply_pause(sub: dict[str, Any], value: Any) -> None:
    if value == "":
        sub["pause_collection"] = None
        return
    spec = as_dict(value, "pause_collection")
    behavior = spec.get("behavior")
    if behavior not in PAUSE_BEHAVIORS:
        raise invalid_request("Invalid pause_collection[behavior]: must be one of " + ", ".join(PAUSE_BEHAVIORS),
                              param="pause_collection[behavior]")
    sub["pause_collection"] = {"behavior": behavior, "resumes_at": None}


def _apply_trial_end(call: Call, sub: dict[str, Any], value: Any, now: int) -> bool:
    """Returns True when the trial must end now."""
    if value == "now":
        if sub["status"] != "trialing":
            raise invalid_request("This subscription is not trialing.", param="trial_end")
        return True
    trial_end = as_int(value, "trial_end")
    if trial_end <= now:
        raise invalid_request("Invalid timestamp: must be in the future.", param="trial_end")
    if sub["status"] != "trialing":
        raise invalid_request("The emulator can only move the trial end of a trialing subscription.",
                              param="trial_end")
    sub["trial_end"] = trial_end
    sub["billing_cycle_anchor"] = trial_end
    sub["_trial_will_end_sent"] = trial_end - now <= billing.TRIAL_WILL_END_NOTICE
    billing.set_period(sub, sub["current_period_start"], trial_end)
    return False


# Not implemented, so refused (beyond those of create): pause_collection[resumes_at], payment_behavior,
# trial_from_plan. Prorations and billing cycle resets: plan_changes.py.
@accepts("proration_behavior", "billing_cycle_anchor", "proration_date", "discounts[][coupon]",
         "discounts[][promotion_code]",
         "items[][id]", "items[][price]", "items[][quantity]", "items[][metadata]",
         "items[][deleted]",
         "cancel_at_period_end", "cancel_at", "default_payment_method", "metadata", "description",
         "pause_collection[behavior]", "trial_end", _TRIAL_SETTINGS, "cancellation_details[comment]",
         "cancellation_details[feedback]")
def update(call: Call, sub_id: str) -> dict[str, Any]:
    params = call.params
    sub = get_or_404(call, "subscription", sub_id)
    if sub["status"] in ("canceled", "incomplete_expired") and set(params) - {
            "metadata", "cancellation_details", "expand"}:
        raise invalid_request("A canceled subscription can only update its cancellation_details and metadata.")
    customer = billing.customer_of(call, sub)
    now = customer_now(call.state, customer)
    before = billing.snapshot(sub)
    try:
        if "items" in params:
            apply_item_specs(call, sub, params["items"], now)
        change = plan_changes.read(call, sub, params, before["_items"], now)
        found = discounts.resolve(call, params["discounts"], "discounts", customer=customer, currency=sub["currency"],
                                  amount=items_amount(call, sub["_items"])) if "discounts" in params else None
    except StripeError:
        sub.clear()
        sub.update(before)  # a refused update changes nothing
        raise
    if found is not None:
        discounts.apply_to_subscription(call, sub, found, now)
    failed = plan_changes.apply(call, sub, customer, before["_items"], change, now)
    if "metadata" in params:
        sub["metadata"] = merge_metadata(sub["metadata"], params["metadata"])
    if "description" in params:
        sub["description"] = blank_to_none(params["description"])
    if "default_payment_method" in params:
        pm = blank_to_none(params["default_payment_method"])
        sub["default_payment_method"] = customers_own(call, customer, pm, "default_payment_method") if pm else None
    if "cancel_at_period_end" in params:
        billing.schedule_cancel(sub, as_bool(params["cancel_at_period_end"], "cancel_at_period_end"), now)
    if "cancel_at" in params:
        cancel_at = blank_to_none(params["cancel_at"])
        sub.update(cancel_at=as_int(cancel_at, "cancel_at") if cancel_at else None, cancel_at_period_end=False)
    if "cancellation_details" in params:
        details = as_dict(params["cancellation_details"], "cancellation_details")
        sub["cancellation_details"] = {**sub["cancellation_details"],
                                       **{k: blank_to_none(v) for k, v in details.items()
                                          if k in ("comment", "feedback")}}
    if "pause_collection" in params:
        _apply_pause(sub, params["pause_collection"])
    if "trial_settings" in params:
        sub["trial_settings"] = _trial_settings(params["trial_settings"], sub["trial_settings"])
    end_trial_now = "trial_end" in params and _apply_trial_end(call, sub, params["trial_end"], now)
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
    if failed is not None:
        billing.after_failed_payment(call, sub, failed, now)
    if end_trial_now:
        billing.end_trial(call, sub, now)
    return render(call.state, "subscription", sub)


# Not implemented, so refused: invoice_now, prorate.
@accepts("cancellation_details[comment]", "cancellation_details[feedback]")
def cancel(call: Call, sub_id: str) -> dict[str, Any]:
    sub = get_or_404(call, "subscription", sub_id)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise resource_missing("subscription", sub_id)
    details = as_dict(call.params.get("cancellation_details", {}), "cancellation_details")
    sub["cancellation_details"] = {**sub["cancellation_details"],
                                   **{k: blank_to_none(v) for k, v in details.items() if k in ("comment", "feedback")}}
    now = customer_now(call.state, billing.customer_of(call, sub))
    billing.cancel(call, sub, now, "cancellation_requested")
    return render(call.state, "subscription", sub)


# Not implemented, so refused: billing_cycle_anchor other than now (Stripe's default), proration_behavior,
# proration_date.
@accepts("billing_cycle_anchor")
def resume(call: Call, sub_id: str) -> dict[str, Any]:
    """``POST /v1/subscriptions/{id}/resume``: a paused subscription starts a new cycle now."""
    implemented_values(call.params, "billing_cycle_anchor", "now")
    sub = get_or_404(call, "subscription", sub_id)
    if sub["status"] != "paused":
        raise invalid_request("Only subscriptions with `status=paused` can be resumed.")
    now = customer_now(call.state, billing.customer_of(call, sub))
    before = billing.snapshot(sub)
    sub["status"] = "active" if billing.can_pay(call, sub) else "past_due"
    billing.start_cycle(call, sub, now)
    invoice, paid = billing.bill(call, sub, now, "subscription_update")
    emit_updated(call, "customer.subscription.updated", "subscription", before, sub, created=now)
    emit(call, "customer.subscription.resumed", "subscription", sub, created=now)
    if not paid:
        billing.after_failed_payment(call, sub, invoice, now)
    return render(call.state, "subscription", sub)


@accepts("customer", "status", "price", "test_clock", *CREATED, *LIST)
def list_subscriptions(call: Call) -> dict[str, Any]:
    params = call.params
    status = params.get("status")
    if status not in (None, "") and status not in LIST_STATUSES:
        raise invalid_request(f"Invalid status: must be one of {', '.join(LIST_STATUSES[:-1])}, or {LIST_STATUSES[-1]}",
                              param="status")
    created = created_filter(call)
    price = params.get("price")

    def wanted(sub: dict[str, Any]) -> bool:
        if status in (None, ""):
            if sub["status"] in ("canceled", "incomplete_expired"):
                return False
        elif status == "ended":
            if sub["status"] not in ("canceled", "incomplete_expired"):
                return False
        elif status != "all" and sub["status"] != status:
            return False
        return (
            (not params.get("customer") or sub["customer"] == params["customer"])
            and (not params.get("test_clock") or sub["test_clock"] == params["test_clock"])
            and (not price or any(i["price"] == price for i in sub["_items"]))
            and created(sub)
        )

    rows = [s for s in call.state.store.newest_first("subscription") if wanted(s)]
    return page(call, rows, "/v1/subscriptions", lambda r: render(call.state, "subscription", r), "subscription")


@accepts(*SEARCH)
def search(call: Call) -> dict[str, Any]:
    return search_records(call, "subscription", SUBSCRIPTION_FIELDS, "/v1/subscriptions/search")


@accepts("subscription", *LIST)
def list_items(call: Call) -> dict[str, Any]:
    """``GET /v1/subscription_items?subscription=...`` (the ``url`` of a subscription's ``items``)."""
    sub_id = call.params.get("subscription")
    if not sub_id:
        raise missing_param("subscription")
    items = _render_items(call.state, get_or_404(call, "subscription", str(sub_id)))
    return page(call, items, f"/v1/subscription_items?subscription={sub_id}", lambda r: r, "subscription_item")


@accepts()
def retrieve_item(call: Call, item_id: str) -> dict[str, Any]:
    for sub in call.state.store.table("subscription").values():
        if any(item["id"] == item_id for item in sub["_items"]):
            return next(item for item in _render_items(call.state, sub) if item["id"] == item_id)
    raise resource_missing("subscription_item", item_id)


ROUTES: list[Route] = [
    *crud_routes("/v1/subscription_items", list_all=list_items, retrieve=retrieve_item),
    *crud_routes("/v1/subscriptions", create=create, list_all=list_subscriptions, retrieve=retrieve, update=update,
                 delete=cancel),
    ("GET", "/v1/subscriptions/search", search),
    ("POST", "/v1/subscriptions/{id}/resume", resume),
]
