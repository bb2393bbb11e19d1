"""CompensateDisableDuplicateAccount: disable an account whose email another account owns."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import ClaimedEmailInput, compensate_disable_duplicate_account
from linkflow_shared.step import step
from linkflow_shared.stores import Rejection


@step(ClaimedEmailInput)
def handler(state: ClaimedEmailInput, deps: Deps) -> Rejection:
    rejection = compensate_disable_duplicate_account(state, cognito=deps.cognito, claims=deps.email_claims)
    deps.count("DuplicateAccountDisabled")
    return rejection
