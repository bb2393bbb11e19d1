"""SnapshotCognito: every Cognito user (ListUsers pages) into the run's cognito shards."""

from linkflow_shared.deps import Deps, required
from linkflow_shared.reconcile import RunInput, SourceSnapshot, snapshot_cognito
from linkflow_shared.step import step


@step(RunInput)
def handler(run: RunInput, deps: Deps) -> SourceSnapshot:
    pool = required(deps.settings.user_pool_id, "USER_POOL_ID")
    return snapshot_cognito(run, idp=deps.idp, user_pool_id=pool, store=deps.snapshots)
