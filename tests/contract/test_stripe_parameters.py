"""Strict parameters: what the emulator accepts it acts on; anything else is refused as Stripe does.

Stripe answers a parameter it does not know with 400 ``invalid_request_error``, code
``parameter_unknown``, "Received unknown parameter: <name>" (the full bracket path when nested) and
``param`` set. The emulator answers so for unknown parameters and for Stripe parameters it does not
implement; a parameter it implements for some values only refuses the others on that parameter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
import stripe_reference
from conftest import Admin

# Endpoints newer than the 2023-08-16 spec, or the emulator's own test helper: no spec to check against.
NOT_IN_SPEC = {
    "POST /v1/test_helpers/checkout/sessions/{}/complete",
    "POST /v1/entitlements/features", "GET /v1/entitlements/features", "GET /v1/entitlements/features/{}",
    "POST /v1/entitlements/features/{}", "GET /v1/entitlements/active_entitlements",
    "GET /v1/entitlements/active_entitlements/{}", "POST /v1/products/{}/features", "GET /v1/products/{}/features",
    "GET /v1/products/{}/features/{}", "DELETE /v1/products/{}/features/{}",
    "POST /v1/invoices/create_preview", "GET /v1/invoice_payments", "GET /v1/invoice_payments/{}",
}
# Parameters Stripe added after that spec.
NEWER_THAN_SPEC = {"GET /v1/checkout/sessions": {"status"},
                   "POST /v1/checkout/sessions": {"ui_mode", "return_url"},
                   "POST /v1/promotion_codes": {"promotion[type]", "promotion[coupon]"},
                   "POST /v1/subscriptions": {"discounts[][coupon]", "discounts[][promotion_code]"},
                   "POST /v1/subscriptions/{}": {"discounts[][coupon]", "discounts[][promotion_code]"},
                   "POST /v1/invoices": {"discounts[][promotion_code]"}}


def _refused(call: Any, param: str) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    error = caught.value
    assert (error.http_status, error.code, error.param) == (400, "parameter_unknown", param), error
    assert error.error is not None and error.error.type == "invalid_request_error"
    assert error.user_message == f"Received unknown parameter: {param}"
    return error


def _subscribed(client: stripe.StripeClient, price: Any) -> Any:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    return client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})


# --- one test per kind of refusal ---------------------------------------------------------------


def test_an_unknown_parameter_is_refused_and_nothing_happens(client: stripe.StripeClient) -> None:
    _refused(lambda: client.v1.customers.create(params={"email": "a@example.com", "emial": "typo"}), "emial")
    assert client.v1.customers.list().data == []
    assert client.v1.events.list().data == []


def test_an_unknown_key_inside_an_object_is_named_by_its_path(client: stripe.StripeClient) -> None:
    _refused(lambda: client.v1.customers.create(params={"invoice_settings": {"footer": "x", "fotter": "y"}}),
             "invoice_settings[fotter]")
    _refused(lambda: client.v1.customers.list(params={"created": {"gte": 1, "after": 2}}), "created[after]")


def test_an_unknown_key_inside_an_array_element_is_named_with_its_index(client: stripe.StripeClient,
                                                                         monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    _refused(lambda: client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": monthly_price.id}, {"price": monthly_price.id, "qty": 2}]}),
        "items[1][qty]")
    assert client.v1.subscriptions.list(params={"status": "all"}).data == []


def test_free_form_hashes_take_any_key(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"anything": "1", "emial": "2"}})
    assert customer.metadata.to_dict() == {"anything": "1", "emial": "2"}


def test_reads_refuse_unknown_query_parameters(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "a@example.com"})
    _refused(lambda: client.v1.customers.retrieve(customer.id, params={"include": "all"}), "include")
    _refused(lambda: client.v1.customers.list(params={"mail": "a@example.com"}), "mail")
    _refused(lambda: client.v1.customers.search(params={"query": "email:'a@example.com'", "sort": "x"}), "sort")


def test_deletes_take_no_expand_but_subscription_cancel_does(client: stripe.StripeClient, monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "a@example.com"})
    _refused(lambda: client.raw_request("delete", f"/v1/customers/{customer.id}", expand=["subscriptions"]),
             "expand")
    sub = _subscribed(client, monthly_price)
    canceled = client.v1.subscriptions.cancel(sub.id, params={"expand": ["latest_invoice"]})
    assert canceled.status == "canceled" and canceled.latest_invoice.object == "invoice"


@pytest.mark.parametrize("extra, param", [
    ({"discounts": [{"discount": "di_missing"}]}, "discounts[0][discount]"),
    ({"coupon": "no_such_coupon"}, "coupon"),
    ({"promotion_code": "promo_missing"}, "promotion_code"),
    ({"automatic_tax": {"enabled": True}}, "automatic_tax"),
    ({"billing_cycle_anchor": 1_900_000_000}, "billing_cycle_anchor"),
    ({"proration_behavior": "create_prorations"}, "proration_behavior"),
    ({"add_invoice_items": [{"price": "price_x"}]}, "add_invoice_items"),
    ({"off_session": True}, "off_session"),
    ({"payment_settings": {"save_default_payment_method": "on_subscription"}}, "payment_settings"),
    ({"items": [{"price_data": {"currency": "usd"}}]}, "items[0][price_data]"),
])
def test_stripe_parameters_the_emulator_does_not_implement_are_refused(
        client: stripe.StripeClient, monthly_price: Any, extra: dict[str, Any], param: str) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    params = {"customer": customer.id, "items": [{"price": monthly_price.id}], **extra}
    _refused(lambda: client.v1.subscriptions.create(params=params), param)
    assert client.v1.subscriptions.list(params={"status": "all"}).data == []


@pytest.mark.parametrize("call, param", [
    (lambda c, sub: c.v1.subscriptions.update(sub.id, params={"pause_collection": {
        "behavior": "void", "resumes_at": 1_900_000_000}}), "pause_collection[resumes_at]"),
    (lambda c, sub: c.v1.subscriptions.cancel(sub.id, params={"invoice_now": True}), "invoice_now"),
    (lambda c, sub: c.v1.subscriptions.cancel(sub.id, params={"prorate": True}), "prorate"),
    (lambda c, sub: c.v1.invoices.pay(sub.latest_invoice, params={"forgive": True}), "forgive"),
    (lambda c, sub: c.v1.prices.create(params={"currency": "usd", "unit_amount": 5, "product": "prod_x",
                                                "transform_quantity": {"divide_by": 10, "round": "up"}}),
     "transform_quantity"),
    (lambda c, sub: c.v1.prices.create(params={"currency": "usd", "unit_amount": 5, "product": "prod_x",
                                                "recurring": {"interval": "month", "usage_type": "metered",
                                                              "meter": "mtr_x"}}), "recurring[meter]"),
    (lambda c, sub: c.v1.checkout.sessions.create(params={"mode": "subscription",
                                                          "customer_update": {"name": "auto"}}), "customer_update"),
    (lambda c, sub: c.v1.coupons.create(params={"percent_off": 10, "applies_to": {"products": ["prod_x"]}}),
     "applies_to"),
    (lambda c, sub: c.v1.checkout.sessions.create(params={"mode": "subscription", "ui_mode": "embedded",
                                                          "redirect_on_completion": "never"}),
     "redirect_on_completion"),
    (lambda c, sub: c.v1.webhook_endpoints.create(params={"url": "https://e.com", "enabled_events": ["*"],
                                                          "connect": True}), "connect"),
    (lambda c, sub: c.v1.customers.create(params={"coupon": "no_such_coupon"}), "coupon"),
    (lambda c, sub: c.v1.customers.create(params={"shipping": {"name": "A"}}), "shipping"),
])
def test_other_unimplemented_parameters_are_refused(client: stripe.StripeClient, monthly_price: Any, call: Any,
                                                   param: str) -> None:
    sub = _subscribed(client, monthly_price)
    _refused(lambda: call(client, sub), param)


def test_a_parameter_implemented_for_some_values_refuses_the_others_on_that_parameter(
        client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribed(client, monthly_price)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.create(params={"customer": sub.customer, "items": [{"price": monthly_price.id}],
                                               "collection_method": "send_invoice"})
    assert caught.value.param == "collection_method"
    assert "does not implement collection_method=send_invoice" in str(caught.value.user_message)
    client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "void"}})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": "unchanged"})
    assert (caught.value.http_status, caught.value.param) == (400, "billing_cycle_anchor")
    assert client.v1.subscriptions.list(params={"status": "all"}).data[0].id == sub.id


def test_a_refused_request_keeps_no_idempotent_answer(client: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "refused-then-fixed"}
    _refused(lambda: client.v1.customers.create(params={"emial": "a@example.com"}, options=options), "emial")
    customer = client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    assert customer.email == "a@example.com"


def test_the_admin_checkout_completion_refuses_unknown_parameters(client: stripe.StripeClient, raw: httpx.Client,
                                                                 monthly_price: Any) -> None:
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "line_items": [{"price": monthly_price.id}], "success_url": "https://e.com/ok"})
    answer = raw.post(f"/_emulator/checkout/sessions/{session.id}/complete", json={"card": "pm_card_visa"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "parameter_unknown"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


# --- every endpoint ----------------------------------------------------------------------------


def test_every_endpoint_refuses_an_unknown_parameter(client: stripe.StripeClient, admin: Admin) -> None:
    endpoints = admin.get("endpoints")["data"]
    assert len(endpoints) >= 55
    answered: dict[str, str] = {}
    for endpoint in endpoints:
        path = endpoint["path"].replace("{id}", "xx_missing").replace("{feature}", "xx_missing")
        try:
            client.raw_request(endpoint["method"].lower(), path, emulator_unknown="1")
        except stripe.InvalidRequestError as error:
            if (error.http_status, error.code, error.param) == (400, "parameter_unknown", "emulator_unknown"):
                continue
            answered[f"{endpoint['method']} {path}"] = f"{error.http_status} {error.code} {error.param}"
        else:
            answered[f"{endpoint['method']} {path}"] = "200"
    assert answered == {}


def test_every_declared_parameter_is_one_stripe_has(admin: Admin) -> None:
    """Checked against the spec: no made-up names, and an endpoint the spec lacks is listed here."""
    spec = stripe_reference.load_params()
    not_stripe: dict[str, list[str]] = {}
    unlisted = []
    for endpoint in admin.get("endpoints")["data"]:
        key = stripe_reference.endpoint_key(endpoint["method"], endpoint["path"])
        if key in NOT_IN_SPEC:
            continue
        if key not in spec:
            unlisted.append(key)
            continue
        extra = set(endpoint["params"]) - set(spec[key]) - NEWER_THAN_SPEC.get(key, set())
        if extra:
            not_stripe[key] = sorted(extra)
    assert (unlisted, not_stripe) == ([], {})
    assert NOT_IN_SPEC.isdisjoint(spec)


def test_condensed_params_reference_matches_the_spec() -> None:
    if not (stripe_reference.SOURCE_DIR / "spec3.2023-08-16.json").exists():
        pytest.skip(f"reference files not present in {stripe_reference.SOURCE_DIR}")
    assert stripe_reference.params_from_sources()["endpoints"] == stripe_reference.load_params(), (
        "regenerate with: python tests/contract/stripe_reference.py")


def test_accepted_parameters_check_their_values(client: stripe.StripeClient, monthly_price: Any) -> None:
    """Accepted means acted on: values the emulator would store without meaning are refused."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(params={"tax_exempt": "sometimes"})
    assert caught.value.param == "tax_exempt"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.update(monthly_price.id, params={"tax_behavior": "maybe"})
    assert caught.value.param == "tax_behavior"
    other = client.v1.products.create(params={"name": "Other"})
    for price in ("price_missing", monthly_price.id):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.products.update(other.id, params={"default_price": price})
        assert caught.value.param == "default_price"
    product = client.v1.products.update(monthly_price.product, params={"default_price": monthly_price.id})
    assert product.default_price == monthly_price.id
