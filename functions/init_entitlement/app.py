"""InitEntitlement: give the user an entitlement with status ``none``."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import OnboardingState, init_entitlement
from linkflow_shared.step import step
from linkflow_shared.stores import EntitlementRecord


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> EntitlementRecord:
    return init_entitlement(state, entitlements=deps.entitlements)
