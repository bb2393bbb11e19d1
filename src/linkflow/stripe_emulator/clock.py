"""Emulator time: the wall clock plus an offset that tests can move forward.

Objects of customers on a test clock live in that clock's frozen time instead (see
``resources/test_clocks.py``). Webhook signatures always use the real wall clock, because the
receiver checks them against its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._source() + self._offset

    def now_int(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset
