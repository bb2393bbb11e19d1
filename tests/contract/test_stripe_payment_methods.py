"""PaymentMethods per customer: a new ``pm_`` per attach of a test token, detach affects only its
customer, unknown ids are refused, a default payment method must be the customer's own."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def _customer(client: stripe.StripeClient, **params: Any) -> Any:
    return client.v1.customers.create(params={"email": "pm@example.com", **params})


def _ids(client: stripe.StripeClient, customer_id: str) -> list[str]:
    return [pm.id for pm in client.v1.customers.payment_methods.list(customer_id).data]


def test_each_attach_of_a_test_token_is_a_new_payment_method(client: stripe.StripeClient) -> None:
    alice, bob = _customer(client), _customer(client)
    first = client.v1.payment_methods.attach("pm_card_visa", params={"customer": alice.id})
    second = client.v1.payment_methods.attach("pm_card_visa", params={"customer": alice.id})
    bobs = client.v1.payment_methods.attach("pm_card_visa", params={"customer": bob.id})
    assert len({first.id, second.id, bobs.id}) == 3
    assert all(pm.id.startswith("pm_") and pm.id != "pm_card_visa" for pm in (first, second, bobs))
    assert (first.customer, bobs.customer) == (alice.id, bob.id)
    assert first.card.last4 == "4242"
    assert _ids(client, alice.id) == [second.id, first.id]
    assert _ids(client, bob.id) == [bobs.id]
    assert client.v1.payment_methods.retrieve("pm_card_visa").customer is None


def test_detach_affects_only_its_customer(client: stripe.StripeClient) -> None:
    alice, bob = _customer(client, payment_method="pm_card_visa"), _customer(client, payment_method="pm_card_visa")
    (alices,), (bobs,) = _ids(client, alice.id), _ids(client, bob.id)
    detached = client.v1.payment_methods.detach(alices)
    assert detached.id == alices and detached.customer is None
    assert _ids(client, alice.id) == [] and _ids(client, bob.id) == [bobs]
    assert client.v1.payment_methods.retrieve(bobs).customer == bob.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.detach(alices)
    assert caught.value.http_status == 400


def test_an_attached_payment_method_cannot_move_to_another_customer(client: stripe.StripeClient) -> None:
    alice, bob = _customer(client), _customer(client)
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": alice.id})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_methods.attach(pm.id, params={"customer": bob.id})
    assert caught.value.http_status == 400
    assert _ids(client, bob.id) == []


@pytest.mark.parametrize("call", ["retrieve", "attach", "detach"])
def test_an_unknown_id_is_a_404(client: stripe.StripeClient, call: str) -> None:
    customer = _customer(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        if call == "retrieve":
            client.v1.payment_methods.retrieve("pm_doesNotExist")
        elif call == "attach":
            client.v1.payment_methods.attach("pm_doesNotExist", params={"customer": customer.id})
        else:
            client.v1.payment_methods.detach("pm_doesNotExist")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert _ids(client, customer.id) == []


def test_create_with_a_token_as_payment_method_and_default_names_one_payment_method(
        client: stripe.StripeClient) -> None:
    customer = _customer(client, payment_method="pm_card_visa",
                         invoice_settings={"default_payment_method": "pm_card_visa"})
    (attached,) = _ids(client, customer.id)
    assert customer.invoice_settings.default_payment_method == attached != "pm_card_visa"


def test_a_default_payment_method_must_be_the_customers_own(client: stripe.StripeClient, monthly_price: Any) -> None:
    alice, bob = _customer(client, payment_method="pm_card_visa"), _customer(client, payment_method="pm_card_visa")
    (alices,), (bobs,) = _ids(client, alice.id), _ids(client, bob.id)
    param = "invoice_settings[default_payment_method]"
    for foreign, code in ((bobs, None), ("pm_doesNotExist", "resource_missing")):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.customers.update(alice.id, params={"invoice_settings": {"default_payment_method": foreign}})
        assert (caught.value.http_status, caught.value.param, caught.value.code) == (400, param, code)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.subscriptions.create(params={"customer": alice.id, "items": [{"price": monthly_price.id}],
                                                   "default_payment_method": foreign})
        assert (caught.value.http_status, caught.value.param) == (400, "default_payment_method")
    assert client.v1.subscriptions.list(params={"customer": alice.id, "status": "all"}).data == []

    updated = client.v1.customers.update(alice.id, params={"invoice_settings": {"default_payment_method": alices}})
    assert updated.invoice_settings.default_payment_method == alices
    sub = client.v1.subscriptions.create(params={"customer": alice.id, "items": [{"price": monthly_price.id}],
                                                 "default_payment_method": alices})
    assert (sub.status, sub.default_payment_method) == ("active", alices)
    client.v1.payment_methods.detach(alices)
    assert client.v1.customers.retrieve(alice.id).invoice_settings.default_payment_method is None


def test_a_declining_test_card_is_refused_at_attach(client: stripe.StripeClient, monthly_price: Any) -> None:
    """Stripe checks a card when it is attached; chargeCustomerFail is the card that attaches, then fails."""
    customer = _customer(client)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": customer.id})
    assert (caught.value.http_status, caught.value.code, caught.value.error.decline_code) == (
        402, "card_declined", "generic_decline")
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})
    assert pm.card.last4 == "0341"
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                                 "default_payment_method": pm.id})
    assert sub.status == "incomplete"


def test_a_test_token_is_not_a_default_until_attached(client: stripe.StripeClient, monthly_price: Any) -> None:
    """Stripe refuses ``pm_card_visa`` where a payment method of the customer is expected."""
    customer = _customer(client)
    refusals = [
        ("invoice_settings[default_payment_method]", lambda: client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": "pm_card_visa"}})),
        ("invoice_settings[default_payment_method]", lambda: client.v1.customers.create(
            params={"invoice_settings": {"default_payment_method": "pm_card_visa"}})),
        ("default_payment_method", lambda: client.v1.subscriptions.create(params={
            "customer": customer.id, "items": [{"price": monthly_price.id}],
            "default_payment_method": "pm_card_visa"})),
    ]
    for param, call in refusals:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            call()
        assert (caught.value.http_status, caught.value.param) == (400, param)
        assert "does not have a payment method with the ID pm_card_visa" in str(caught.value.user_message)
    assert _ids(client, customer.id) == []
    assert client.v1.subscriptions.list(params={"status": "all"}).data == []

    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id}).id
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                                 "default_payment_method": pm})
    assert (sub.status, sub.default_payment_method) == ("active", pm)
