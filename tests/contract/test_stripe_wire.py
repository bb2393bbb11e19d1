"""Wire format: auth, form encoding, errors, expand[], pagination, request ids."""

from __future__ import annotations

import base64

import httpx
import pytest
import stripe
from conftest import API_KEY, make_client

from linkflow.stripe_emulator import EmulatorServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_missing_or_live_key_is_refused_with_a_stripe_error(emulator: EmulatorServer) -> None:
    live = stripe.StripeClient("sk_live_not_here", base_addresses={"api": emulator.url})
    with pytest.raises(stripe.AuthenticationError) as caught:
        live.v1.customers.list()
    assert caught.value.http_status == 401
    assert "Invalid API Key" in str(caught.value.user_message)


def test_no_key_and_basic_auth(raw: httpx.Client) -> None:
    refused = raw.get("/v1/customers")
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in refused.json()["error"]["message"]
    basic = base64.b64encode(f"{API_KEY}:".encode()).decode()
    accepted = raw.get("/v1/customers", headers={"Authorization": f"Basic {basic}"})
    assert accepted.status_code == 200
    assert accepted.json()["object"] == "list"


def test_request_id_header_on_every_answer(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "rid@example.com"})
    assert customer.last_response.request_id.startswith("req_")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_missing")
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


def test_bracket_notation_round_trips_nested_parameters(client: stripe.StripeClient, monthly_price) -> None:
    customer = client.v1.customers.create(params={
        "email": "nested@example.com",
        "metadata": {"cognito_sub": "sub-1", "cognito_user_id": "sub-1"},
        "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
        "preferred_locales": ["en", "fr"],
    })
    assert customer.metadata.to_dict() == {"cognito_sub": "sub-1", "cognito_user_id": "sub-1"}
    assert customer.address.city == "Springfield" and customer.address.line2 is None
    assert customer.preferred_locales == ["en", "fr"]
    sub = client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": monthly_price.id, "quantity": 2}],
        "trial_period_days": 7, "metadata": {"source": "test"},
    })
    assert sub["items"].data[0].quantity == 2
    assert sub.metadata.source == "test"


def test_raw_form_with_empty_brackets_and_query_string(raw: httpx.Client) -> None:
    created = raw.post("/v1/customers", headers=AUTH,
                       content="email=q%40example.com&metadata[k]=v&expand[]=test_clock",
                       ).json()
    assert created["metadata"] == {"k": "v"}
    listed = raw.get("/v1/customers?email=q%40example.com&limit=1&expand[]=data.test_clock", headers=AUTH).json()
    assert [c["id"] for c in listed["data"]] == [created["id"]]


def test_unknown_parameter_is_a_400_naming_it(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(params={"emial": "typo@example.com"})  # type: ignore[typeddict-unknown-key]
    assert caught.value.http_status == 400
    assert caught.value.param == "emial"


def test_missing_required_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.products.create(params={})  # type: ignore[typeddict-item]
    assert caught.value.http_status == 400
    assert caught.value.code == "parameter_missing" and caught.value.param == "name"


def test_unknown_object_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.retrieve("sub_nope")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "No such subscription: 'sub_nope'" in str(caught.value.user_message)


def test_unknown_route_is_404(client: stripe.StripeClient, raw: httpx.Client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.raw_request("get", "/v1/not_a_resource")
    assert caught.value.http_status == 404
    assert "Unrecognized request URL" in str(caught.value.user_message)
    outside = raw.get("/nothing/here")
    assert outside.status_code == 404 and outside.json()["error"]["type"] == "invalid_request_error"


def test_card_error_is_402(client: stripe.StripeClient, monthly_price) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_chargeCustomerFail"})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}],
                                               "payment_behavior": "error_if_incomplete"})
    assert caught.value.http_status == 402
    assert caught.value.code == "card_declined"
    assert client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data == []


def test_expand_customer_latest_invoice_and_nested_product(client: stripe.StripeClient, monthly_price) -> None:
    customer = client.v1.customers.create(params={"email": "x@example.com", "payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={
        "customer": customer.id, "items": [{"price": monthly_price.id}],
        "expand": ["customer", "latest_invoice", "items.data.price.product"],
    })
    assert sub.customer.email == "x@example.com"
    assert sub.latest_invoice.object == "invoice" and sub.latest_invoice.status == "paid"
    assert sub["items"].data[0].price.product.name == "Pro"
    fetched = client.v1.subscriptions.retrieve(sub.id)
    assert isinstance(fetched.customer, str) and isinstance(fetched.latest_invoice, str)
    listed = client.v1.subscriptions.list(params={"expand": ["data.customer", "data.latest_invoice"]})
    assert listed.data[0].customer.id == customer.id
    assert listed.data[0].latest_invoice.id == sub.latest_invoice.id


def test_expanding_a_plain_field_is_an_error(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "e@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve(customer.id, params={"expand": ["email"]})
    assert caught.value.param == "expand"


def test_pagination_newest_first_with_cursors(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create(params={"email": f"p{i}@example.com"}).id for i in range(5)]
    newest_first = list(reversed(ids))
    first = client.v1.customers.list(params={"limit": 2})
    assert first.object == "list" and first.url == "/v1/customers"
    assert [c.id for c in first.data] == newest_first[:2] and first.has_more
    second = client.v1.customers.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == newest_first[2:4] and second.has_more
    last = client.v1.customers.list(params={"limit": 2, "starting_after": second.data[-1].id})
    assert [c.id for c in last.data] == newest_first[4:] and not last.has_more
    before = client.v1.customers.list(params={"limit": 2, "ending_before": newest_first[3]})
    assert [c.id for c in before.data] == newest_first[1:3] and before.has_more
    assert [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()] == newest_first


def test_limit_out_of_range(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.list(params={"limit": 101})
    assert caught.value.param == "limit"


def test_delete_sends_parameters_in_the_query_string(emulator: EmulatorServer, monthly_price) -> None:
    client = make_client(emulator.url)
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly_price.id}]})
    canceled = client.v1.subscriptions.cancel(sub.id, params={"cancellation_details": {"comment": "bye"}})
    assert canceled.status == "canceled"
    assert canceled.cancellation_details.comment == "bye"
