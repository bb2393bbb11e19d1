"""LinkProvider: make a federated identity sign in as the account that owns its email."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import ClaimedEmailInput, LinkResult, link_provider
from linkflow_shared.step import step


@step(ClaimedEmailInput)
def handler(state: ClaimedEmailInput, deps: Deps) -> LinkResult:
    return link_provider(state, cognito=deps.cognito, profiles=deps.profiles)
