"""SyncEntitlement: re-read the customer's subscriptions from Stripe and write the entitlement they
imply, guarded so that an older view never overwrites a newer one."""

from linkflow_shared.deps import Deps
from linkflow_shared.step import step
from linkflow_shared.subscription_events import ResolvedCustomerInput, SyncResult, sync_entitlement


@step(ResolvedCustomerInput)
def handler(state: ResolvedCustomerInput, deps: Deps) -> SyncResult:
    return sync_entitlement(state, entitlements=deps.entitlements, stripe=deps.stripe)
