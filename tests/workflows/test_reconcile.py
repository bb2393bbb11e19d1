"""The reconcile machine on the local stack: every finding kind injected through boto3 and the
stripe SDK, a dry run that changes nothing, a run that repairs, a run after it that finds nothing;
and a run failed mid-Map, redriven, that runs again only its failed child."""

from __future__ import annotations

import json
from typing import Any

import pytest
from reconcile_support import Reconcile, counts
from support import history

pytestmark = pytest.mark.usefixtures("clean_faults")
SHARD_FUNCTION = "ReconcileShardFunction"


@pytest.fixture
def rec(stack: Any) -> Reconcile:
    return Reconcile(stack)


def _shard_invocations(stack: Any) -> int:
    name = stack.info["resources"][SHARD_FUNCTION]["name"]
    return int(stack.admin.invocation_counts().get(name, 0))


def test_a_run_failed_mid_map_is_redriven_and_runs_only_its_failed_child(stack: Any, rec: Reconcile) -> None:
    rec.onboarded_users(2, "redrive")
    before = _shard_invocations(stack)
    stack.admin.add_fault({"service": "lambda", "function": SHARD_FUNCTION, "error": "InjectedFault", "count": 1})
    arn = rec.start(dry_run=True)
    failed = rec.finished(arn)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.ExceededToleratedFailureThreshold"
    assert _shard_invocations(stack) - before == rec.shards
    events = history(rec.sfn, arn)
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == ["MapRunStarted", "MapRunFailed"]
    map_run = rec.map_run(arn)
    assert map_run["status"] == "FAILED"
    assert map_run["itemCounts"]["total"] == rec.shards
    assert map_run["itemCounts"]["failed"] == 1
    assert map_run["itemCounts"]["succeeded"] == rec.shards - 1
    assert map_run["redriveCount"] == 0
    assert rec.sfn.describe_execution(executionArn=arn)["redriveStatus"] == "REDRIVABLE"

    rec.sfn.redrive_execution(executionArn=arn)
    done = rec.finished(arn)

    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert done["redriveCount"] == 1
    assert _shard_invocations(stack) - before == rec.shards + 1  # the failed child alone ran again
    again = rec.map_run(arn)  # the same Map Run (ListMapRuns lists one), redriven once
    assert again["mapRunArn"] == map_run["mapRunArn"]
    assert again["status"] == "SUCCEEDED" and again["redriveCount"] == 1 and "redriveDate" in again
    assert again["itemCounts"]["succeeded"] == rec.shards and again["itemCounts"]["failed"] == 0
    assert again["itemCounts"]["resultsWritten"] == rec.shards
    children = rec.sfn.list_executions(mapRunArn=map_run["mapRunArn"])["executions"]
    assert sorted(c.get("redriveCount", 0) for c in children) == [0] * (rec.shards - 1) + [1]
    events = history(rec.sfn, arn)
    kinds = [e["type"] for e in events]
    assert kinds.count("ExecutionRedriven") == 1 and kinds.count("MapRunRedriven") == 1
    assert kinds[-1] == "ExecutionSucceeded"
    report = json.loads(done["output"])  # every shard's result reached the report, the kept ones too
    assert report["shardsFailed"] == 0
    assert report["usersScanned"] >= 2
    assert report["fixed"] == counts()
