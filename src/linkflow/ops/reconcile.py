"""Reconcile runs as an operator sees them: start one, follow its Map Run, read its report.

The machine's report (its execution output and ``runs/<run>/report.json``) uses the wire form's
camelCase; :func:`report_document` turns it into the CLI's document, snake_case, with the
execution around it. A run that failed has no output: its document comes from the S3 report if
WriteReport wrote one, else from the Map Run's results written so far (partial counts), the Map
Run's item counts and the failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import UsageError
from .executions import check_ref
from .stack import RECONCILE, StackResources
from .timeline import FAILED_STATUSES, iso

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef, DescribeMapRunOutputTypeDef

# The template's parameter defaults (ReconcileShards, ReconcileStripeRequestsPerSecond), used when
# the stack does not list its parameters (the local stack does not).
DEFAULT_SHARDS = 16
DEFAULT_RATE = 20.0
SCOPES = ("all", "recent")
MAX_SHARDS = 10_000
MAP_STATE = "CompareAndRepair"
COUNTS = ("findings", "fixed", "refused", "failed")


def finding_kinds() -> tuple[str, ...]:
    """The finding kinds, as the machine names them (one list, in the shared package)."""
    from linkflow_shared.reconcile.models import FINDING_KINDS

    return tuple(FINDING_KINDS)


def check_kinds(kinds: Iterable[str]) -> list[str]:
    """``--fix`` values (repeatable, or comma-separated), in order, without repeats; UsageError
    naming the valid kinds for one that is not."""
    valid = finding_kinds()
    chosen: list[str] = []
    for raw in kinds:
        for kind in (part.strip() for part in raw.split(",")):
            if kind not in valid:
                raise UsageError(f"--fix {kind!r}: not a finding kind; expected one of {', '.join(valid)}")
            if kind not in chosen:
                chosen.append(kind)
    return chosen


@dataclass(frozen=True)
class RunOptions:
    """The execution input of one run (see docs/reconcile.md); shards and rate None until
    :meth:`resolved` fills in the stack's defaults."""

    dry_run: bool
    fix: list[str]
    scope: str
    shards: int | None
    rate: float | None

    def resolved(self, stack_defaults: tuple[int, float]) -> RunOptions:
        shards, rate = stack_defaults
        return RunOptions(dry_run=self.dry_run, fix=self.fix, scope=self.scope,
                          shards=shards if self.shards is None else self.shards,
                          rate=rate if self.rate is None else self.rate)

    def execution_input(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "fix": self.fix, "scope": self.scope, "shards": self.shards,
                "stripeRequestsPerSecond": self.rate}


def _number(value: str | None, kind: type[int] | type[float], default: float) -> float:
    try:
        return kind(value) if value is not None else default
    except ValueError:
        return default


def defaults(stack: StackResources) -> tuple[int, float]:
    """``(shards, rate)``: the stack's parameters where it lists them, else the template's defaults."""
    shards = int(_number(stack.parameters.get("ReconcileShards"), int, DEFAULT_SHARDS))
    rate = float(_number(stack.parameters.get("ReconcileStripeRequestsPerSecond"), float, DEFAULT_RATE))
    return shards, rate


def check_options(*, dry_run: bool, fix: list[str], scope: str, shards: int | None,
                  rate: float | None) -> RunOptions:
    """The run's options, checked before any call (UsageError naming what is wrong)."""
    if scope not in SCOPES:
        raise UsageError(f"--scope {scope!r}: expected all or recent")
    if shards is not None and not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"--shards must be between 1 and {MAX_SHARDS}")
    if rate is not None and rate <= 0:
        raise UsageError("--rate must be more than zero (Stripe requests a second)")
    return RunOptions(dry_run=dry_run, fix=check_kinds(fix), scope=scope, shards=shards, rate=rate)


