"""StoreStripeCustomerId: link the run's customer to the profile with a conditional write."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import StoreCustomerInput, StoreCustomerResult, store_stripe_customer_id
from linkflow_shared.step import step


@step(StoreCustomerInput)
def handler(state: StoreCustomerInput, deps: Deps) -> StoreCustomerResult:
    return store_stripe_customer_id(state, cognito=deps.cognito, profiles=deps.profiles)
