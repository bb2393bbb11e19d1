"""PreSignUp trigger: reject a native sign-up whose email is taken, link a verified federated
identity to the account holding its email, fail open (logged, counted) on infrastructure errors."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import CognitoTriggerEvent, SignUpDecision, pre_sign_up
from linkflow_shared.step import step


@step(CognitoTriggerEvent, profile="trigger", answer="event")
def handler(trigger: CognitoTriggerEvent, deps: Deps) -> SignUpDecision:
    trusted = deps.settings.trusted_linking_providers
    decision = pre_sign_up(
        trigger, cognito=deps.cognito, claims=deps.email_claims, profiles=deps.profiles, trusted_providers=trusted
    )
    if decision.action == "fail_open":
        deps.count("PreSignUpFailedOpen")
    return decision
