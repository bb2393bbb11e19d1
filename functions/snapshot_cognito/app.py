"""SnapshotCognito: one part of the Cognito users (ListUsers pages, from the previous part's token)
into the run's cognito shards; the machine calls it again until it answers done."""

from linkflow_shared.deps import Deps, required
from linkflow_shared.reconcile import SnapshotInput, SourceSnapshot, snapshot_cognito
from linkflow_shared.step import step


@step(SnapshotInput)
def handler(run: SnapshotInput, deps: Deps) -> SourceSnapshot:
    pool = required(deps.settings.user_pool_id, "USER_POOL_ID")
    return snapshot_cognito(run, idp=deps.idp, user_pool_id=pool, store=deps.snapshots)
