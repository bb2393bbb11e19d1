"""The reconcile workflow: find and repair every broken link between Cognito, DynamoDB and Stripe."""

from .compare import find
from .models import DEFAULT_FIXES, FINDING_KINDS, Finding, FindingKind, FixOutcome, ShardReport, UserSnapshot
from .repair import Repairer
from .steps import (
    PacedStripe,
    Report,
    ReportInput,
    RunInput,
    ShardBatch,
    ShardInput,
    SnapshotInput,
    SourceSnapshot,
    load_shard,
    reconcile_one_shard,
    reconcile_shard,
    shard_reports,
    snapshot_cognito,
    snapshot_stripe,
    snapshot_tables,
    write_report,
)

__all__ = [
    "DEFAULT_FIXES",
    "FINDING_KINDS",
    "Finding",
    "FindingKind",
    "FixOutcome",
    "PacedStripe",
    "Repairer",
    "Report",
    "ReportInput",
    "RunInput",
    "ShardBatch",
    "ShardInput",
    "ShardReport",
    "SnapshotInput",
    "SourceSnapshot",
    "UserSnapshot",
    "find",
    "load_shard",
    "reconcile_one_shard",
    "reconcile_shard",
    "shard_reports",
    "snapshot_cognito",
    "snapshot_stripe",
    "snapshot_tables",
    "write_report",
]
