"""The local stack: moto executing the real ASL and handlers, the Stripe emulator, the HTTP API.

``LocalStack`` runs it in this process; ``client.LocalStackClient`` talks to a running one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stack import LocalStack, LocalStackConfig
    from .template import TemplateError

__all__ = ["LocalStack", "LocalStackConfig", "TemplateError"]


def __getattr__(name: str) -> object:
    # The stack imports moto (a second of start-up): a client of a running stack never needs it.
    if name in ("LocalStack", "LocalStackConfig"):
        from . import stack

        return getattr(stack, name)
    if name == "TemplateError":
        from .template import TemplateError

        return TemplateError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
