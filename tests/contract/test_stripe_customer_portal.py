"""The customer portal: configurations and sessions through the SDK, the hosted page through httpx."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe
from conftest import Admin, Receiver

RETURN = "https://app.example.com/app/"


@pytest.fixture
def browser(emulator: Any) -> Any:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http


@pytest.fixture
def plans(client: stripe.StripeClient, monthly_price: Any) -> dict[str, Any]:
    basic = client.v1.products.create(params={"name": "Basic"})
    basic_price = client.v1.prices.create(params={"product": basic.id, "unit_amount": 500, "currency": "usd",
                                                  "recurring": {"interval": "month"}, "lookup_key": "basic_monthly"})
    yearly = client.v1.prices.create(params={"product": monthly_price.product, "unit_amount": 15000,
                                             "currency": "usd", "recurring": {"interval": "year"}})
    return {"pro": monthly_price, "basic": basic_price, "pro_yearly": yearly}


def _configuration(client: stripe.StripeClient, plans: dict[str, Any], **features: Any) -> Any:
    return client.v1.billing_portal.configurations.create(params={
        "business_profile": {"headline": "Linkflow billing", "privacy_policy_url": "https://app.example.com/privacy"},
        "default_return_url": RETURN,
        "features": {
            "subscription_cancel": {"enabled": True},
            "subscription_update": {"enabled": True, "default_allowed_updates": ["price"], "products": [
                {"product": plans["pro"].product, "prices": [plans["pro"].id, plans["pro_yearly"].id]},
                {"product": plans["basic"].product, "prices": [plans["basic"].id]}]},
            "invoice_history": {"enabled": True}, **features}})


def _subscribed(client: stripe.StripeClient, price: Any) -> tuple[Any, Any]:
    customer = client.v1.customers.create(params={"email": "member@example.com", "payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    return customer, sub


def _action(html: str, button: str) -> str:
    found = re.search(r'<form method="post" action="([^"]+)">(?:<input[^>]*>)*<button type="submit">'
                      + re.escape(button) + "</button>", html)
    assert found, f"no button {button!r} in the page"
    return found.group(1)


def test_configurations_create_retrieve_list_update(client: stripe.StripeClient, plans: dict[str, Any]) -> None:
    config = _configuration(client, plans)
    assert config.object == "billing_portal.configuration" and config.id.startswith("bpc_")
    assert config.is_default and config.active and config.default_return_url == RETURN
    cancel, update = config.features.subscription_cancel, config.features.subscription_update
    assert (cancel.enabled, cancel.mode, cancel.proration_behavior) == (True, "at_period_end", "none")
    assert update.products[1].to_dict() == {"product": plans["basic"].product, "prices": [plans["basic"].id]}
    second = client.v1.billing_portal.configurations.create(params={
        "features": {"subscription_cancel": {"enabled": True, "mode": "immediately"}}})
    assert not second.is_default
    assert client.v1.billing_portal.configurations.retrieve(config.id).id == config.id
    listed = client.v1.billing_portal.configurations.list(params={"is_default": False})
    assert [c.id for c in listed.data] == [second.id]
    changed = client.v1.billing_portal.configurations.update(second.id, params={
        "active": False, "business_profile": {"headline": "Other"}, "metadata": {"k": "v"}})
    assert (changed.active, changed.business_profile.headline, changed.metadata.k) == (False, "Other", "v")
    assert [c.id for c in client.v1.billing_portal.configurations.list(params={"active": True}).data] == [config.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.configurations.update(config.id, params={"active": False})
    assert caught.value.param == "active"


@pytest.mark.parametrize("features, param", [
    ({"subscription_update": {"enabled": True, "default_allowed_updates": ["price"]}},
     "features[subscription_update][products]"),
    ({"subscription_update": {"enabled": True, "default_allowed_updates": ["quantity"], "products": []}},
     "features[subscription_update][default_allowed_updates]"),
    ({"subscription_update": {"enabled": True, "default_allowed_updates": ["price"], "products": [],
                              "proration_behavior": "create_prorations"}},
     "features[subscription_update][proration_behavior]"),
    ({"subscription_cancel": {"enabled": True, "mode": "sometimes"}}, "features[subscription_cancel][mode]"),
    ({"subscription_cancel": {"mode": "immediately"}}, "features[subscription_cancel][enabled]"),
])
def test_configurations_refuse_what_the_portal_would_not_do(client: stripe.StripeClient, features: dict[str, Any],
                                                            param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.configurations.create(params={"features": features})
    assert caught.value.param == param
    assert client.v1.billing_portal.configurations.list().data == []


def test_a_price_of_another_product_is_refused(client: stripe.StripeClient, plans: dict[str, Any]) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.configurations.create(params={"features": {"subscription_update": {
            "enabled": True, "default_allowed_updates": ["price"],
            "products": [{"product": plans["pro"].product, "prices": [plans["basic"].id]}]}}})
    assert caught.value.param == "features[subscription_update][products][0][prices]"


def test_sessions_need_a_configuration(client: stripe.StripeClient, plans: dict[str, Any]) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": RETURN})
    assert "default configuration" in str(caught.value.user_message)
    config = _configuration(client, plans)
    session = client.v1.billing_portal.sessions.create(params={"customer": customer.id})  # the default one
    assert session.object == "billing_portal.session" and session.id.startswith("bps_")
    assert (session.configuration, session.customer, session.return_url) == (config.id, customer.id, RETURN)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"customer": "cus_missing"})
    assert caught.value.param == "customer"


def test_the_portal_page_shows_the_subscription_and_its_choices(client: stripe.StripeClient, browser: httpx.Client,
                                                               emulator: Any, plans: dict[str, Any]) -> None:
    _configuration(client, plans)
    customer, sub = _subscribed(client, plans["pro"])
    session = client.v1.billing_portal.sessions.create(params={"customer": customer.id,
                                                               "return_url": f"{RETURN}?from=portal"})
    assert session.url.startswith(f"{emulator.url}/p/session/")
    page = browser.get(session.url)
    assert page.status_code == 200
    html = page.text
    assert "<h1>Linkflow billing</h1>" in html and "member@example.com" in html
    assert "<h3>Pro</h3>" in html and "$15.00 per month" in html and "Status: Active" in html and "Renews on" in html
    assert _action(html, "Cancel subscription").endswith(f"/subscriptions/{sub.id}/cancel")
    assert _action(html, "Switch to Basic").endswith(f"/subscriptions/{sub.id}/switch")
    assert "Switch to Pro" not in html  # the yearly price would change the billing cycle: not offered
    assert f'<a href="{RETURN}?from=portal">Return</a>' in html
    assert "Invoice history" in html and "$15.00" in html
    assert browser.get(session.url + "x").status_code == 404


def test_cancel_in_the_portal_cancels_at_period_end(client: stripe.StripeClient, admin: Admin,
                                                    browser: httpx.Client, receiver: Receiver, endpoint_secret: str,
                                                    plans: dict[str, Any]) -> None:
    _configuration(client, plans)
    customer, sub = _subscribed(client, plans["pro"])
    url = client.v1.billing_portal.sessions.create(params={"customer": customer.id}).url
    admin.wait_webhooks()
    mark = len(receiver.events())
    answer = browser.post(httpx.URL(url).join(_action(browser.get(url).text, "Cancel subscription")))
    assert answer.status_code == 303 and httpx.URL(url).join(answer.headers["location"]) == httpx.URL(url)

    canceled = client.v1.subscriptions.retrieve(sub.id)
    assert (canceled.status, canceled.cancel_at_period_end) == ("active", True)
    assert canceled.cancel_at == canceled["items"].data[0].current_period_end and canceled.canceled_at is not None
    assert canceled.cancellation_details.reason == "cancellation_requested"
    page = browser.get(url).text
    assert "Cancels on" in page and "Cancel subscription" not in page
    admin.wait_webhooks()
    (updated,) = receiver.events()[mark:]
    assert updated["type"] == "customer.subscription.updated"
    assert updated["data"]["object"]["cancel_at_period_end"] is True
    assert updated["data"]["previous_attributes"]["cancel_at_period_end"] is False

    browser.post(httpx.URL(url).join(_action(page, "Renew subscription")))
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False
    assert "Cancel subscription" in browser.get(url).text


def test_cancel_immediately_when_the_configuration_says_so(client: stripe.StripeClient, browser: httpx.Client,
                                                           plans: dict[str, Any]) -> None:
    config = client.v1.billing_portal.configurations.create(params={
        "features": {"subscription_cancel": {"enabled": True, "mode": "immediately"}}})
    customer, sub = _subscribed(client, plans["pro"])
    url = client.v1.billing_portal.sessions.create(params={"customer": customer.id, "configuration": config.id}).url
    page = browser.get(url).text
    assert "Switch to" not in page and "Invoice history" not in page and "Return" not in page
    browser.post(httpx.URL(url).join(_action(page, "Cancel subscription")))
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert "No active subscriptions." in browser.get(url).text


def test_switch_plan_in_the_portal(client: stripe.StripeClient, admin: Admin, browser: httpx.Client,
                                   receiver: Receiver, endpoint_secret: str, plans: dict[str, Any]) -> None:
    feature = client.v1.entitlements.features.create(params={"name": "Exports", "lookup_key": "exports"})
    client.v1.products.features.create(plans["pro"].product, params={"entitlement_feature": feature.id})
    _configuration(client, plans)
    customer, sub = _subscribed(client, plans["pro"])
    url = client.v1.billing_portal.sessions.create(params={"customer": customer.id}).url
    admin.wait_webhooks()
    mark = len(receiver.events())
    answer = browser.post(httpx.URL(url).join(_action(browser.get(url).text, "Switch to Basic")),
                          data={"price": plans["basic"].id})
    assert answer.status_code == 303
    switched = client.v1.subscriptions.retrieve(sub.id)
    assert switched["items"].data[0].price.id == plans["basic"].id and switched.status == "active"
    page = browser.get(url).text
    assert "<h3>Basic</h3>" in page and "Switch to Pro" in page
    assert client.v1.entitlements.active_entitlements.list(params={"customer": customer.id}).data == []
    admin.wait_webhooks()
    updated, summary = receiver.events()[mark:]
    assert updated["type"] == "customer.subscription.updated"
    assert updated["data"]["object"]["items"]["data"][0]["price"]["id"] == plans["basic"].id
    assert summary["type"] == "entitlements.active_entitlement_summary.updated"

    refused = browser.post(httpx.URL(url).join(f"/p/session/{url.rsplit('/', 1)[1]}/subscriptions/{sub.id}/switch"),
                           data={"price": plans["pro_yearly"].id})
    assert refused.status_code == 400 and "not available" in refused.text
    assert browser.post(httpx.URL(url).join(f"/p/session/{url.rsplit('/', 1)[1]}/subscriptions/sub_other/cancel")
                        ).status_code == 404
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == plans["basic"].id


def test_another_customers_subscription_is_out_of_reach(client: stripe.StripeClient, browser: httpx.Client,
                                                        plans: dict[str, Any]) -> None:
    _configuration(client, plans)
    _, theirs = _subscribed(client, plans["pro"])
    mine = client.v1.customers.create(params={"email": "me@example.com"})
    url = client.v1.billing_portal.sessions.create(params={"customer": mine.id}).url
    answer = browser.post(f"{url}/subscriptions/{theirs.id}/cancel")
    assert answer.status_code == 404
    assert client.v1.subscriptions.retrieve(theirs.id).cancel_at_period_end is False
