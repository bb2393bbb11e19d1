"""``expand[]`` depth: Stripe allows four levels and counts every segment, ``data`` on lists too."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def _subscribed(client: stripe.StripeClient, price: Any) -> Any:
    customer = client.v1.customers.create(params={"email": "deep@example.com", "payment_method": "pm_card_visa"})
    return client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})


def _assert_too_deep(caught: pytest.ExceptionInfo[stripe.InvalidRequestError], path: str) -> None:
    assert caught.value.http_status == 400
    assert caught.value.code == "property_expansion_max_depth"
    assert caught.value.param == "expand"
    assert caught.value.error is not None and caught.value.error.type == "invalid_request_error"
    assert caught.value.user_message == f"You cannot expand more than 4 levels of a property. Property: {path}"


def test_four_levels_on_a_list_counting_data(client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribed(client, monthly_price)
    listed = client.v1.subscriptions.list(params={"expand": ["data.items.data.price"]})
    assert [s.id for s in listed.data] == [sub.id]
    price = listed.data[0]["items"].data[0].price
    assert price.id == monthly_price.id and isinstance(price.product, str)


def test_five_levels_on_a_list_are_refused(client: stripe.StripeClient, monthly_price: Any) -> None:
    _subscribed(client, monthly_price)
    path = "data.items.data.price.product"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.list(params={"expand": [path]})
    _assert_too_deep(caught, path)


def test_four_levels_on_a_retrieve(client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribed(client, monthly_price)
    fetched = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["items.data.price.product"]})
    assert fetched["items"].data[0].price.product.name == "Pro"


def test_five_levels_on_a_retrieve_are_refused(client: stripe.StripeClient, monthly_price: Any) -> None:
    sub = _subscribed(client, monthly_price)
    path = "items.data.price.product.default_price"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.retrieve(sub.id, params={"expand": ["customer", path]})
    _assert_too_deep(caught, path)


def test_a_create_with_a_too_deep_expansion_creates_nothing(client: stripe.StripeClient, monthly_price: Any) -> None:
    customer = client.v1.customers.create(params={"email": "deep@example.com", "payment_method": "pm_card_visa"})
    path = "items.data.price.product.default_price"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                               "expand": [path]})
    _assert_too_deep(caught, path)
    assert client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data == []


def test_search_results_count_data_too(client: stripe.StripeClient, monthly_price: Any) -> None:
    _subscribed(client, monthly_price)
    path = "data.items.data.price.product"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.search(params={"query": "status:'active'", "expand": [path]})
    _assert_too_deep(caught, path)
