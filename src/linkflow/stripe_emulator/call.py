"""What a resource handler gets: the state, the decoded parameters and who asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .state import EmulatorState


@dataclass
class Call:
    state: EmulatorState
    params: dict[str, Any]
    request_id: str | None = None
    idempotency_key: str | None = None

    def event_request(self) -> dict[str, Any]:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}

    def now(self) -> int:
        return self.state.clock.now_int()


def system_call(state: EmulatorState) -> Call:
    """A call for work no API request caused (test clock advances, admin helpers)."""
    return Call(state=state, params={})
