"""SnapshotTables: one part of UserProfiles, Entitlements and EmailClaims (parallel scan segments,
each from its LastEvaluatedKey) into the run's shards; the machine calls it again until done."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import SnapshotInput, SourceSnapshot, snapshot_tables
from linkflow_shared.step import step


@step(SnapshotInput)
def handler(run: SnapshotInput, deps: Deps) -> SourceSnapshot:
    return snapshot_tables(run, tables=deps.tables(), store=deps.snapshots)
