"""WriteProfile: create the user's profile; an existing one is kept as it is."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import OnboardingState, ProfileSaved, write_profile
from linkflow_shared.step import step


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> ProfileSaved:
    return write_profile(state, cognito=deps.cognito, profiles=deps.profiles)
