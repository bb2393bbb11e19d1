"""Search: Stripe's query language on customers and subscriptions, and the indexing lag."""

from __future__ import annotations

import pytest
import stripe
from conftest import Admin


@pytest.fixture
def people(client: stripe.StripeClient) -> dict[str, str]:
    made = {
        "ada": client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada Lovelace",
                                                  "metadata": {"cognito_sub": "sub-ada", "platform": "web"}}),
        "bob": client.v1.customers.create(params={"email": "bob@example.org", "name": "Bob Byte",
                                                  "metadata": {"cognito_sub": "sub-bob", "platform": "ios"}}),
        "cyd": client.v1.customers.create(params={"email": "cyd@example.com", "name": "Cyd Charisse"}),
    }
    return {name: customer.id for name, customer in made.items()}


def _search(client: stripe.StripeClient, query: str) -> list[str]:
    result = client.v1.customers.search(params={"query": query})
    assert result.object == "search_result" and result.url == "/v1/customers/search"
    return [c.id for c in result.data]


def test_customer_queries(client: stripe.StripeClient, people: dict[str, str]) -> None:
    assert _search(client, "metadata['cognito_sub']:'sub-ada'") == [people["ada"]]
    assert _search(client, 'metadata["cognito_sub"]:"sub-bob"') == [people["bob"]]
    assert _search(client, "email:'ADA@example.com'") == [people["ada"]]
    assert _search(client, "email~'example.com'") == [people["cyd"], people["ada"]]
    assert _search(client, "name~'Byte'") == [people["bob"]]
    assert _search(client, "email~'example.com' AND metadata['platform']:'web'") == [people["ada"]]
    assert _search(client, "email~'example.com' metadata['platform']:'web'") == [people["ada"]]
    assert set(_search(client, "metadata['platform']:'web' OR metadata['platform']:'ios'")) == {
        people["ada"], people["bob"]}
    assert _search(client, "-metadata['platform']:'web' AND email~'example'") == [people["cyd"], people["bob"]]
    assert _search(client, "metadata['platform']:null") == [people["cyd"]]
    assert _search(client, "metadata['cognito_sub']:'nobody'") == []


@pytest.mark.parametrize("query", [
    "email:'a@example.com' AND name:'x' OR name:'y'",   # AND and OR mixed
    "email~'ab'",                                       # substring needs 3 characters
    "nickname:'x'",                                     # unknown field
    "email:",                                           # no value
    "metadata:'x'",                                     # metadata needs a key
])
def test_invalid_queries_are_400(client: stripe.StripeClient, query: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.search(params={"query": query})
    assert caught.value.http_status == 400 and caught.value.param == "query"


def test_subscription_search(client: stripe.StripeClient, monthly_price) -> None:
    paying = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    active = client.v1.subscriptions.create(params={"customer": paying.id, "items": [{"price": monthly_price.id}],
                                                    "metadata": {"cognito_sub": "sub-1"}})
    trial = client.v1.subscriptions.create(params={"customer": paying.id, "items": [{"price": monthly_price.id}],
                                                   "trial_period_days": 7, "metadata": {"cognito_sub": "sub-2"}})
    found = client.v1.subscriptions.search(params={"query": "status:'active'"})
    assert found.object == "search_result" and [s.id for s in found.data] == [active.id]
    by_meta = client.v1.subscriptions.search(params={"query": "metadata['cognito_sub']:'sub-2'"})
    assert [s.id for s in by_meta.data] == [trial.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.search(params={"query": "status~'act'"})


def test_search_pages(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create(params={"email": f"page{i}@example.com"}).id for i in range(5)]
    first = client.v1.customers.search(params={"query": "email~'example'", "limit": 2})
    assert first.has_more and first.next_page
    second = client.v1.customers.search(params={"query": "email~'example'", "limit": 2, "page": first.next_page})
    assert len(second.data) == 2
    everything = [c.id for c in client.v1.customers.search(
        params={"query": "email~'example'", "limit": 2}).auto_paging_iter()]
    assert everything == list(reversed(ids))
    counted = client.v1.customers.search(params={"query": "email~'example'", "expand": ["total_count"]})
    assert counted.total_count == 5


def test_indexing_lag_hides_fresh_writes(client: stripe.StripeClient, admin: Admin) -> None:
    assert admin.post("search", {"lag_seconds": 60}) == {"lag_seconds": 60}
    customer = client.v1.customers.create(params={"email": "fresh@example.com",
                                                  "metadata": {"cognito_sub": "sub-fresh"}})
    query = {"query": "metadata['cognito_sub']:'sub-fresh'"}
    assert client.v1.customers.search(params=query).data == []
    assert client.v1.customers.retrieve(customer.id).id == customer.id  # reads are consistent
    admin.post("clock", {"advance_seconds": 59})
    assert client.v1.customers.search(params=query).data == []
    admin.post("clock", {"advance_seconds": 1})
    assert [c.id for c in client.v1.customers.search(params=query).data] == [customer.id]
    client.v1.customers.update(customer.id, params={"name": "Updated"})  # a write hides it again
    assert client.v1.customers.search(params=query).data == []
