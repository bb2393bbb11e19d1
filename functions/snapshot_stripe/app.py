"""SnapshotStripe: every Stripe customer, subscription and product (list endpoints) into the run's
stripe shards."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import RunInput, SourceSnapshot, snapshot_stripe
from linkflow_shared.step import step


@step(RunInput)
def handler(run: RunInput, deps: Deps) -> SourceSnapshot:
    return snapshot_stripe(run, stripe=deps.stripe, store=deps.snapshots)
