"""SnapshotTables: UserProfiles, Entitlements and EmailClaims (parallel scans) into the run's shards."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import RunInput, SourceSnapshot, snapshot_tables
from linkflow_shared.step import step


@step(RunInput)
def handler(run: RunInput, deps: Deps) -> SourceSnapshot:
    return snapshot_tables(run, tables=deps.tables(), store=deps.snapshots)
