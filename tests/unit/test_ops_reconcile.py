"""``linkflow reconcile``: options checked before any call, the progress of a run, its report as the
CLI prints it (snake_case JSON, a table), with fakes for Step Functions."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from linkflow_shared.reconcile.models import FINDING_KINDS
from rich.console import Console
from typer.testing import CliRunner

from linkflow.cli import app
from linkflow.ops import commands, reconcile, render
from linkflow.ops.errors import EXIT_USAGE, UsageError
from linkflow.ops.stack import StackResources

PREFIX = "arn:aws:states:us-east-1:123456789012"
MACHINE = f"{PREFIX}:stateMachine:linkflow-prod-reconcile"
OUTPUTS = {"UserPoolId": "us-east-1_x", "OnboardingStateMachineArn": f"{PREFIX}:stateMachine:linkflow-prod-onboarding",
           "UserProfilesTableName": "P", "EntitlementsTableName": "E", "StripeSecretName": "linkflow/stripe",
           "ReconcileStateMachineArn": MACHINE, "ReconcileBucketName": "linkflow-prod-reconcile-1"}
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
runner = CliRunner()


def _stack(parameters: dict[str, str] | None = None, **outputs: str) -> StackResources:
    return StackResources.from_outputs("linkflow-prod", {**OUTPUTS, **outputs}, parameters)


def _counts(**given: int) -> dict[str, int]:
    return {kind: given.get(kind, 0) for kind in FINDING_KINDS}


def _report(**overrides):
    report = {"executionArn": f"{PREFIX}:execution:linkflow-prod-reconcile:manual-1", "runId": "manual-1",
              "status": "SUCCEEDED", "dryRun": False, "usersScanned": 1200,
              "findings": _counts(missing_profile=3, email_drift=2), "fixed": _counts(missing_profile=3, email_drift=1),
              "refused": _counts(email_drift=1), "failed": _counts(),
              "refusals": [{"kind": "email_drift", "sub": "u-1", "status": "refused",
                            "reason": "new.owner@example.com is claimed by another account"}],
              "stripeRequests": 31, "shardsFailed": 0}
    return {**report, **overrides}


def _desc(status="SUCCEEDED", output=None, **extra):
    desc = {"executionArn": f"{PREFIX}:execution:linkflow-prod-reconcile:manual-1", "name": "manual-1",
            "stateMachineArn": MACHINE, "status": status, "startDate": START,
            "input": json.dumps({"dryRun": False, "fix": [], "scope": "all", "shards": 16,
                                 "stripeRequestsPerSecond": 20})}
    if status != "RUNNING":
        desc["stopDate"] = START + timedelta(seconds=95)
    if output is not None:
        desc["output"] = json.dumps(output)
    return {**desc, **extra}


# --- options ---------------------------------------------------------------------------------------


def test_fix_kinds_are_checked_repeatable_or_comma_separated_without_repeats():
    assert reconcile.check_kinds(["missing_profile", "email_drift,missing_profile"]) == ["missing_profile",
                                                                                      "email_drift"]
    assert reconcile.check_kinds([]) == []


def test_an_unknown_kind_names_every_valid_one():
    with pytest.raises(UsageError) as raised:
        reconcile.check_kinds(["missing_profile", "missing_profiles"])
    message = str(raised.value)
    assert "'missing_profiles'" in message and all(kind in message for kind in FINDING_KINDS)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scope": "some"}, "--scope 'some'"),
    ({"shards": 0}, "--shards must be between 1 and 10000"),
    ({"shards": 10_001}, "--shards"),
    ({"rate": 0.0}, "--rate must be more than zero"),
])
def test_bad_options_are_usage_errors(kwargs, message):
    options = {"dry_run": False, "fix": [], "scope": "all", "shards": None, "rate": None, **kwargs}
    with pytest.raises(UsageError, match=message):
        reconcile.check_options(**options)


def test_shards_and_rate_default_to_the_stack_parameters_else_the_template_defaults():
    assert reconcile.defaults(_stack()) == (16, 20.0)
    listed = _stack({"ReconcileShards": "100", "ReconcileStripeRequestsPerSecond": "80"})
    assert reconcile.defaults(listed) == (100, 80.0)
    options = reconcile.check_options(dry_run=True, fix=["missing_profile"], scope="recent", shards=None, rate=5)
    assert options.resolved(reconcile.defaults(listed)).execution_input() == {
        "dryRun": True, "fix": ["missing_profile"], "scope": "recent", "shards": 100, "stripeRequestsPerSecond": 5}


def test_the_cli_refuses_an_unknown_kind_before_any_call():
    # No stack, no endpoint: a call would fail with another message (and another code).
    result = runner.invoke(app, ["reconcile", "run", "--fix", "bogus", "--wait", "--output", "json"],
                           env={"LINKFLOW_STACK": "", "COLUMNS": "200"})
    assert result.exit_code == EXIT_USAGE
    assert "--fix 'bogus': not a finding kind; expected one of missing_onboarding," in result.output


@pytest.mark.parametrize("command", [("reconcile",), ("reconcile", "run"), ("reconcile", "list"),
                                     ("reconcile", "show")], ids=" ".join)
def test_help_shows_flags_without_a_type(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "--stack" in result.output


# --- starting and finding runs ---------------------------------------------------------------------


class FakeSfn:
    def __init__(self, taken: int = 0, existing: set[str] | None = None):
        self.taken, self.existing, self.started = taken, existing or set(), []

    def start_execution(self, stateMachineArn, name, input):
        if self.taken:
            self.taken -= 1
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": "taken"}}, "StartExecution")
        self.started.append((name, json.loads(input)))
        return {"executionArn": stateMachineArn.replace(":stateMachine:", ":execution:") + f":{name}"}

    def describe_execution(self, executionArn):
        if executionArn not in self.existing:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": "nope"}}, "DescribeExecution")
        return _desc(executionArn=executionArn)


def test_a_run_is_named_by_its_utc_start_and_a_taken_name_gets_a_suffix():
    sfn = FakeSfn(taken=1)
    options = reconcile.RunOptions(dry_run=True, fix=[], scope="all", shards=4, rate=20.0)
    arn = reconcile.start(sfn, _stack(), options, now=datetime(2026, 12, 2, 2, 31, 24, tzinfo=UTC))
    assert arn == f"{PREFIX}:execution:linkflow-prod-reconcile:manual-20261202T023124Z-1"
    assert sfn.started == [("manual-20261202T023124Z-1", {"dryRun": True, "fix": [], "scope": "all", "shards": 4,
                                                          "stripeRequestsPerSecond": 20.0})]


def test_a_run_is_found_by_name_or_arn_and_only_in_the_reconcile_machine():
    arn = f"{PREFIX}:execution:linkflow-prod-reconcile:nightly"
    sfn = FakeSfn(existing={arn})
    assert reconcile.resolve(sfn, _stack(), "nightly")["executionArn"] == arn
    assert reconcile.resolve(sfn, _stack(), arn)["executionArn"] == arn
    with pytest.raises(UsageError, match="unknown reconcile run 'other'"):
        reconcile.resolve(sfn, _stack(), "other")
    with pytest.raises(UsageError, match="not a run of linkflow-prod-reconcile"):
        reconcile.resolve(sfn, _stack(), f"{PREFIX}:execution:linkflow-prod-onboarding:sub-1")
    without = StackResources.from_outputs("old", {k: v for k, v in OUTPUTS.items()
                                                  if not k.startswith("Reconcile")})
    with pytest.raises(UsageError, match="no reconcile state machine"):
        reconcile.resolve(sfn, without, "nightly")


# --- progress --------------------------------------------------------------------------------------


def test_progress_is_the_snapshot_until_the_map_run_exists_then_its_item_counts():
    assert reconcile.progress("RUNNING", None) == reconcile.Progress("snapshot")
    counts = {"pending": 8, "running": 4, "succeeded": 3, "failed": 1, "timedOut": 0, "aborted": 0, "total": 16}
    where = reconcile.progress("RUNNING", counts)
    assert (where.phase, where.done, where.total, where.failed) == ("compare and repair", 4, 16, 1)
    assert where.description == "compare and repair (1 failed)"
    assert reconcile.progress("RUNNING", {**counts, "pending": 0, "running": 0, "succeeded": 16, "failed": 0}).phase \
        == "report"
    assert reconcile.progress("SUCCEEDED", {**counts, "succeeded": 16}).phase == "done"


def test_the_bar_goes_to_its_console_with_the_phase_and_the_shards():
    err = io.StringIO()
    with commands.RunProgress(Console(file=err, width=120, force_terminal=False)) as bar:
        bar.show(reconcile.Progress("snapshot"))
        bar.show(reconcile.Progress("compare and repair", done=12, total=16))
    text = err.getvalue()
    assert "reconcile" in text and "compare and repair" in text and "12/16" in text


def test_waiting_follows_the_map_run_until_the_run_ends(monkeypatch):
    monkeypatch.setattr(commands.time, "sleep", lambda _s: None)
    statuses = iter(["RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"])
    map_runs = iter([None, {"itemCounts": {"succeeded": 2, "total": 4}},
                     {"itemCounts": {"succeeded": 4, "total": 4}}, {"itemCounts": {"succeeded": 4, "total": 4}}])

    class Sfn:
        def describe_execution(self, executionArn):
            return _desc(status=next(statuses))

    class Op:
        sfn = Sfn()

    monkeypatch.setattr(reconcile, "map_run", lambda _sfn, _arn: next(map_runs))
    seen: list[reconcile.Progress] = []
    desc = commands._wait_run(Op(), "arn", 0.01, 60, seen.append)  # type: ignore[arg-type]
    assert desc["status"] == "SUCCEEDED"
    assert [p.phase for p in seen] == ["snapshot", "compare and repair", "report", "done"]
    assert [(p.done, p.total) for p in seen[1:]] == [(2, 4), (4, 4), (4, 4)]


# --- the report ------------------------------------------------------------------------------------


def test_the_document_is_snake_case_with_every_kind_and_the_fields_the_issue_names():
    doc = reconcile.report_document(_desc(output=_report()), _report(), report_source="execution output")
    for field in ("execution_arn", "status", "users_scanned", "findings", "fixed", "refused", "stripe_requests"):
        assert field in doc
    assert not any(any(c.isupper() for c in key) for key in doc)
    assert doc["status"] == "SUCCEEDED" and doc["execution_status"] == "SUCCEEDED"
    assert doc["users_scanned"] == 1200 and doc["stripe_requests"] == 31 and doc["duration_s"] == 95
    assert list(doc["findings"]) == list(FINDING_KINDS) and doc["findings"]["missing_profile"] == 3
    assert doc["refusals"][0]["reason"].startswith("n***@example.com")  # emails masked
    assert (doc["scope"], doc["shards"], doc["stripe_requests_per_second"]) == ("all", 16, 20)
    assert reconcile.totals(doc) == {"findings": 5, "fixed": 4, "refused": 1, "failed": 0}
    assert not reconcile.problems(doc)


def test_a_failed_fix_or_a_failed_run_is_a_problem():
    failing = _report(status="FAILED", failed=_counts(missing_customer=2))
    doc = reconcile.report_document(_desc(output=failing), failing)
    assert (doc["status"], doc["execution_status"]) == ("FAILED", "SUCCEEDED") and reconcile.problems(doc)
    failed_run = reconcile.report_document(_desc(status="FAILED", error="States.ExceedToleratedFailureThreshold",
                                                 cause="shard-0003 failed"), None, failed_state="CompareAndRepair")
    assert failed_run["status"] == "FAILED" and failed_run["findings"] is None
    assert failed_run["failed_state"] == "CompareAndRepair" and reconcile.problems(failed_run)
    assert reconcile.totals(failed_run)["findings"] is None
    running = reconcile.report_document(_desc(status="RUNNING"), None)
    assert running["status"] == "RUNNING" and not reconcile.problems(running)


def test_the_map_run_counts_are_carried_snake_case():
    map_desc = {"mapRunArn": "arn:map", "status": "FAILED",
                "itemCounts": {"pending": 0, "running": 0, "succeeded": 15, "failed": 1, "timedOut": 0,
                               "aborted": 0, "total": 16, "resultsWritten": 16}}
    doc = reconcile.report_document(_desc(status="FAILED"), None, map_desc)  # type: ignore[arg-type]
    assert doc["map_run"] == {"map_run_arn": "arn:map", "status": "FAILED", "pending": 0, "running": 0,
                              "succeeded": 15, "failed": 1, "timed_out": 0, "aborted": 0, "total": 16,
                              "results_written": 16}


def _printed(doc) -> str:
    out = io.StringIO()
    render.show_reconcile(Console(file=out, width=200, force_terminal=False), doc)
    return out.getvalue()


def test_the_table_shows_each_kind_the_refusals_and_for_a_failed_run_how_to_redrive():
    text = _printed(reconcile.report_document(_desc(output=_report()), _report(), report_source="execution output"))
    assert "manual-1  reconcile  SUCCEEDED" in text and "1,200 scanned" in text and "Stripe requests 31" in text
    row = next(line for line in text.splitlines() if line.startswith("email_drift"))
    assert row.split() == ["email_drift", "2", "1", "1", "0"]
    assert "refused email_drift u-1: n***@example.com is claimed by another account" in text
    failed = _printed(reconcile.report_document(_desc(status="FAILED", error="InjectedFault", cause="boom"), None,
                                                failed_state="CompareAndRepair"))
    assert "no report" in failed and "run FAILED at CompareAndRepair: InjectedFault: boom" in failed
    assert "linkflow executions redrive manual-1" in failed


def test_the_runs_table_has_totals_and_dashes_where_a_run_has_no_report():
    rows = [{"name": "manual-2", "status": "RUNNING", "start_date": "2026-12-01T03:00:00Z", "duration_s": 12.0,
             "dry_run": True, "users_scanned": None, "findings_total": None, "fixed_total": None,
             "refused_total": None, "failed_total": None},
            {"name": "manual-1", "status": "SUCCEEDED", "start_date": "2026-12-01T02:00:00Z", "duration_s": 95.0,
             "dry_run": False, "users_scanned": 1200, "findings_total": 5, "fixed_total": 4, "refused_total": 1,
             "failed_total": 0}]
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False).print(render.reconcile_runs_table(rows))
    lines = out.getvalue().splitlines()
    assert lines[1].split()[:2] == ["manual-2", "RUNNING"] and lines[1].split()[-5:] == ["-"] * 5
    assert lines[2].split()[-5:] == ["1,200", "5", "4", "1", "0"]
