"""RecordUnlinkedCustomer: note a Stripe customer no user owns, for operators to settle."""

from linkflow_shared.deps import Deps
from linkflow_shared.step import step
from linkflow_shared.stores import UnlinkedCustomer
from linkflow_shared.subscription_events import UnlinkedCustomerInput, record_unlinked_customer


@step(UnlinkedCustomerInput)
def handler(state: UnlinkedCustomerInput, deps: Deps) -> UnlinkedCustomer:
    return record_unlinked_customer(state, unlinked=deps.unlinked_customers)
