"""Everything one emulator instance knows, behind one lock."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .faults import FaultInjector
from .idempotency import IdempotencyCache
from .search import SearchIndex
from .store import Store
from .webhooks import WebhookDispatcher

# Stripe's default retry policy is Smart Retries, "8 tries within 2 weeks" as the recommended default
# (https://docs.stripe.com/payments/off-session-payments/smart-retries; the Billing page,
# https://docs.stripe.com/billing/revenue-recovery/smart-retries, lets an account choose the number of
# tries and a window of 1 week to 2 months). Smart Retries picks each moment with a model Stripe does not
# publish; the emulator makes it deterministic: the 7 retries after the first attempt come 1, 1, 2, 2, 2,
# 3 and 3 days after the attempt before (the 8th try on day 14), tighter first as Stripe's retries are.
SMART_RETRIES_DAYS = (1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0)


@dataclass
class BillingSettings:
    """How failed invoice payments play out (Stripe's Billing > Revenue recovery settings).

    ``retry_days``: days after each failed attempt until the next one (a custom schedule, as
    Stripe's "custom retry schedule" lets an account set); the default is Smart Retries' recommended
    policy, made deterministic (``SMART_RETRIES_DAYS``). ``final_action`` after the last: cancel the
    subscription (Stripe's default), mark it unpaid, or leave it past_due.
    """

    retry_days: list[float] = field(default_factory=lambda: list(SMART_RETRIES_DAYS))
    final_action: str = "cancel"  # or "unpaid" or "past_due" (leave it)
    incomplete_expiry_hours: float = 23.0
    # invoice.upcoming this long before a renewal (None: not sent). Stripe: "Sent a few days prior to the
    # renewal of the subscription. The number of days is based on the number set for Upcoming renewal
    # events in the Dashboard" (https://docs.stripe.com/billing/subscriptions/webhooks). Stripe's docs name
    # the setting but not its default; 3 days is the emulator's choice, the notice trial_will_end has.
    upcoming_days: float | None = 3.0

    def update(self, changes: dict[str, Any]) -> None:
        if "retry_days" in changes:
            days = changes["retry_days"]
            if not isinstance(days, list) or not all(isinstance(d, int | float) and d > 0 for d in days):
                raise ValueError("retry_days must be a list of positive numbers")
            self.retry_days = [float(d) for d in days]
        if "final_action" in changes:
            if changes["final_action"] not in ("cancel", "unpaid", "past_due"):
                raise ValueError("final_action must be cancel, unpaid or past_due")
            self.final_action = changes["final_action"]
        if "incomplete_expiry_hours" in changes:
            self.incomplete_expiry_hours = float(changes["incomplete_expiry_hours"])
        if "upcoming_days" in changes:
            days = changes["upcoming_days"]
            if days is not None and (not isinstance(days, int | float) or days <= 0):
                raise ValueError("upcoming_days must be a positive number or null")
            self.upcoming_days = None if days is None else float(days)
        unknown = set(changes) - {"retry_days", "final_action", "incomplete_expiry_hours", "upcoming_days"}
        if unknown:
            raise ValueError(f"unknown billing setting(s): {', '.join(sorted(unknown))}")


class EmulatorState:
    """Stores, logs and settings of one emulator; safe to share between threads.

    ``lock`` guards the object store; the idempotency cache, fault list, request log and webhook
    queue have locks of their own so that the request pipeline never waits on the store for them.
    """

    def __init__(self, clock: Clock | None = None, *, seed: int | None = None, request_log_size: int = 100_000):
        self.clock = clock or Clock()
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.store = Store()
        self.idempotency = IdempotencyCache()
        self.faults = FaultInjector(self.rng)
        self.search = SearchIndex()
        self.webhooks = WebhookDispatcher(self.rng)
        self.billing = BillingSettings()
        # Where browsers reach the hosted pages (checkout, portal); None: the address each API call used.
        self.public_url: str | None = None
        self._requests: deque[dict[str, Any]] = deque(maxlen=request_log_size)
        self._requests_lock = threading.Lock()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self._requests_lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        """Every ``/v1`` request so far, oldest first."""
        with self._requests_lock:
            return list(self._requests)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no webhook delivery is queued, in flight or waiting to be retried.

        Returns False if that did not happen within ``timeout`` seconds.
        """
        return self.webhooks.wait_idle(timeout)

    def reset(self) -> None:
        """Forget every object, key, fault, log entry and setting."""
        with self.lock:
            self.store.clear()
            self.idempotency.clear()
            self.faults.clear()
            self.search.clear()
            self.webhooks.reset()
            self.billing = BillingSettings()
            self.clock.reset()
            with self._requests_lock:
                self._requests.clear()

    def close(self) -> None:
        """Stop the webhook delivery thread (``open()`` allows deliveries again)."""
        self.webhooks.close()

    def open(self) -> None:
        self.webhooks.reopen()

    def wall_time(self) -> float:
        return time.time()
