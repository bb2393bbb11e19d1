"""The hosted Checkout page at a session's ``url``: a card form whose single field is ``card_number``.

Sessions are made with the SDK as the app makes them; the page is driven with plain HTTP (httpx) as a
browser would: GET the ``url``, POST the form to it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe
from conftest import Admin, Receiver

VISA = "4242 4242 4242 4242"
DECLINED = "4000000000000002"


@pytest.fixture
def browser(emulator: Any) -> Any:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http


def _app_session(client: stripe.StripeClient, price: Any, customer: str, **params: Any) -> Any:
    """The session linkflow's checkout route creates."""
    return client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer, "client_reference_id": "sub-123",
        "line_items": [{"price": price.id, "quantity": 1}],
        "subscription_data": {"metadata": {"cognito_sub": "sub-123"}},
        "success_url": "https://app.example.com/app/?checkout=done&session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/app/?checkout=canceled", **params})


def test_the_page_shows_the_price_and_a_labelled_card_form(client: stripe.StripeClient, browser: httpx.Client,
                                                           emulator: Any, monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    session = _app_session(client, monthly_price, customer.id)
    assert session.url == f"{emulator.url}/c/pay/{session.id}"
    page = browser.get(session.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Subscribe to Pro" in html and "$15.00 per month" in html and "Total due today: $15.00" in html
    assert "buyer@example.com" in html
    assert '<label for="card_number">Card number</label>' in html
    assert re.search(r'<input id="card_number" name="card_number"', html)
    assert '<button type="submit">Pay</button>' in html
    assert f'action="/c/pay/{session.id}"' in html and 'method="post"' in html
    assert 'href="https://app.example.com/app/?checkout=canceled"' in html  # cancel_url


def test_paying_with_4242_subscribes_and_redirects_to_success_url(client: stripe.StripeClient, admin: Admin,
                                                                  browser: httpx.Client, receiver: Receiver,
                                                                  endpoint_secret: str, monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    session = _app_session(client, monthly_price, customer.id)
    answer = browser.post(session.url, data={"card_number": VISA})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"https://app.example.com/app/?checkout=done&session={session.id}"

    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert (done.status, done.payment_status, done.customer, done.url) == ("complete", "paid", customer.id, None)
    sub = done.subscription
    assert sub.status == "active" and sub.customer == customer.id
    assert sub["items"].data[0].price.id == monthly_price.id
    assert sub.metadata.to_dict() == {"cognito_sub": "sub-123"}
    card = client.v1.payment_methods.retrieve(sub.default_payment_method)
    assert card.customer == customer.id and card.card.last4 == "4242"
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.status, invoice.amount_paid) == ("paid", 1500)

    admin.wait_webhooks()
    events = receiver.events()
    events = events[[e["type"] for e in events].index("customer.subscription.created"):]
    assert [e["type"] for e in events] == [
        "customer.subscription.created", "invoice.created", "payment_intent.created", "invoice.finalized",
        "charge.succeeded", "payment_intent.succeeded", "customer.subscription.updated",
        "invoice.paid", "invoice.payment_succeeded", "checkout.session.completed"]
    created, updated, completed = events[0], events[6], events[9]
    assert created["data"]["object"]["status"] == "incomplete"
    assert updated["data"]["object"]["status"] == "active"
    assert updated["data"]["previous_attributes"]["status"] == "incomplete"
    assert completed["data"]["object"]["client_reference_id"] == "sub-123"
    assert completed["data"]["object"]["subscription"] == sub.id


def test_a_declined_card_shows_the_decline_and_creates_nothing(client: stripe.StripeClient, browser: httpx.Client,
                                                               monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "buyer@example.com"})
    session = _app_session(client, monthly_price, customer.id)
    answer = browser.post(session.url, data={"card_number": DECLINED})
    assert answer.status_code == 402
    assert 'role="alert"' in answer.text and "Your card was declined." in answer.text
    assert 'name="card_number"' in answer.text  # the form again, to try another card
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data == []
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    assert client.v1.invoices.list(params={"customer": customer.id}).data == []

    insufficient = browser.post(session.url, data={"card_number": "4000 0000 0000 9995"})
    assert insufficient.status_code == 402 and "Your card has insufficient funds." in insufficient.text
    assert browser.post(session.url, data={"card_number": VISA}).status_code == 303  # then a good card


@pytest.mark.parametrize("number, message", [
    ("", "Your card number is incomplete."),
    ("4242 4242 4242 4241", "Your card number is invalid."),
    ("4111 1111 1111 1111", "used a non test card"),
])
def test_other_numbers_are_refused_as_stripe_refuses_them(client: stripe.StripeClient, browser: httpx.Client,
                                                         monthly_price: Any, number: str, message: str) -> None:
    session = _app_session(client, monthly_price, client.v1.customers.create().id)
    answer = browser.post(session.url, data={"card_number": number})
    assert answer.status_code == 400 and message in answer.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_the_form_has_one_field(client: stripe.StripeClient, browser: httpx.Client, monthly_price: Any) -> None:
    session = _app_session(client, monthly_price, client.v1.customers.create().id)
    answer = browser.post(session.url, data={"card_number": VISA, "cvc": "123"})
    assert answer.status_code == 400 and "Unknown form field: cvc" in answer.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_a_completed_or_expired_session_page_says_so(client: stripe.StripeClient, browser: httpx.Client,
                                                      monthly_price: Any) -> None:
    customer = client.v1.customers.create()
    paid = _app_session(client, monthly_price, customer.id)
    url = paid.url
    assert browser.post(url, data={"card_number": VISA}).status_code == 303
    page = browser.get(url)
    assert page.status_code == 200 and "This checkout session is complete" in page.text
    assert 'name="card_number"' not in page.text
    again = browser.post(url, data={"card_number": VISA})
    assert again.status_code == 409
    assert len(client.v1.subscriptions.list(params={"customer": customer.id}).data) == 1

    expired = _app_session(client, monthly_price, customer.id)
    client.v1.checkout.sessions.expire(expired.id)
    page = browser.get(expired.url)
    assert page.status_code == 200 and "This checkout session has expired." in page.text
    assert browser.post(expired.url, data={"card_number": VISA}).status_code == 409
    assert browser.get(f"{url[:url.rindex('/')]}/cs_test_missing").status_code == 404


def test_a_trial_session_takes_nothing_today(client: stripe.StripeClient, browser: httpx.Client,
                                             monthly_price: Any) -> None:
    customer = client.v1.customers.create()
    session = _app_session(client, monthly_price, customer.id, subscription_data={"trial_period_days": 14})
    assert "14 days free, then $15.00 per month. Total due today: $0.00" in browser.get(session.url).text
    assert browser.post(session.url, data={"card_number": VISA}).status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert done.payment_status == "no_payment_required" and done.subscription.status == "trialing"
