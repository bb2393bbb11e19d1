"""UnlinkDeletedCustomer: the customer is deleted in Stripe, so the profile stops linking it."""

from linkflow_shared.deps import Deps
from linkflow_shared.step import step
from linkflow_shared.subscription_events import ResolvedCustomerInput, UnlinkResult, unlink_deleted_customer


@step(ResolvedCustomerInput)
def handler(state: ResolvedCustomerInput, deps: Deps) -> UnlinkResult:
    return unlink_deleted_customer(state, profiles=deps.profiles)
