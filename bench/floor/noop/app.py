"""The engine floor's task: does nothing, so a floor execution costs only what the engine costs."""

from typing import Any


def handler(event: Any, context: Any) -> Any:
    return event
