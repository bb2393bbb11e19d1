"""WriteProfile: create the user's profile; an existing one is kept as it is."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import OnboardingState, write_profile
from linkflow_shared.step import step
from linkflow_shared.stores import ProfileRecord


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> ProfileRecord:
    return write_profile(state, profiles=deps.profiles)
