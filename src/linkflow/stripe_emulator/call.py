"""What a resource handler gets: the state, the decoded parameters and who asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .state import EmulatorState
from .versions import ACCOUNT_VERSION


@dataclass
class Call:
    state: EmulatorState
    params: dict[str, Any]
    request_id: str | None = None
    idempotency_key: str | None = None
    origin: str = ""  # scheme://host[:port] the caller reached the emulator at (hosted pages live there)
    api_version: str = ACCOUNT_VERSION  # the request's Stripe-Version (versions.py)

    def event_request(self) -> dict[str, Any]:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}

    def now(self) -> int:
        return self.state.clock.now_int()

    def public_url(self, path: str) -> str:
        """``path`` on the emulator as a browser reaches it (``EmulatorState.public_url`` if set)."""
        base = self.state.public_url or self.origin or "http://127.0.0.1:12111"
        return base.rstrip("/") + path


def system_call(state: EmulatorState, origin: str = "") -> Call:
    """A call for work no API request caused (test clock advances, admin helpers, hosted pages)."""
    return Call(state=state, params={}, origin=origin)
