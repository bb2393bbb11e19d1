"""CreateStripeCustomer: the user's one Stripe customer (idempotency key from the sub)."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import OnboardingState, StripeCustomerRef, create_stripe_customer
from linkflow_shared.step import step


@step(OnboardingState)
def handler(state: OnboardingState, deps: Deps) -> StripeCustomerRef:
    return create_stripe_customer(
        state, cognito=deps.cognito, profiles=deps.profiles, stripe=deps.stripe, platform=deps.settings.platform
    )
