"""``linkflow reconcile`` as an operator runs it: a subprocess against the session's local stack,
with the environment ``linkflow local up`` prints (AWS_ENDPOINT_URL, LINKFLOW_STACK, STRIPE_API_BASE).

The stack is shared with other tests, so the runs here are dry runs (they change nothing) and the
assertions are about this run's report, not about the whole pool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from linkflow_shared.reconcile.models import FINDING_KINDS

pytestmark = pytest.mark.timeout(180)


def _env(stack: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRIPE_", "LINKFLOW_"))}
    env.update(AWS_ENDPOINT_URL=stack.aws_url, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", LINKFLOW_STACK="linkflow-local", STRIPE_API_BASE=stack.stripe_url,
               COLUMNS="200")
    return env


def linkflow(stack: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linkflow.cli", *args], env=_env(stack), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=150)


def linkflow_all(stack: Any, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: linkflow(stack, *args), commands))


@pytest.fixture(scope="module")
def never_onboarded(stack) -> str:
    """A confirmed user whose onboarding never started (AdminCreateUser fires no trigger): a
    ``missing_onboarding`` finding for every run until someone fixes it."""
    cognito, pool = stack.client("cognito-idp"), stack.info["cognito"]["user_pool_id"]
    address = f"rc-cli.{uuid.uuid4().hex[:10]}@example.com"
    user = cognito.admin_create_user(UserPoolId=pool, Username=address, MessageAction="SUPPRESS",
                                     UserAttributes=[{"Name": "email", "Value": address},
                                                     {"Name": "email_verified", "Value": "true"}])["User"]
    cognito.admin_set_user_password(UserPoolId=pool, Username=user["Username"], Password="Corr3ct-Horse-Battery!",
                                    Permanent=True)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


@pytest.fixture(scope="module")
def dry_run(stack, never_onboarded) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = linkflow(stack, "reconcile", "run", "--dry-run", "--wait", "--output", "json", "--shards", "2",
                      "--interval", "0.2")
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result, json.loads(result.stdout)  # stdout is the JSON report and nothing else


def test_a_dry_run_waits_and_prints_the_json_report_alone(stack, dry_run):
    result, report = dry_run
    assert report["execution_arn"].startswith("arn:aws:states:") and ":linkflow-local-reconcile:manual-" in \
        report["execution_arn"]
    assert (report["status"], report["execution_status"], report["dry_run"]) == ("SUCCEEDED", "SUCCEEDED", True)
    assert report["users_scanned"] >= 1 and isinstance(report["stripe_requests"], int)
    assert set(report["findings"]) == set(FINDING_KINDS) and report["findings"]["missing_onboarding"] >= 1
    assert set(report["fixed"].values()) == {0}, report["fixed"]
    assert report["refused"] == dict.fromkeys(FINDING_KINDS, 0) and report["shards"] == 2
    assert report["map_run"]["total"] == 2 and report["map_run"]["succeeded"] == 2
    # Progress went to stderr, with the ARN: never into the JSON.
    assert "started arn:aws:states:" in result.stderr and "reconcile" in result.stderr
    desc = stack.client("stepfunctions").describe_execution(executionArn=report["execution_arn"])
    assert json.loads(desc["input"]) == {"dryRun": True, "fix": [], "scope": "all", "shards": 2,
                                         "stripeRequestsPerSecond": 20.0}


def test_list_and_show_give_the_run_and_its_report(stack, dry_run):
    _, report = dry_run
    name = report["execution_arn"].rsplit(":", 1)[1]
    listed, table, shown, shown_table = linkflow_all(
        stack, ("reconcile", "list", "--output", "json"), ("reconcile", "list"),
        ("reconcile", "show", name, "--output", "json"), ("reconcile", "show", report["execution_arn"]))
    for result in (listed, table, shown, shown_table):
        assert result.returncode == 0, (result.stdout, result.stderr)

    row = next(r for r in json.loads(listed.stdout)["runs"] if r["name"] == name)
    assert (row["status"], row["dry_run"], row["fixed_total"]) == ("SUCCEEDED", True, 0)
    assert row["findings_total"] == sum(report["findings"].values()) and row["users_scanned"] == report[
        "users_scanned"]
    line = next(line for line in table.stdout.splitlines() if name in line)
    assert "SUCCEEDED" in line and line.split()[-4] == f"{row['findings_total']:,}"

    doc = json.loads(shown.stdout)
    for field in ("execution_arn", "status", "users_scanned", "findings", "fixed", "refused", "stripe_requests"):
        assert doc[field] == report[field], field
    assert doc["report_source"] == "execution output"
    assert f"{name}  reconcile  SUCCEEDED  dry run" in shown_table.stdout
    kind_row = next(line for line in shown_table.stdout.splitlines() if line.startswith("missing_onboarding"))
    assert kind_row.split()[1:] == [f"{report['findings']['missing_onboarding']:,}", "0", "0", "0"]


def test_a_table_run_prints_its_arn_then_the_report(stack, never_onboarded):
    result = linkflow(stack, "reconcile", "run", "--dry-run", "--wait", "--shards", "1", "--interval", "0.2")
    assert result.returncode == 0, (result.stdout, result.stderr)
    first, *rest = result.stdout.splitlines()
    assert first.startswith("arn:aws:states:") and ":execution:linkflow-local-reconcile:manual-" in first
    assert any(line.startswith("missing_onboarding") for line in rest)
    assert "reconcile" in result.stderr  # the progress bar


def test_an_unknown_fix_kind_is_a_usage_error_naming_the_valid_ones(stack):
    result = linkflow(stack, "reconcile", "run", "--fix", "missing_profile", "--fix", "misising_profile")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--fix 'misising_profile': not a finding kind; expected one of" in result.stderr
    assert all(kind in result.stderr for kind in FINDING_KINDS)


def test_show_of_an_unknown_run_is_a_usage_error(stack):
    result = linkflow(stack, "reconcile", "show", "manual-19990101T000000Z")
    assert result.returncode == 2 and "unknown reconcile run 'manual-19990101T000000Z'" in result.stderr
