"""linkflow's shared Lambda package (deployed as the SharedLayer).

Importing it has no side effects: no environment is read, no client is built. The operator
tooling imports it for records and models.
"""

from .config import Settings
from .errors import (
    RETRYABLE_ERRORS,
    CognitoRequestRejected,
    CognitoUnavailable,
    CognitoUserNotFound,
    DynamoDBRequestRejected,
    DynamoDBThrottled,
    DynamoDBUnavailable,
    EmailAlreadyRegistered,
    InvalidOnboardingInput,
    LinkflowError,
    OnboardingStartFailed,
    ProfileMissing,
    RetryableError,
    StripeRequestRejected,
    StripeUnavailable,
    TerminalError,
    WriteConflict,
)
from .models import (
    CognitoTriggerEvent,
    EmailClaim,
    EmailClaimResult,
    EntitlementRecord,
    OnboardingInput,
    OnboardingState,
    ProfileRecord,
    StoreCustomerResult,
    StripeCustomerRef,
    normalize_email,
    parse_input,
    utc_now,
)
from .onboarding import onboarding_execution_name, start_onboarding, write_profile

__all__ = [
    "RETRYABLE_ERRORS",
    "CognitoRequestRejected",
    "CognitoTriggerEvent",
    "CognitoUnavailable",
    "CognitoUserNotFound",
    "DynamoDBRequestRejected",
    "DynamoDBThrottled",
    "DynamoDBUnavailable",
    "EmailAlreadyRegistered",
    "EmailClaim",
    "EmailClaimResult",
    "EntitlementRecord",
    "InvalidOnboardingInput",
    "LinkflowError",
    "OnboardingInput",
    "OnboardingStartFailed",
    "OnboardingState",
    "ProfileMissing",
    "ProfileRecord",
    "RetryableError",
    "Settings",
    "StoreCustomerResult",
    "StripeCustomerRef",
    "StripeRequestRejected",
    "StripeUnavailable",
    "TerminalError",
    "WriteConflict",
    "normalize_email",
    "onboarding_execution_name",
    "parse_input",
    "start_onboarding",
    "utc_now",
    "write_profile",
]
