"""SnapshotStripe: one part of the Stripe subscriptions, then customers (list endpoints, from the
previous part's cursor) into the run's stripe shards; the machine calls it again until it answers
done."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import SnapshotInput, SourceSnapshot, snapshot_stripe
from linkflow_shared.step import step


@step(SnapshotInput)
def handler(run: SnapshotInput, deps: Deps) -> SourceSnapshot:
    return snapshot_stripe(run, stripe=deps.stripe, store=deps.snapshots)
