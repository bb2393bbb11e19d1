"""linkflow's shared Lambda package (deployed as the SharedLayer).

Layout, by workflow::

    errors.py, config.py, aws_clients.py   the error tree, the settings, the boto3 client factory
    models.py                             the base model and field types every model shares
    step.py, deps.py                      the one handler adapter and the collaborators it builds
    stores/                               the only code that touches a table, one class per table
    gateways/                             Cognito and Stripe, each a Protocol and its implementation
    onboarding/                           the triggers and the onboarding machine's steps
    subscription_events/                  the webhook ingress and the events machine's steps

Importing it has no side effects: no environment is read, no client is built. The operator
tooling imports it for records and models.
"""

from .config import Settings
from .errors import (
    RETRYABLE_ERRORS,
    CognitoRequestRejected,
    CognitoUnavailable,
    CognitoUserNotFound,
    ConditionFailed,
    DynamoDBRequestRejected,
    DynamoDBThrottled,
    DynamoDBUnavailable,
    EmailAlreadyRegistered,
    EmailMissing,
    EventsStartFailed,
    InvalidStepInput,
    LinkflowError,
    OnboardingStartFailed,
    ProfileMissing,
    RetryableError,
    SecretUnavailable,
    StripeCustomerMissing,
    StripeNotFound,
    StripeRequestRejected,
    StripeUnavailable,
    TerminalError,
    WriteConflict,
)
from .models import Model, mask_email, normalize_email, parse_step_input, utc_now
from .stores import EmailClaim, EntitlementRecord, ProfileRecord, Rejection, UnlinkedCustomer

__all__ = [
    "RETRYABLE_ERRORS",
    "CognitoRequestRejected",
    "CognitoUnavailable",
    "CognitoUserNotFound",
    "ConditionFailed",
    "DynamoDBRequestRejected",
    "DynamoDBThrottled",
    "DynamoDBUnavailable",
    "EmailAlreadyRegistered",
    "EmailClaim",
    "EmailMissing",
    "EntitlementRecord",
    "EventsStartFailed",
    "InvalidStepInput",
    "LinkflowError",
    "Model",
    "OnboardingStartFailed",
    "ProfileMissing",
    "ProfileRecord",
    "Rejection",
    "RetryableError",
    "SecretUnavailable",
    "Settings",
    "StripeCustomerMissing",
    "StripeNotFound",
    "StripeRequestRejected",
    "StripeUnavailable",
    "TerminalError",
    "UnlinkedCustomer",
    "WriteConflict",
    "mask_email",
    "normalize_email",
    "parse_step_input",
    "utc_now",
]
