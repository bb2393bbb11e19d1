"""Scale Retry intervals and Wait states, as Step Functions Local's WAIT_TIME_SCALE does, and SQS
visibility timeouts.

The ASL and the queues keep their production budgets; the local engine sleeps ``scale`` times as
long, and a received SQS message stays hidden ``scale`` times its visibility timeout.
"""

from __future__ import annotations

import time
from typing import Any

_scale = 1.0


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: only ``sleep`` is scaled."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(0.0, seconds) * _scale)


def install(scale: float) -> None:
    global _scale
    if scale <= 0:
        raise ValueError("--wait-time-scale must be > 0")
    _scale = scale
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    # moto's retrier sleeps through its module's ``time``: a scaled one shortens every Retry interval.
    retrier_decl.time = _ScaledTime()  # type: ignore[attr-defined,assignment]  # moto does not export it; a stand-in

    def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        # Wait for the scaled time; an execution being stopped sets the event and ends the wait.
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * _scale)

    wait_function.WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
    _scale_visibility()


def _scale_visibility() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message

    def change_visibility(self: Any, visibility_timeout: int) -> None:
        # moto counts whole seconds (int); the scaled timeout keeps its milliseconds
        self.visible_at = unix_time_millis() + int(visibility_timeout) * 1000 * _scale

    Message.change_visibility = change_visibility  # type: ignore[method-assign]


def current() -> float:
    return _scale
