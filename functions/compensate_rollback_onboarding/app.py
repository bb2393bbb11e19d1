"""CompensateRollbackOnboarding: remove what onboarding created for a user deleted mid-run."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import OnboardingState, RollbackResult, compensate_rollback_onboarding
from linkflow_shared.step import step


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> RollbackResult:
    return compensate_rollback_onboarding(
        state,
        stripe=deps.stripe,
        profiles=deps.profiles,
        entitlements=deps.entitlements,
        claims=deps.email_claims,
        unlinked=deps.unlinked_customers,
    )
