"""Errors raised by linkflow's Lambda code.

A Lambda task that raises fails with the exception's class name as its error, so these class names
ARE the ``ErrorEquals`` names in ``statemachines/*.asl.json``: the split below maps one-to-one onto
``Retry`` (retryable) and ``Catch``/fail-the-execution (terminal)::

    LinkflowError
    ├── RetryableError               transient: every Task's Retry lists these by name
    │   ├── DynamoDBThrottled        ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded
    │   ├── DynamoDBUnavailable      5xx, TransactionConflict, connection failures
    │   ├── CognitoUnavailable       TooManyRequests, InternalError, connection failures
    │   ├── StripeUnavailable        429, 409 (idempotency key in flight), 5xx, connection failures
    │   ├── SecretUnavailable        the Stripe secret could not be read from Secrets Manager
    │   ├── WriteConflict            a conditional write lost to a concurrent change; a retry re-reads
    │   ├── OnboardingStartFailed    StartExecution failed (PostConfirmation trigger only)
    │   ├── EventsStartFailed        StartExecution failed (webhook ingress only: answered 5xx)
    │   └── ReconcileStorageUnavailable  the reconcile snapshot bucket could not be read or written
    └── TerminalError                retrying cannot help
        ├── InvalidStepInput         a trigger event or step input does not parse into the step's
        │                            model (the message names the model and fields, never values)
        ├── EmailAlreadyRegistered   PreSignUp rejects a native sign-up; the message reaches the user
        ├── EmailMissing             PreSignUp rejects a federated sign-in whose provider gave no email
        ├── CognitoUserNotFound      the user was deleted from Cognito mid-run (Catch → rollback)
        ├── CognitoRequestRejected   any other Cognito client error
        ├── DynamoDBRequestRejected  validation, missing table, access denied
        ├── ConditionFailed          a conditional write's condition did not hold; carries the stored
        │                            item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``). Stores
        │                            decide what it means; it only escapes a step by a bug
        ├── ProfileMissing           the profile vanished before the customer id could be stored
        ├── StripeRequestRejected    auth, invalid request, idempotency-key reuse with other params
        │   └── StripeNotFound       HTTP 404: the object does not exist (never read as "deleted")
        └── StripeCustomerMissing    a linked customer answers 404: a wrong key, a mode mix-up or
                                     another account; nothing is changed (only Stripe's own
                                     ``deleted: true`` unlinks a customer)

Foreign errors are mapped onto this tree at the boundary, in one place each:
:func:`dynamodb_errors` (here), :func:`cognito_errors` (here) and
``gateways.stripe.stripe_errors``.

Retryable errors that outlast their Retry fail the execution at the failing task, so a redrive
resumes there; they are never routed into a ``Fail`` state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError


class LinkflowError(Exception):
    """Base class; never raised itself."""


class RetryableError(LinkflowError):
    """A transient failure: the same call may succeed later."""


class TerminalError(LinkflowError):
    """A failure that retrying cannot fix."""


class DynamoDBThrottled(RetryableError):
    pass


class DynamoDBUnavailable(RetryableError):
    pass


class CognitoUnavailable(RetryableError):
    pass


class StripeUnavailable(RetryableError):
    pass


class SecretUnavailable(RetryableError):
    pass


class WriteConflict(RetryableError):
    pass


class OnboardingStartFailed(RetryableError):
    pass


class EventsStartFailed(RetryableError):
    pass


class ReconcileStorageUnavailable(RetryableError):
    pass


class InvalidStepInput(TerminalError):
    pass


class EmailAlreadyRegistered(TerminalError):
    def __init__(self, email: str) -> None:
        super().__init__(f"An account with email {email} already exists. Please sign in instead.")


class EmailMissing(TerminalError):
    def __init__(self, provider: str) -> None:
        super().__init__(f"Signing in with {provider} gave no email address; an account needs one.")


class CognitoUserNotFound(TerminalError):
    pass


class CognitoRequestRejected(TerminalError):
    pass


class DynamoDBRequestRejected(TerminalError):
    pass


class ProfileMissing(TerminalError):
    pass


class StripeRequestRejected(TerminalError):
    pass


class StripeNotFound(StripeRequestRejected):
    pass


class StripeCustomerMissing(TerminalError):
    pass


class ConditionFailed(TerminalError):
    """A conditional write lost; ``item`` is what the table holds (``None``: no item at all)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the write's condition did not hold")
        self.item = item


RETRYABLE_ERRORS: tuple[type[RetryableError], ...] = (
    DynamoDBThrottled,
    DynamoDBUnavailable,
    CognitoUnavailable,
    StripeUnavailable,
    SecretUnavailable,
    WriteConflict,
    OnboardingStartFailed,
    EventsStartFailed,
    ReconcileStorageUnavailable,
)

_DYNAMODB_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
}
_DYNAMODB_TRANSIENT = {
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
}
_COGNITO_TRANSIENT = {
    "TooManyRequestsException",
    "InternalErrorException",
    "ThrottlingException",
    "ServiceUnavailable",
    "LimitExceededException",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_server_error(exc: ClientError) -> bool:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500


@contextmanager
def dynamodb_errors() -> Iterator[None]:
    """Translate DynamoDB failures into the hierarchy above; a failed condition becomes
    :class:`ConditionFailed` carrying the stored item, when the request asked for it."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            stored: Any = dict(exc.response).get("Item")  # not in botocore's error TypedDict
            raise ConditionFailed(_python_item(stored)) from None
        if code in _DYNAMODB_THROTTLING:
            raise DynamoDBThrottled(f"DynamoDB throttled the request ({code})") from exc
        if code in _DYNAMODB_TRANSIENT or _is_server_error(exc):
            raise DynamoDBUnavailable(f"DynamoDB is unavailable ({code})") from exc
        raise DynamoDBRequestRejected(f"DynamoDB rejected the request ({code}): {exc}") from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise DynamoDBUnavailable(f"DynamoDB could not be reached: {exc}") from exc


@contextmanager
def cognito_errors() -> Iterator[None]:
    """Translate Cognito failures; ``UserNotFoundException`` becomes :class:`CognitoUserNotFound`."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code == "UserNotFoundException":
            raise CognitoUserNotFound("the user no longer exists in Cognito") from exc
        if code in _COGNITO_TRANSIENT or _is_server_error(exc):
            raise CognitoUnavailable(f"Cognito is unavailable ({code})") from exc
        raise CognitoRequestRejected(f"Cognito rejected the request ({code}): {exc}") from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise CognitoUnavailable(f"Cognito could not be reached: {exc}") from exc


_deserializer = TypeDeserializer()


def _python_item(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """A failed condition's ``Item`` comes in DynamoDB's wire form even through a resource."""
    if not raw:
        return None
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}
