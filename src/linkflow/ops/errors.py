"""What an operator command can fail with, and the exit code each failure means.

Exit codes (scripts rely on them)::

    0  ok
    1  the command worked and found problems: drift, failed redrives, an execution that ended badly
    2  usage error: bad input, unknown execution / stack / user, malformed ARN
    3  cannot reach (or use) AWS or Stripe: connection refused, timeout, no credentials, refused key
    4  not confirmed: a bulk change was refused (no --yes and stdin is not a terminal) or answered no

:func:`explain` turns the exceptions botocore and the stripe SDK raise into one of these, with a
one-line message that names the endpoint and why.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import botocore.exceptions as boto_errors
from botocore.parsers import ResponseParserError

if TYPE_CHECKING:
    import stripe

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_CONFIRMED = 4

_AUTH_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
}
_CREDENTIAL_ERRORS = (
    boto_errors.NoCredentialsError,
    boto_errors.PartialCredentialsError,
    boto_errors.CredentialRetrievalError,
    boto_errors.TokenRetrievalError,
    boto_errors.SSOError,
)


class OpsError(Exception):
    """A failure the CLI reports in one line and an exit code, never a traceback."""

    exit_code = EXIT_USAGE


class UsageError(OpsError):
    exit_code = EXIT_USAGE


class Unreachable(OpsError):
    exit_code = EXIT_UNREACHABLE


class NotConfirmed(OpsError):
    exit_code = EXIT_NOT_CONFIRMED


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _why(detail: str, default: str) -> str:
    """``[Errno 111] Connection refused`` or ``timed out`` out of a connection error's long text."""
    errno = re.search(r"\[Errno -?\d+\] [^\"')]+", detail)
    if errno:
        return f"{default} ({errno.group(0).strip()})"
    return "timed out" if "timed out" in detail.lower() else default


def _explain_boto(exc: BaseException, aws_endpoint: str) -> OpsError | None:
    # botocore's errors keep their format arguments in ``kwargs``; connection errors name the endpoint.
    details: dict[str, object] = getattr(exc, "kwargs", {}) if isinstance(exc, boto_errors.BotoCoreError) else {}
    endpoint = details.get("endpoint_url")
    if endpoint:
        timed_out = isinstance(exc, boto_errors.ConnectTimeoutError | boto_errors.ReadTimeoutError)
        why = "timed out" if timed_out else _why(str(details.get("error", "")), "connection failed")
        return Unreachable(f"cannot reach AWS at {endpoint}: {why}")
    if isinstance(exc, ResponseParserError):
        return Unreachable(f"cannot use AWS at {aws_endpoint}: the answer is not an AWS response")
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return Unreachable(f"cannot use AWS: {_first_line(exc)} (set AWS_PROFILE or AWS_ACCESS_KEY_ID)")
    if isinstance(exc, boto_errors.ProfileNotFound):
        return UsageError(f"AWS_PROFILE: {_first_line(exc)}")
    if isinstance(exc, boto_errors.NoRegionError):
        return UsageError("no AWS region: set AWS_REGION (or a profile with a region)")
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), _first_line(error.get("Message", ""))
        if code in _AUTH_CODES:
            return Unreachable(f"AWS refused the credentials for {exc.operation_name}: {code}: {message}")
        return Unreachable(f"AWS {exc.operation_name} failed: {code}: {message}")
    return None


def _explain_stripe(exc: stripe.StripeError, stripe_base: str) -> OpsError:
    import stripe

    if isinstance(exc, stripe.APIConnectionError):
        return Unreachable(f"cannot reach Stripe at {stripe_base}: {_why(str(exc), 'connection failed')}")
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return Unreachable(f"Stripe at {stripe_base} refused the API key: {_first_line(exc.user_message or exc)}")
    status = f"HTTP {exc.http_status}" if exc.http_status else "no status"
    return Unreachable(f"Stripe at {stripe_base} answered {status}: {_first_line(exc.user_message or exc)}")


def explain(
    exc: BaseException, stripe_base: str = "https://api.stripe.com", aws_endpoint: str = "the AWS endpoint"
) -> OpsError | None:
    """The :class:`OpsError` an SDK exception (or one it caused) amounts to; None if it is a bug."""
    stripe = sys.modules.get("stripe")  # not imported: no Stripe call was made, no Stripe error to explain
    for link in _chain(exc):
        if isinstance(link, OpsError):
            return link
        if stripe is not None and isinstance(link, stripe.StripeError):
            return _explain_stripe(link, stripe_base)
        explained = _explain_boto(link, aws_endpoint)
        if explained is not None:
            return explained
    return None
