"""InitEntitlement: give the user an entitlement with status ``none``."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import EntitlementSaved, OnboardingState, init_entitlement
from linkflow_shared.step import step


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> EntitlementSaved:
    return init_entitlement(state, entitlements=deps.entitlements)
