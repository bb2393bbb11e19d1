"""Stripe: the client built from the secret, the calls linkflow makes, and their errors.

The API key lives in the Secrets Manager secret named by ``STRIPE_SECRET_NAME`` (JSON
``{"api_key", "webhook_secret", "webhook_secret_previous"}``), read through Powertools with a
5-minute cache. ``STRIPE_API_BASE`` (the emulator) replaces Stripe's API address. The SDK does not
retry (``max_network_retries=0``): the state machine's Retry owns backoff, so one policy decides.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from . import aws_clients
from .errors import SecretUnavailable, StripeRequestRejected, StripeUnavailable

SECRET_MAX_AGE_SECONDS = 300
HTTP_TIMEOUT_SECONDS = 10

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], stripe.StripeClient] = {}


@dataclass(frozen=True)
class StripeSecret:
    api_key: str
    webhook_secret: str = ""
    webhook_secret_previous: str = ""

    def __repr__(self) -> str:  # never print a key, even by accident
        return "StripeSecret(<redacted>)"


_providers: dict[int, parameters.SecretsProvider] = {}


def _secrets_provider() -> parameters.SecretsProvider:
    # Built on the one client factory (endpoint and region from the environment at call time),
    # not Powertools' process-wide default provider, whose client is fixed by whoever came first.
    sm = aws_clients.client("secretsmanager")
    with _lock:
        provider = _providers.get(id(sm))
        if provider is None:
            provider = _providers[id(sm)] = parameters.SecretsProvider(boto3_client=sm)
    return provider


def load_stripe_secret(secret_name: str) -> StripeSecret:
    try:
        value = _secrets_provider().get(secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except (GetParameterError, TransformParameterError) as exc:
        raise SecretUnavailable(f"secret {secret_name} could not be read: {type(exc).__name__}") from None
    if not isinstance(value, dict) or not value.get("api_key"):
        raise SecretUnavailable(f"secret {secret_name} has no api_key")
    return StripeSecret(
        api_key=str(value["api_key"]),
        webhook_secret=str(value.get("webhook_secret") or ""),
        webhook_secret_previous=str(value.get("webhook_secret_previous") or ""),
    )


def build_client(api_key: str, *, api_base: str | None = None, livemode: bool = False) -> stripe.StripeClient:
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
            client = stripe.StripeClient(
                api_key,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=0,
                http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
            )
            _clients[key] = client
    return client


def stripe_client(secret_name: str, *, api_base: str | None = None, livemode: bool = False) -> stripe.StripeClient:
    """The client the Lambdas use: key from the secret, address from ``api_base`` if given."""
    return build_client(load_stripe_secret(secret_name).api_key, api_base=api_base, livemode=livemode)


def _is_transient(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError):
        return True
    status = exc.http_status or 0
    should_retry = str((exc.headers or {}).get("Stripe-Should-Retry", "")).lower()
    if should_retry == "false":
        return False
    return should_retry == "true" or status in (409, 429) or status >= 500


@contextmanager
def stripe_errors() -> Iterator[None]:
    """429, 409 (idempotency key in flight), 5xx, connection failures → :class:`StripeUnavailable`;
    authentication, permission, invalid requests → :class:`StripeRequestRejected`."""
    try:
        yield
    except stripe.StripeError as exc:
        detail = f"{type(exc).__name__} (HTTP {exc.http_status}, code {exc.code}): {exc.user_message or exc}"
        if _is_transient(exc):
            raise StripeUnavailable(detail) from exc
        raise StripeRequestRejected(detail) from exc


def create_customer(
    client: stripe.StripeClient, *, email: str, name: str | None, metadata: dict[str, str], idempotency_key: str
) -> str:
    """Create a customer; the same ``idempotency_key`` within 24 h answers the same customer."""
    params: dict[str, Any] = {"email": email, "metadata": metadata}
    if name:
        params["name"] = name
    with stripe_errors():
        customer = client.v1.customers.create(params=params, options={"idempotency_key": idempotency_key})  # type: ignore[arg-type]
    return str(customer.id)


def customers_of_sub(client: stripe.StripeClient, *, email: str, sub: str) -> list[str]:
    """Ids of the live customers with ``email`` whose metadata names ``sub`` (list, not search:
    search is eventually consistent)."""
    with stripe_errors():
        page = client.v1.customers.list(params={"email": email, "limit": 100})
    return [c.id for c in page.data if (c.metadata or {}).get("cognito_sub") == sub]


def delete_customer_of_sub(client: stripe.StripeClient, customer_id: str, sub: str) -> bool:
    """Delete ``customer_id`` if it belongs to ``sub``; False if it is gone or someone else's."""
    try:
        with stripe_errors():
            customer = client.v1.customers.retrieve(customer_id)
    except StripeRequestRejected as exc:
        if isinstance(exc.__cause__, stripe.InvalidRequestError) and exc.__cause__.http_status == 404:
            return False
        raise
    if getattr(customer, "deleted", False) or (customer.metadata or {}).get("cognito_sub") != sub:
        return False
    with stripe_errors():
        client.v1.customers.delete(customer_id)
    return True
