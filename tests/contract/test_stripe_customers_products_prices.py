"""Customers, products and prices."""

from __future__ import annotations

import pytest
import stripe


def test_customer_crud_and_deleted_stub(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={
        "email": "ada@example.com", "name": "Ada Lovelace",
        "metadata": {"cognito_sub": "sub-ada", "cognito_user_id": "sub-ada", "platform": "web"},
    })
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert customer.livemode is False and isinstance(customer.created, int)
    assert client.v1.customers.retrieve(customer.id).email == "ada@example.com"
    updated = client.v1.customers.update(customer.id, params={"name": "Ada King", "metadata": {"platform": ""}})
    assert updated.name == "Ada King"
    assert updated.metadata.to_dict() == {"cognito_sub": "sub-ada", "cognito_user_id": "sub-ada"}
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}
    again = client.v1.customers.retrieve(customer.id)
    assert again.get("deleted") is True and again.id == customer.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.update(customer.id, params={"name": "ghost"})
    assert caught.value.http_status == 404
    assert client.v1.customers.list().data == []


def test_customer_list_email_filter_is_exact(client: stripe.StripeClient) -> None:
    wanted = client.v1.customers.create(params={"email": "dup@example.com"})
    twin = client.v1.customers.create(params={"email": "dup@example.com"})
    client.v1.customers.create(params={"email": "other@example.com"})
    client.v1.customers.create(params={"email": "DUP@example.com"})
    found = client.v1.customers.list(params={"email": "dup@example.com"})
    assert [c.id for c in found.data] == [twin.id, wanted.id]


def test_deleting_a_customer_cancels_its_subscriptions(client: stripe.StripeClient, monthly_price) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    client.v1.customers.delete(customer.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    types = [e.type for e in client.v1.events.list().data]
    assert types[:2] == ["customer.deleted", "customer.subscription.deleted"]
    deleted_event = client.v1.events.list(params={"type": "customer.deleted"}).data[0]
    assert deleted_event.data.object.id == customer.id
    assert deleted_event.data.object.get("deleted") is None  # the full customer, not the stub


def test_products_crud(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Team", "metadata": {"plan": "team"}})
    assert product.id.startswith("prod_") and product.active is True
    assert client.v1.products.update(product.id, params={"active": False}).active is False
    assert [p.id for p in client.v1.products.list(params={"active": False}).data] == [product.id]
    assert client.v1.products.list(params={"active": True}).data == []
    assert client.v1.products.retrieve(product.id).metadata.plan == "team"
    assert client.v1.products.delete(product.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.retrieve(product.id)


def test_prices_lookup_keys_and_filters(client: stripe.StripeClient) -> None:
    pro = client.v1.products.create(params={"name": "Pro"})
    team = client.v1.products.create(params={"name": "Team"})
    monthly = client.v1.prices.create(params={"product": pro.id, "unit_amount": 1500, "currency": "usd",
                                              "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    yearly = client.v1.prices.create(params={"product": pro.id, "unit_amount": 15000, "currency": "usd",
                                             "recurring": {"interval": "year"}, "lookup_key": "pro_yearly"})
    team_monthly = client.v1.prices.create(params={
        "product_data": {"name": "ignored"}, "unit_amount": 4000, "currency": "usd",
        "recurring": {"interval": "month", "interval_count": 1}, "lookup_key": "team_monthly"})
    assert monthly.recurring.interval == "month" and monthly.unit_amount == 1500 and monthly.type == "recurring"
    assert team_monthly.product != team.id and team_monthly.product.startswith("prod_")
    by_key = client.v1.prices.list(params={"lookup_keys": ["pro_monthly", "team_monthly"]})
    assert {p.id for p in by_key.data} == {monthly.id, team_monthly.id}
    assert {p.id for p in client.v1.prices.list(params={"product": pro.id}).data} == {monthly.id, yearly.id}
    client.v1.prices.update(yearly.id, params={"active": False})
    assert yearly.id not in {p.id for p in client.v1.prices.list(params={"active": True}).data}
    expanded = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"], "expand": ["data.product"]})
    assert expanded.data[0].product.name == "Pro"


def test_lookup_keys_are_unique_unless_transferred(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Pro"})
    old = client.v1.prices.create(params={"product": product.id, "unit_amount": 1000, "currency": "usd",
                                          "recurring": {"interval": "month"}, "lookup_key": "pro"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(params={"product": product.id, "unit_amount": 1200, "currency": "usd",
                                        "recurring": {"interval": "month"}, "lookup_key": "pro"})
    assert caught.value.param == "lookup_key"
    new = client.v1.prices.create(params={"product": product.id, "unit_amount": 1200, "currency": "usd",
                                          "recurring": {"interval": "month"}, "lookup_key": "pro",
                                          "transfer_lookup_key": True})
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": ["pro"]}).data] == [new.id]
    assert client.v1.prices.retrieve(old.id).lookup_key is None


def test_test_payment_methods_attach_list_detach_and_expand(client: stripe.StripeClient, monthly_price) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    mastercard = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [pm.card.brand for pm in listed.data] == ["mastercard", "visa"]
    visa = listed.data[1]
    assert listed.data[0].id == mastercard.id
    assert client.v1.payment_methods.retrieve(visa.id).customer == customer.id
    sub = client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": monthly_price.id}], "default_payment_method": visa.id,
        "expand": ["default_payment_method"]})
    assert sub.default_payment_method.card.last4 == "4242"
    with_subs = client.v1.customers.retrieve(customer.id, params={"expand": ["subscriptions"]})
    assert [s.id for s in with_subs.subscriptions.data] == [sub.id]
    assert client.v1.payment_methods.detach(mastercard.id).customer is None
    assert [pm.id for pm in client.v1.payment_methods.list(params={"customer": customer.id}).data] == [visa.id]
