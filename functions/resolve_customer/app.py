"""ResolveCustomer: which user the event's Stripe customer belongs to (repairing the profile's
link when only the customer's metadata knows)."""

from linkflow_shared.deps import Deps
from linkflow_shared.step import step
from linkflow_shared.subscription_events import CustomerLink, EventHint, resolve_customer


@step(EventHint)
def handler(hint: EventHint, deps: Deps) -> CustomerLink:
    return resolve_customer(hint, profiles=deps.profiles, stripe=deps.stripe)
