"""API keys: ``Authorization: Bearer sk_test_...`` (or HTTP basic auth with the key as user)."""

from __future__ import annotations

import base64
import binascii

from .errors import authentication

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
    "for details, or we can help at https://support.stripe.com/."
)


def _mask(key: str) -> str:
    prefix = key[:8] if key.startswith(("sk_", "rk_", "pk_")) else ""
    return f"{prefix}{'*' * max(len(key) - len(prefix) - 4, 0)}{key[-4:]}"


def api_key(authorization: str | None) -> str:
    """The test-mode secret key of a request; raises the 401 ``StripeError`` otherwise."""
    if not authorization:
        raise authentication(_NO_KEY)
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        key = value
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise authentication("Invalid basic authorization header.") from None
    else:
        raise authentication(_NO_KEY)
    if not key:
        raise authentication(_NO_KEY)
    if not key.startswith(("sk_test_", "rk_test_")):
        raise authentication(f"Invalid API Key provided: {_mask(key)}")
    return key
