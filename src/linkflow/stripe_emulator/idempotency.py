"""Idempotency keys as Stripe keeps them: per API key, 24 hours, replaying the first answer.

A key is *in flight* from the moment its first request passes authentication until that request
has an answer; a second request with the key meanwhile gets a 409. Requests the emulator refused
before executing them (injected faults) release the key without storing anything, as Stripe does
for rate-limited requests, so a retry executes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .errors import idempotency_error, idempotency_in_flight

TTL_SECONDS = 24 * 3600


@dataclass
class Replay:
    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str


@dataclass
class _Entry:
    method: str
    path: str
    fingerprint: str
    created: float
    request_id: str
    answer: Replay | None = field(default=None)


class IdempotencyCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def begin(
        self, scope: str, key: str, *, method: str, path: str, fingerprint: str, now: float, request_id: str
    ) -> Replay | None:
        """Claim ``key`` for this request, or answer with the replay of its first request.

        Raises the 409 (in flight) or 400 (different request) ``StripeError``.
        """
        with self._lock:
            entry = self._entries.get((scope, key))
            if entry is not None and entry.created + TTL_SECONDS <= now:
                entry = None
            if entry is None:
                self._entries[(scope, key)] = _Entry(method, path, fingerprint, now, request_id)
                self._prune(now)
                return None
            if entry.method != method or entry.path != path or entry.fingerprint != fingerprint:
                raise idempotency_error(key)
            if entry.answer is None:
                raise idempotency_in_flight(key)
            return entry.answer

    def finish(self, scope: str, key: str, answer: Replay) -> None:
        with self._lock:
            entry = self._entries.get((scope, key))
            if entry is not None and entry.request_id == answer.request_id:
                entry.answer = answer

    def release(self, scope: str, key: str, request_id: str) -> None:
        with self._lock:
            entry = self._entries.get((scope, key))
            if entry is not None and entry.request_id == request_id and entry.answer is None:
                del self._entries[(scope, key)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self, now: float) -> None:
        if len(self._entries) % 1024:
            return
        expired = [k for k, e in self._entries.items() if e.created + TTL_SECONDS <= now and e.answer]
        for k in expired:
            del self._entries[k]
