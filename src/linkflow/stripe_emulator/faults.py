"""Injected faults: error statuses, latency and outage windows for ``/v1`` requests.

A fault is a dict as posted to ``POST /_emulator/faults``:

- ``path`` (prefix, default ``/v1``), ``method`` (default: any);
- ``status``: answer with the usual Stripe error for it (429 carries ``Stripe-Should-Retry: true``);
- ``count``: apply to the next N matching requests only; ``until``: apply while the wall clock is
  before this epoch second (an outage window); ``probability``: apply to that share of requests;
  none of them: apply until cleared;
- ``latency_ms``: delay the answer, alone or before the error. With ``"jitter": "lognormal"`` the
  delay is drawn from a log-normal distribution whose median is ``latency_ms`` (``sigma``, default
  0.5, capped at ten times the median); ``"jitter": "uniform"`` draws from 0.5x..1.5x.

Latency is served with the idempotency key already claimed, so a slow first request makes a second
one with the same key see 409. Clearing the faults (``DELETE /_emulator/faults``) also cuts short
every latency being served, so a test can hold a request in flight with a long latency and release
it when it is done looking.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import errors

_ids = itertools.count(1)


@dataclass
class Fault:
    id: str
    path: str
    method: str | None
    status: int | None
    count: int | None
    until: float | None
    probability: float | None
    latency_ms: float
    jitter: str | None
    sigma: float
    message: str | None
    code: str | None

    def matches(self, method: str, path: str, now: float) -> bool:
        if self.method is not None and self.method != method:
            return False
        if not path.startswith(self.path):
            return False
        if self.until is not None and now >= self.until:
            return False
        return self.count is None or self.count > 0

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _number(spec: dict[str, Any], name: str, kind: type = float) -> Any:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return kind(value)


def parse_fault(spec: dict[str, Any]) -> Fault:
    known = {"path", "method", "status", "count", "until", "probability", "latency_ms", "jitter", "sigma",
             "message", "code"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    status = _number(spec, "status", int)
    latency = _number(spec, "latency_ms") or 0.0
    if status is None and not latency:
        raise ValueError("a fault needs a status, a latency_ms, or both")
    if status is not None and not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    probability = _number(spec, "probability")
    if probability is not None and not 0 <= probability <= 1:
        raise ValueError("probability must be between 0 and 1")
    jitter = spec.get("jitter")
    if jitter not in (None, "none", "lognormal", "uniform"):
        raise ValueError("jitter must be 'lognormal', 'uniform' or 'none'")
    method = spec.get("method")
    path = spec.get("path", "/v1")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must be a string starting with /")
    return Fault(
        id=f"fault_{next(_ids)}",
        path=path,
        method=method.upper() if isinstance(method, str) else None,
        status=status,
        count=_number(spec, "count", int),
        until=_number(spec, "until"),
        probability=probability,
        latency_ms=float(latency),
        jitter=None if jitter == "none" else jitter,
        sigma=_number(spec, "sigma") or 0.5,
        message=spec.get("message"),
        code=spec.get("code"),
    )


class FaultInjector:
    def __init__(self, rng: random.Random) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = rng
        self._sleepers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = parse_fault(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            for loop, event in self._sleepers:
                loop.call_soon_threadsafe(event.set)

    async def sleep(self, seconds: float) -> None:
        """Serve an injected latency; ends early when the faults are cleared."""
        sleeper = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._sleepers.add(sleeper)
        try:
            await asyncio.wait_for(sleeper[1].wait(), seconds)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._sleepers.discard(sleeper)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(self, method: str, path: str) -> tuple[float, errors.StripeError | None]:
        """The delay (seconds) and error, if any, that this request gets."""
        now = time.time()
        delay = 0.0
        error: errors.StripeError | None = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path, now):
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                if fault.status is not None and error is not None:
                    continue  # the first error wins; later error faults keep their budget
                if fault.count is not None:
                    fault.count -= 1
                delay += self._latency(fault)
                if fault.status is not None:
                    error = errors.for_status(fault.status, message=fault.message, code=fault.code)
            self._faults = [f for f in self._faults if (f.count is None or f.count > 0)
                            and (f.until is None or f.until > now)]
        return delay, error

    def _latency(self, fault: Fault) -> float:
        median = fault.latency_ms / 1000.0
        if not median:
            return 0.0
        if fault.jitter == "lognormal":
            return min(median * math.exp(self._rng.gauss(0.0, fault.sigma)), 10 * median)
        if fault.jitter == "uniform":
            return median * self._rng.uniform(0.5, 1.5)
        return median
