"""Which "now" an object lives in: its customer's test clock, or emulator time."""

from __future__ import annotations

from typing import Any

from ..state import EmulatorState


def clock_now(state: EmulatorState, test_clock_id: str | None) -> int:
    if test_clock_id:
        clock = state.store.get("test_clock", test_clock_id)
        if clock is not None:
            return int(clock["frozen_time"])
    return state.clock.now_int()


def customer_now(state: EmulatorState, customer: dict[str, Any]) -> int:
    return clock_now(state, customer.get("test_clock"))