def run_name(now: datetime | None = None) -> str:
    """``manual-20261202T023124Z``: who started it and when (UTC), sortable."""
    return "manual-" + (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def machine_arn(stack: StackResources) -> str:
    arn = stack.machines.get(RECONCILE)
    if arn is None:
        raise UsageError(f"stack {stack.name!r} has no reconcile state machine (no ReconcileStateMachineArn output)")
    return arn


def start(sfn: SFNClient, stack: StackResources, options: RunOptions, now: datetime | None = None) -> str:
    """Start a run; its execution ARN. A name already taken (two runs in one second) gets a suffix."""
    arn, base = machine_arn(stack), run_name(now)
    for attempt in range(10):
        name = base if attempt == 0 else f"{base}-{attempt}"
        try:
            started = sfn.start_execution(stateMachineArn=arn, name=name,
                                          input=json.dumps(options.execution_input()))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                continue
            raise
        return started["executionArn"]
    raise UsageError(f"execution names {base} to {base}-9 are all taken: try again in a second")


def resolve(sfn: SFNClient, stack: StackResources, ref: str) -> DescribeExecutionOutputTypeDef:
    """DescribeExecution of a run given by its ARN or name; UsageError if it is no reconcile run."""
    ref, machine = check_ref(ref), machine_arn(stack)
    arn = ref if ref.startswith("arn:") else machine.replace(":stateMachine:", ":execution:", 1) + f":{ref}"
    if arn.rsplit(":", 1)[0] != machine.replace(":stateMachine:", ":execution:", 1):
        raise UsageError(f"{ref} is not a run of {machine.rsplit(':', 1)[-1]} (the stack's reconcile machine)")
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            raise UsageError(f"unknown reconcile run {ref!r}") from None
        raise


# --- progress ------------------------------------------------------------------------------------


def map_run(sfn: SFNClient, execution_arn: str) -> DescribeMapRunOutputTypeDef | None:
    """The run's CompareAndRepair Map Run (the newest, after a redrive); None before it starts."""
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return None
    newest = max(runs, key=lambda r: r["startDate"])
    return sfn.describe_map_run(mapRunArn=newest["mapRunArn"])


@dataclass(frozen=True)
class Progress:
    """Where a run is: ``snapshot`` (no Map Run yet), ``compare and repair`` (shards done of
    total), ``report`` (Map Run over, report being written) or ``done``."""

    phase: str
    done: int = 0
    total: int | None = None
    failed: int = 0

    @property
    def description(self) -> str:
        if self.phase == "compare and repair" and self.failed:
            return f"{self.phase} ({self.failed} failed)"
        return self.phase


def progress(status: str, counts: dict[str, int] | None) -> Progress:
    """The progress of an execution in ``status`` whose Map Run has ``counts`` (itemCounts) or none yet."""
    if counts is None:
        return Progress("done" if status != "RUNNING" else "snapshot")
    total = int(counts.get("total", 0))
    failed = sum(int(counts.get(k, 0)) for k in ("failed", "timedOut", "aborted"))
    done = int(counts.get("succeeded", 0)) + failed
    if status != "RUNNING":
        phase = "done"
    elif total and done >= total:
        phase = "report"
    else:
        phase = "compare and repair"
    return Progress(phase, done=done, total=total, failed=failed)


# --- the report ----------------------------------------------------------------------------------


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _snake_keys(report: dict[str, Any]) -> dict[str, Any]:
    return {snake(k): v for k, v in report.items()}


def item_counts(desc: DescribeMapRunOutputTypeDef | None) -> dict[str, int] | None:
    """The Map Run's ``itemCounts`` (pending, running, succeeded, failed, ..., total); None without one."""
    if desc is None:
        return None
    return {k: int(str(v)) for k, v in desc.get("itemCounts", {}).items()}


def _map_counts(desc: DescribeMapRunOutputTypeDef | None) -> dict[str, Any] | None:
    counts = item_counts(desc)
    if desc is None or counts is None:
        return None
    return {"map_run_arn": desc["mapRunArn"], "status": desc["status"], **{snake(k): v for k, v in counts.items()}}


def _input(desc: DescribeExecutionOutputTypeDef) -> dict[str, Any]:
    try:
        parsed = json.loads(desc.get("input") or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def report_document(desc: DescribeExecutionOutputTypeDef, report: dict[str, Any] | None,
                    map_desc: DescribeMapRunOutputTypeDef | None = None, *, report_source: str | None = None,
                    failed_state: str | None = None) -> dict[str, Any]:
    """The CLI's document for one run (``--output json``): snake_case, counts per kind for every kind.

    ``status`` is the run's: SUCCEEDED when the execution succeeded and no fix failed, FAILED when
    a fix or the execution failed, else the execution's status (RUNNING, TIMED_OUT, ABORTED, ...).
    """
    from .masking import mask

    given, kinds = _input(desc), finding_kinds()
    body = _snake_keys(report) if report is not None else {}
    stop = desc.get("stopDate")
    execution_status = desc["status"]
    if execution_status == "SUCCEEDED":
        status = str(body.get("status") or "SUCCEEDED")
    else:
        status = "FAILED" if execution_status == "FAILED" else execution_status

    def counts(field: str) -> dict[str, int] | None:
        values = body.get(field)
        return {k: int(values.get(k, 0)) for k in kinds} if isinstance(values, dict) else None

    doc: dict[str, Any] = {
        "execution_arn": desc["executionArn"],
        "name": desc["name"],
        "status": status,
        "execution_status": execution_status,
        "start_date": iso(desc["startDate"]),
        "stop_date": iso(stop),
        "duration_s": round(((stop or datetime.now(UTC)) - desc["startDate"]).total_seconds(), 3),
        "dry_run": bool(body.get("dry_run", given.get("dryRun", False))),
        "fix": given.get("fix", []),
        "scope": given.get("scope"),
        "shards": given.get("shards"),
        "stripe_requests_per_second": given.get("stripeRequestsPerSecond"),
        "users_scanned": body.get("users_scanned"),
        **{field: counts(field) for field in COUNTS},
        "refusals": mask(body.get("refusals", [])),
        "stripe_requests": body.get("stripe_requests"),
        "shards_failed": body.get("shards_failed"),
        "report_source": report_source if report is not None else None,
        "map_run": _map_counts(map_desc),
        "failed_state": failed_state if execution_status in FAILED_STATUSES else None,
        "error": desc.get("error"),
        "cause": mask(desc.get("cause")),
    }
    return doc


def totals(doc: dict[str, Any]) -> dict[str, int | None]:
    """Findings, fixed, refused and failed over every kind (None where the run has no report)."""
    return {field: (sum(doc[field].values()) if doc.get(field) is not None else None) for field in COUNTS}


def problems(doc: dict[str, Any]) -> bool:
    """Whether the run asks for attention: it did not succeed, or a fix failed (exit 1)."""
    return doc["status"] not in ("SUCCEEDED", "RUNNING", "PENDING_REDRIVE")


def output_report(desc: DescribeExecutionOutputTypeDef) -> dict[str, Any] | None:
    try:
        parsed = json.loads(desc.get("output") or "null")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def stored_report(s3: S3Client, bucket: str, run_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(report, where)`` from the bucket: ``runs/<run>/report.json`` if WriteReport wrote it, else
    the counts of the Map children that succeeded (ResultWriter's manifest): a partial report."""
    from linkflow_shared.gateways.snapshots import S3Snapshots
    from linkflow_shared.reconcile.steps import shard_reports

    store = S3Snapshots(s3, bucket)
    keys = store.keys(f"runs/{run_id}/")
    if f"runs/{run_id}/report.json" in keys:
        report = store.get_json(f"runs/{run_id}/report.json")
        return (report, "s3 report") if isinstance(report, dict) else (None, None)
    manifests = sorted(k for k in keys if k.startswith(f"runs/{run_id}/results/") and k.endswith("manifest.json"))
    if not manifests:
        return None, None
    shards, failed = shard_reports(store, manifests[-1])
    partial: dict[str, Any] = {"usersScanned": sum(s.users_scanned for s in shards),
                               "stripeRequests": sum(s.stripe_requests for s in shards), "shardsFailed": failed,
                               "refusals": [r.dump() for s in shards for r in s.refusals][:500]}
    for field in COUNTS:
        summed: dict[str, int] = {}
        for shard in shards:
            for kind, n in getattr(shard, field).items():
                summed[kind] = summed.get(kind, 0) + n
        partial[field] = summed
    return partial, "partial: shards that succeeded"


def list_runs(sfn: SFNClient, stack: StackResources, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` runs with their totals (from each execution's output; none while running
    or when the run failed: ``reconcile show`` reads what a failed run left)."""
    from .executions import list_executions

    machine_arn(stack)
    rows = []
    for summary in list_executions(sfn, stack, machine=RECONCILE, limit=limit, with_failure=False):
        desc = sfn.describe_execution(executionArn=summary.arn)
        doc = report_document(desc, output_report(desc), report_source="execution output")
        total = totals(doc)
        rows.append({key: doc[key] for key in ("name", "execution_arn", "status", "execution_status", "start_date",
                                               "stop_date", "duration_s", "dry_run", "users_scanned",
                                               "stripe_requests")}
                    | {f"{field}_total": total[field] for field in COUNTS})
    return rows


__all__ = ["DEFAULT_RATE", "DEFAULT_SHARDS", "Progress", "RunOptions", "check_kinds", "check_options", "defaults",
           "item_counts", "list_runs", "map_run", "output_report", "problems", "progress", "report_document",
           "resolve", "start", "stored_report", "totals"]
