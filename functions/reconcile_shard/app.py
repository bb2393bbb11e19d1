"""ReconcileShard (the Distributed Map's child): compare and repair the users of its shards."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import ShardBatch, ShardReport, reconcile_shard
from linkflow_shared.step import step


@step(ShardBatch)
def handler(batch: ShardBatch, deps: Deps) -> ShardReport:
    return reconcile_shard(batch, store=deps.snapshots, stripe=deps.stripe, sfn=deps.sfn,
                            repairer=lambda paced: deps.repairer(batch.batch_input, paced))
