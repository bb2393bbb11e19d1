"""Stripe, as linkflow uses it: the port the steps depend on, its SDK implementation, the client
built from the secret, and Stripe's errors mapped onto linkflow's.

The API key lives in the Secrets Manager secret named by ``STRIPE_SECRET_NAME`` (JSON
``{"api_key"}``); the webhook signing secrets in another, named by ``STRIPE_WEBHOOK_SECRET_NAME``
(JSON ``{"webhook_secret", "webhook_secret_previous"}``), the only one the ingress may read. Both
are read through Powertools with a 5-minute cache. ``STRIPE_API_BASE`` (the emulator) replaces
Stripe's API address. The SDK does not retry (``max_network_retries=0``): the state machine's
Retry owns backoff, so one policy decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote_plus

import stripe as stripe_sdk
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from .. import aws_clients
from ..errors import SecretUnavailable, StripeNotFound, StripeRequestRejected, StripeUnavailable

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams, SubscriptionListParams

SECRET_MAX_AGE_SECONDS = 300
PRODUCT_MAX_AGE_SECONDS = 300
# One request waits at most this long to connect and this long for each read; the SDK never retries
# it, so HTTP_TIMEOUT_SECONDS is one request's worst case (tests/unit/test_time_budgets.py adds
# them up per step against the function's Timeout).
HTTP_CONNECT_TIMEOUT_SECONDS = 2.0
HTTP_READ_TIMEOUT_SECONDS = 8.0
HTTP_TIMEOUT_SECONDS = HTTP_CONNECT_TIMEOUT_SECONDS + HTTP_READ_TIMEOUT_SECONDS
PAGE_SIZE = 100
# Stripe expands at most four levels and counts ``data`` on lists: ``data.items.data.price`` is the
# deepest a subscription list allows, so products are fetched (and cached) separately.
SUBSCRIPTION_EXPAND = ["data.items.data.price"]
LISTABLE = frozenset({"customers", "subscriptions", "products", "prices", "invoices"})  # list_all's resources

JSON = dict[str, Any]


class StripeGateway(Protocol):
    """The Stripe operations linkflow's steps need; objects come back as Stripe's JSON."""

    def create_customer(self, *, email: str, name: str | None, metadata: dict[str, str], idempotency_key: str) -> str:
        """Create a customer; the same ``idempotency_key`` within 24 h answers the same customer."""
        ...

    def customers_with_email(self, email: str) -> list[JSON]:
        """The live customers with ``email`` (a list, not a search: search is eventually consistent)."""
        ...

    def retrieve_customer(self, customer_id: str) -> JSON:
        """The customer (``{"deleted": true, ...}`` once deleted); :class:`StripeNotFound` if Stripe
        never had it under this key."""
        ...

    def delete_customer(self, customer_id: str) -> None: ...

    def list_subscriptions(self, customer_id: str) -> list[JSON]:
        """Every subscription of the customer, any status, each item's price with its product."""
        ...

    def has_invoices(self, customer_id: str) -> bool:
        """Whether the customer has any invoice (any status)."""
        ...

    def active_entitlements(self, customer_id: str) -> list[str]:
        """The lookup keys of the customer's active Stripe Entitlements (its features)."""
        ...

    def price_id(self, lookup_key: str) -> str | None:
        """The active price with ``lookup_key`` (``None``: there is none)."""
        ...

    def create_checkout_session(self, *, customer: str, price_id: str, sub: str, success_url: str,
                                cancel_url: str, idempotency_key: str) -> str:
        """A subscription Checkout Session for ``customer``; answers its URL."""
        ...

    def create_portal_session(self, customer: str, return_url: str) -> str:
        """A customer portal session; answers its URL."""
        ...

    def update_customer(
        self, customer_id: str, *, email: str | None = None, metadata: dict[str, str] | None = None,
        idempotency_key: str,
    ) -> None:
        """Set the customer's email and/or merge metadata keys (Stripe keeps the keys not named)."""
        ...

    def list_all(self, resource: str, params: dict[str, Any]) -> Iterator[JSON]:
        """Every object of a list endpoint (``customers``, ``subscriptions``, ``products``), 100 a
        page, following ``starting_after``: the snapshot's list-based reads."""
        ...


@dataclass(frozen=True)
class StripeSecret:
    api_key: str

    def __repr__(self) -> str:  # never print a key, even by accident
        return "StripeSecret(<redacted>)"


_lock = threading.Lock()
_clients: dict[tuple[str, str | None], stripe_sdk.StripeClient] = {}
_providers: dict[int, parameters.SecretsProvider] = {}
_products: dict[str, tuple[float, JSON]] = {}
_prices: dict[str, tuple[float, str | None]] = {}


def _secrets_provider() -> parameters.SecretsProvider:
    # Built on the one client factory (endpoint and region from the environment at call time),
    # not Powertools' process-wide default provider, whose client is fixed by whoever came first.
    sm = aws_clients.secretsmanager()
    with _lock:
        provider = _providers.get(id(sm))
        if provider is None:
            provider = _providers[id(sm)] = parameters.SecretsProvider(boto3_client=sm)
    return provider


