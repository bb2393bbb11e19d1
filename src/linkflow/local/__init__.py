"""The local stack: moto executing the real ASL and handlers, the Stripe emulator, the HTTP API."""

from .stack import LocalStack, LocalStackConfig
from .template import TemplateError

__all__ = ["LocalStack", "LocalStackConfig", "TemplateError"]
