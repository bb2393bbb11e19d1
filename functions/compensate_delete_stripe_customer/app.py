"""CompensateDeleteStripeCustomer: delete the run's customer when the profile links another one."""

from linkflow_shared.deps import Deps
from linkflow_shared.onboarding import CustomerDeletion, DeleteCustomerInput, compensate_delete_stripe_customer
from linkflow_shared.step import step


@step(DeleteCustomerInput)
def handler(state: DeleteCustomerInput, deps: Deps) -> CustomerDeletion:
    return compensate_delete_stripe_customer(state, stripe=deps.stripe, unlinked=deps.unlinked_customers)