def _read_secret(secret_name: str) -> dict[str, Any]:
    try:
        value = _secrets_provider().get(secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except (GetParameterError, TransformParameterError) as exc:
        raise SecretUnavailable(f"secret {secret_name} could not be read: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise SecretUnavailable(f"secret {secret_name} is not a JSON object")
    return value


def load_stripe_secret(secret_name: str) -> StripeSecret:
    """The API key secret (``{"api_key"}``); only the functions that call Stripe may read it."""
    value = _read_secret(secret_name)
    if not value.get("api_key"):
        raise SecretUnavailable(f"secret {secret_name} has no api_key")
    return StripeSecret(api_key=str(value["api_key"]))


def load_webhook_secrets(secret_name: str) -> list[str]:
    """The current and the previous webhook signing secret (``{"webhook_secret",
    "webhook_secret_previous"}``): both verify while a secret is rolled. The ingress reads only this
    secret, never the API key."""
    value = _read_secret(secret_name)
    return [str(value.get("webhook_secret") or ""), str(value.get("webhook_secret_previous") or "")]


def build_client(api_key: str, *, api_base: str | None = None, livemode: bool = False) -> stripe_sdk.StripeClient:
    """A ``StripeClient`` for ``api_key``; refuses a key of the wrong mode (test key in live and back)."""
    is_live_key = "_live_" in api_key
    if is_live_key != livemode:
        raise StripeRequestRejected(
            f"Stripe is configured with livemode={str(livemode).lower()} but the key is a "
            f"{'live' if is_live_key else 'test'} key"
        )
    key = (api_key, api_base)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = stripe_sdk.StripeClient(
                api_key,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=0,
                http_client=stripe_sdk.RequestsClient(
                    timeout=(HTTP_CONNECT_TIMEOUT_SECONDS, HTTP_READ_TIMEOUT_SECONDS)
                ),
            )
            _clients[key] = client
    return client


def _is_transient(exc: stripe_sdk.StripeError) -> bool:
    if isinstance(exc, stripe_sdk.APIConnectionError):
        return True
    status = exc.http_status or 0
    should_retry = str((exc.headers or {}).get("Stripe-Should-Retry", "")).lower()
    if should_retry == "false":
        return False
    return should_retry == "true" or status in (409, 429) or status >= 500


@contextmanager
def stripe_errors() -> Iterator[None]:
    """429, 409 (idempotency key in flight), 5xx, connection failures → :class:`StripeUnavailable`;
    404 → :class:`StripeNotFound`; authentication, permission, invalid requests →
    :class:`StripeRequestRejected`."""
    try:
        yield
    except stripe_sdk.StripeError as exc:
        detail = f"{type(exc).__name__} (HTTP {exc.http_status}, code {exc.code}): {exc.user_message or exc}"
        if _is_transient(exc):
            raise StripeUnavailable(detail) from exc
        if exc.http_status == 404:
            raise StripeNotFound(detail) from exc
        raise StripeRequestRejected(detail) from exc


def _path(template: str, object_id: str) -> str:
    return template.format(quote_plus(object_id))


class SdkStripe:
    """:class:`StripeGateway` on the official SDK's ``StripeClient``, given as is or as a factory
    called on the first request (so a request refused before it needs Stripe never reads the key)."""

    def __init__(self, client: stripe_sdk.StripeClient | Callable[[], stripe_sdk.StripeClient]) -> None:
        self._given = client
        self._built: stripe_sdk.StripeClient | None = None

    @property
    def _client(self) -> stripe_sdk.StripeClient:
        if self._built is None:
            self._built = self._given if isinstance(self._given, stripe_sdk.StripeClient) else self._given()
        return self._built

    def _get(self, path: str, params: dict[str, Any] | None = None) -> JSON:
        """``GET path`` through the SDK's requestor (its auth, version, timeouts and error mapping),
        answered as the JSON Stripe sent: the reads skip building ``StripeObject`` trees that
        linkflow never uses (for a subscription list with its prices expanded, about a fifth of a
        sync's CPU)."""
        with stripe_errors():
            response = self._client.raw_request("get", path, **(params or {}))
        data = response.data
        if not isinstance(data, dict):
            raise StripeUnavailable(f"Stripe answered no JSON object for GET {path}")
        return data

    def create_customer(self, *, email: str, name: str | None, metadata: dict[str, str], idempotency_key: str) -> str:
        params: CustomerCreateParams = {"email": email, "metadata": metadata}
        if name:
            params["name"] = name
        with stripe_errors():
            customer = self._client.v1.customers.create(params=params, options={"idempotency_key": idempotency_key})
        return str(customer.id)

    def customers_with_email(self, email: str) -> list[JSON]:
        return list(self._get("/v1/customers", {"email": email, "limit": PAGE_SIZE}).get("data") or [])

    def retrieve_customer(self, customer_id: str) -> JSON:
        return self._get(_path("/v1/customers/{}", customer_id))

    def delete_customer(self, customer_id: str) -> None:
        with stripe_errors():
            self._client.v1.customers.delete(customer_id)

    def list_subscriptions(self, customer_id: str) -> list[JSON]:
        rows: list[JSON] = []
        params: SubscriptionListParams = {
            "customer": customer_id,
            "status": "all",
            "limit": PAGE_SIZE,
            "expand": SUBSCRIPTION_EXPAND,
        }
        while True:
            body = self._get("/v1/subscriptions", dict(params))
            rows.extend(body.get("data") or [])
            if not body.get("has_more") or not rows:
                break
            params = {**params, "starting_after": rows[-1]["id"]}
        for subscription in rows:
            for item in (subscription.get("items") or {}).get("data") or []:
                price = item.get("price")
                if isinstance(price, dict) and isinstance(price.get("product"), str):
                    price["product"] = self._product(price["product"])
        return rows

    def has_invoices(self, customer_id: str) -> bool:
        return bool(self._get("/v1/invoices", {"customer": customer_id, "limit": 1}).get("data"))

    def active_entitlements(self, customer_id: str) -> list[str]:
        keys: list[str] = []
        params: dict[str, Any] = {"customer": customer_id, "limit": PAGE_SIZE}
        while True:
            body = self._get("/v1/entitlements/active_entitlements", params)
            rows = list(body.get("data") or [])
            keys += [str(r["lookup_key"]) for r in rows if r.get("lookup_key")]
            if not body.get("has_more") or not rows:
                return sorted(set(keys))
            params = {**params, "starting_after": rows[-1]["id"]}

    def price_id(self, lookup_key: str) -> str | None:
        """From a five-minute per-process cache: the app's few prices rarely change, and a checkout
        for a linked user then costs one Stripe request."""
        now = time.monotonic()
        with _lock:
            cached = _prices.get(lookup_key)
        if cached is not None and now - cached[0] < PRODUCT_MAX_AGE_SECONDS:
            return cached[1]
        page = self._get("/v1/prices", {"lookup_keys": [lookup_key], "active": True, "limit": 1})
        rows = page.get("data") or []
        found = str(rows[0]["id"]) if rows else None
        with _lock:
            _prices[lookup_key] = (now, found)
        return found

    def create_checkout_session(self, *, customer: str, price_id: str, sub: str, success_url: str,
                                cancel_url: str, idempotency_key: str) -> str:
        metadata = {"cognito_sub": sub, "cognito_user_id": sub}
        with stripe_errors():
            session = self._client.v1.checkout.sessions.create(
                params={"mode": "subscription", "customer": customer, "client_reference_id": sub,
                        "line_items": [{"price": price_id, "quantity": 1}],
                        "subscription_data": {"metadata": metadata},
                        "success_url": success_url, "cancel_url": cancel_url},
                options={"idempotency_key": idempotency_key},
            )
        return str(session.url)

    def create_portal_session(self, customer: str, return_url: str) -> str:
        with stripe_errors():
            session = self._client.v1.billing_portal.sessions.create(
                params={"customer": customer, "return_url": return_url})
        return str(session.url)

    def update_customer(
        self, customer_id: str, *, email: str | None = None, metadata: dict[str, str] | None = None,
        idempotency_key: str,
    ) -> None:
        params: dict[str, Any] = {}
        if email is not None:
            params["email"] = email
        if metadata:
            params["metadata"] = metadata
        with stripe_errors():
            self._client.v1.customers.update(
                customer_id,
                params=params,  # type: ignore[arg-type]  # built from the two fields above
                options={"idempotency_key": idempotency_key},
            )

    def list_all(self, resource: str, params: dict[str, Any]) -> Iterator[JSON]:
        if resource not in LISTABLE:
            raise ValueError(f"not a list endpoint linkflow reads: {resource}")
        query: dict[str, Any] = {**params, "limit": PAGE_SIZE}
        while True:
            body = self._get(f"/v1/{resource}", query)
            rows = list(body.get("data") or [])
            yield from rows
            if not body.get("has_more") or not rows:
                return
            query = {**query, "starting_after": rows[-1]["id"]}

    def _product(self, product_id: str) -> JSON:
        """A product from a per-process cache of five minutes: a plan's product rarely changes, and a
        sync per event should not cost a product fetch per event."""
        now = time.monotonic()
        with _lock:
            cached = _products.get(product_id)
        if cached is not None and now - cached[0] < PRODUCT_MAX_AGE_SECONDS:
            return cached[1]
        product = self._get(_path("/v1/products/{}", product_id))
        with _lock:
            _products[product_id] = (now, product)
        return product


def stripe_client(secret_name: str, *, api_base: str | None = None, livemode: bool = False) -> stripe_sdk.StripeClient:
    """The client the Lambdas use: key from the secret, address from ``api_base`` if given."""
    return build_client(load_stripe_secret(secret_name).api_key, api_base=api_base, livemode=livemode)


def clear_product_cache() -> None:
    with _lock:
        _products.clear()
        _prices.clear()
