"""CheckDuplicateEmail: claim the normalized email atomically and say what happens next."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import EmailClaimResult, OnboardingInput, check_duplicate_email
from linkflow_shared.step import step


@step(OnboardingInput)
def handler(onboarding: OnboardingInput, deps: Deps) -> EmailClaimResult:
    trusted = deps.settings.trusted_linking_providers
    return check_duplicate_email(onboarding, cognito=deps.cognito, claims=deps.email_claims, trusted_providers=trusted)
