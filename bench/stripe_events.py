"""Stripe events as Stripe delivers them to the ingress: real subscriptions, signed bodies.

Customers come from users who went through onboarding (profile linked to a Stripe customer). Each
gets a trialing subscription, created through the SDK with webhook delivery off, so set-up
traffic starts nothing; the bench then delivers the events itself, each a
``customer.subscription.created`` whose ``data.object`` is the subscription as the API returned
it, signed as Stripe signs (``Stripe-Signature: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">`` keyed
by the whole ``whsec_`` secret), so the ingress cannot tell them from Stripe's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import stripe

from .context import Run

API_VERSION = "2025-03-31.basil"


@dataclass(frozen=True)
class Subscribed:
    sub: str
    customer: str
    subscription: dict[str, Any]


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(subscription: dict[str, Any], event_type: str = "customer.subscription.created") -> tuple[str, bytes]:
    event_id = f"evt_bench{uuid.uuid4().hex[:20]}"
    event = {"id": event_id, "object": "event", "api_version": API_VERSION, "created": int(time.time()),
             "data": {"object": subscription}, "livemode": False, "pending_webhooks": 1,
             "request": {"id": None, "idempotency_key": None}, "type": event_type}
    return event_id, json.dumps(event, separators=(",", ":")).encode()


def signed(secret: str, subscription: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """``(event id, body, headers)`` of one delivery; the signature is checked with the SDK."""
    event_id, body = event_body(subscription)
    header = sign(body, secret)
    stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=300)
    return event_id, body, {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
                            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                            # One connection per delivery. On a kept-alive connection the local API
                            # server answers ~40 ms late whatever the route (Nagle + delayed ACK):
                            # that would be the floor, not the ingress (README.md#benchmarks).
                            "Connection": "close"}


def subscribed_customers(run: Run, linked: list[tuple[str, str]]) -> list[Subscribed]:
    """A trialing subscription for each ``(sub, customer)`` not subscribed yet (cached in the run)."""
    done: dict[str, Subscribed] = run.state.setdefault("subscribed", {})
    todo = [(s, c) for s, c in linked if c not in done]
    if todo:
        client = run.stack.stripe()
        product = client.v1.products.create(params={"name": "linkflow pro", "metadata": {"plan": "pro"}})
        price = client.v1.prices.create(params={"product": product.id, "unit_amount": 1500, "currency": "usd",
                                                "recurring": {"interval": "month"}})

        def subscribe(pair: tuple[str, str]) -> Subscribed:
            sub, customer = pair
            created = client.v1.subscriptions.create(params={"customer": customer, "items": [{"price": price.id}],
                                                             "trial_period_days": 14})
            return Subscribed(sub, customer, json.loads(created.last_response.body))

        run.stack.webhook_endpoint(enabled=False)
        try:
            with ThreadPoolExecutor(8) as pool:
                for item in pool.map(subscribe, todo):
                    done[item.customer] = item
        finally:
            run.stack.webhook_endpoint(enabled=True)
    return [done[c] for _, c in linked]
