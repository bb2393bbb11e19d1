"""Webhook signing (exactly as Stripe signs) and delivery on a background thread.

Every event is delivered to each enabled endpoint whose ``enabled_events`` match, never inside
the API request that caused it. Non-2xx answers and connection errors are retried with
exponential backoff (compressed time: ``retry_backoff_ms`` doubling per attempt) up to
``max_attempts``. ``duplicate_probability`` sends some deliveries twice, ``reorder_window`` shuffles
deliveries in batches of that size, ``delay_ms`` holds each delivery back.

``wait_idle(timeout)`` returns once nothing is queued, in flight or waiting for a retry.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` value: HMAC-SHA256 keyed by the whole ``whsec_`` string."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_matches(enabled_events: list[str], event_type: str) -> bool:
    return "*" in enabled_events or event_type in enabled_events


@dataclass
class WebhookConfig:
    duplicate_probability: float = 0.0
    reorder_window: int = 1
    reorder_flush_ms: float = 50.0
    delay_ms: float = 0.0
    max_attempts: int = 5
    retry_backoff_ms: float = 20.0
    timeout_seconds: float = 10.0

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown webhook setting: {name}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if value < 0 or (name == "duplicate_probability" and value > 1):
                raise ValueError(f"{name} is out of range")
            current = getattr(self, name)
            setattr(self, name, type(current)(value))
        self.reorder_window = max(1, self.reorder_window)
        self.max_attempts = max(1, self.max_attempts)


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    payload: bytes = field(compare=False)
    endpoint_id: str = field(compare=False)
    url: str = field(compare=False)
    secret: str = field(compare=False)
    attempt: int = field(default=1, compare=False)
    duplicate: bool = field(default=False, compare=False)
    ready_since: float | None = field(default=None, compare=False)


class WebhookDispatcher:
    def __init__(self, rng: random.Random, log_size: int = 10_000) -> None:
        self.config = WebhookConfig()
        self._rng = rng
        self._cv = threading.Condition()
        self._queue: list[Delivery] = []
        self._pending = 0
        self._generation = 0
        self._seq = itertools.count()
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._log_ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- producer side (called with the state lock held; never blocks on the network) ---

    def enqueue(self, event: dict[str, Any], payload: bytes, endpoints: list[dict[str, Any]]) -> None:
        if not endpoints:
            return
        with self._cv:
            now = time.monotonic()
            due = now + self.config.delay_ms / 1000.0
            for endpoint in endpoints:
                copies = 2 if self._rng.random() < self.config.duplicate_probability else 1
                for copy in range(copies):
                    heapq.heappush(self._queue, Delivery(
                        due=due + copy * 0.001, seq=next(self._seq), event_id=event["id"],
                        event_type=event["type"], payload=payload, endpoint_id=endpoint["id"],
                        url=endpoint["url"], secret=endpoint["secret"], duplicate=copy > 0,
                    ))
                    self._pending += 1
            self._ensure_thread()
            self._cv.notify_all()

    # --- observers ---

    def pending(self) -> int:
        with self._cv:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            return True

    @property
    def running(self) -> bool:
        """Whether the delivery thread is alive (it starts with the first delivery)."""
        return self._thread is not None and self._thread.is_alive()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cv:
            return list(self._log)

    def reset(self) -> None:
        with self._cv:
            self._queue.clear()
            self._pending = 0
            self._generation += 1
            self._log.clear()
            self.config = WebhookConfig()
            self._cv.notify_all()

    def reopen(self) -> None:
        """Allow deliveries again after ``close()`` (a server restarted on the same state)."""
        with self._cv:
            self._closed = False
            if self._thread is not None and not self._thread.is_alive():
                self._thread = None
            if self._queue:
                self._ensure_thread()

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- worker ---

    def _ensure_thread(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="stripe-emulator-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cv:
                batch = self._next_batch()
                if batch is None:
                    return
                generation = self._generation
            for delivery in batch:
                self._deliver(delivery, generation)

    def _next_batch(self) -> list[Delivery] | None:
        """Wait (holding the condition) for the next deliveries to send; None once closed."""
        while not self._closed:
            now = time.monotonic()
            window = self.config.reorder_window
            if window <= 1 and self._queue and self._queue[0].due <= now:
                return [heapq.heappop(self._queue)]
            ready = [d for d in self._queue if d.due <= now] if window > 1 else []
            for d in ready:
                if d.ready_since is None:
                    d.ready_since = now
            if ready:
                flush_at = min(d.ready_since or now for d in ready) + self.config.reorder_flush_ms / 1000.0
                if len(ready) >= window or now >= flush_at:
                    batch = sorted(ready)[:window]
                    chosen = set(id(d) for d in batch)
                    self._queue = [d for d in self._queue if id(d) not in chosen]
                    heapq.heapify(self._queue)
                    self._rng.shuffle(batch)
                    return batch
                self._cv.wait(max(flush_at - now, 0.001))
                continue
            wait = (self._queue[0].due - now) if self._queue else None
            self._cv.wait(wait)
        return None

    def _deliver(self, delivery: Delivery, generation: int) -> None:
        timestamp = int(time.time())
        request = urllib.request.Request(
            delivery.url,
            data=delivery.payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": signature_header(delivery.payload, delivery.secret, timestamp),
            },
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        self._finish(delivery, generation, status, error, ok)

    def _finish(self, delivery: Delivery, generation: int, status: int | None, error: str | None,
                ok: bool) -> None:
        with self._cv:
            if generation != self._generation:
                return  # the emulator was reset meanwhile
            self._log.append({
                "id": f"whdel_{next(self._log_ids)}",
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "endpoint_id": delivery.endpoint_id,
                "url": delivery.url,
                "attempt": delivery.attempt,
                "status": status,
                "error": error,
                "ok": ok,
                "duplicate": delivery.duplicate,
                "time": time.time(),
            })
            if not ok and delivery.attempt < self.config.max_attempts:
                backoff = self.config.retry_backoff_ms / 1000.0 * 2 ** (delivery.attempt - 1)
                delivery.attempt += 1
                delivery.due = time.monotonic() + backoff
                delivery.seq = next(self._seq)
                delivery.ready_since = None
                heapq.heappush(self._queue, delivery)
            else:
                self._pending -= 1
            self._cv.notify_all()
