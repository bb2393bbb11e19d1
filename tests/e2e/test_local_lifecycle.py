"""The local stack's lifecycle as a user drives it: `linkflow local up --detach`, `status`, the
printed exports in a fresh shell (AWS CLI, plain boto3), Stripe faults from the CLI, `reset`,
`down`; and the CLI's help and option traps."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from support import free_port, unique_email

from linkflow.local.client import aws_client
from linkflow.local.process import pid_alive

ROOT = Path(__file__).resolve().parents[2]
LINKFLOW = [sys.executable, "-m", "linkflow.cli"]
PASSWORD = "Corr3ct-Horse-Battery!"


def linkflow(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINKFLOW, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _up_args(state_dir: Path) -> list[str]:
    return ["--aws-port", str(free_port()), "--stripe-port", str(free_port()), "--api-port", str(free_port()),
            "--state-dir", str(state_dir), "--wait-time-scale", "0.01"]


@pytest.fixture(scope="module")
def detached(tmp_path_factory):
    """A stack started with --detach; stopped with `local down` at the end, whatever happened."""
    state_dir = tmp_path_factory.mktemp("detached")
    up = linkflow("local", "up", "--detach", *_up_args(state_dir))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state_dir, up.stdout
    finally:
        linkflow("local", "down", "--state-dir", str(state_dir))


def _info(state_dir: Path) -> dict:
    return json.loads((state_dir / "local.json").read_text())


def test_detach_returns_once_ready_with_the_exports_the_log_and_the_pid(detached):
    state_dir, out = detached
    lines = out.splitlines()
    info = _info(state_dir)
    assert lines[-1] == "linkflow local stack ready"
    assert f"export AWS_ENDPOINT_URL={info['endpoints']['aws']}" in lines
    assert "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" in lines
    assert any(f"log: {state_dir}/local.log" in line for line in lines)
    pid = int((state_dir / "local.pid").read_text())
    assert pid == info["pid"] and pid_alive(pid)
    assert any(f"pid {pid}" in line and "linkflow local down" in line for line in lines)


def test_a_second_up_on_the_same_state_dir_is_refused(detached):
    state_dir, _ = detached
    again = linkflow("local", "up", "--detach", *_up_args(state_dir))
    assert again.returncode == 1
    assert "already runs" in again.stderr and "linkflow local down" in again.stderr
    assert pid_alive(_info(state_dir)["pid"])


def test_status_reports_pid_endpoints_and_uptime(detached):
    state_dir, _ = detached
    info = _info(state_dir)
    table = linkflow("local", "status", "--state-dir", str(state_dir))
    assert table.returncode == 0, table.stderr
    assert f"running, pid {info['pid']}, in the background" in table.stdout
    assert table.stdout.count("answers") == 3 and info["endpoints"]["stripe"] in table.stdout
    as_json = linkflow("local", "status", "--state-dir", str(state_dir), "--output", "json")
    status = json.loads(as_json.stdout)
    assert as_json.returncode == 0
    assert status["running"] and status["pid"] == info["pid"] and status["detached"]
    assert status["endpoints"] == info["endpoints"] and status["uptime_seconds"] >= 0


def _clean_env() -> dict[str, str]:
    """A user's fresh shell: no AWS settings of any kind (no ~/.aws either)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LINKFLOW_", "STRIPE_"))}
    return {**keep, "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


def test_the_printed_exports_work_for_the_aws_cli_and_plain_boto3(detached):
    state_dir, out = detached
    exports = "\n".join(line for line in out.splitlines() if line.startswith("export "))
    aws = shutil.which("aws")
    assert aws, "the AWS CLI (`aws`) is needed: pip install awscli"
    script = f"""{exports}
set -e
aws dynamodb list-tables --output json
aws stepfunctions list-state-machines --output json
{sys.executable} -c 'import boto3; print(boto3.client("dynamodb").list_tables()["TableNames"])'
{sys.executable} -m linkflow.cli executions list --output json
"""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, env=_clean_env(),
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "You must specify a region" not in result.stderr and "NoRegionError" not in result.stderr
    decoder = json.JSONDecoder()
    tables, end = decoder.raw_decode(result.stdout)
    machines, _ = decoder.raw_decode(result.stdout[end:].lstrip())
    assert "linkflow-local-UserProfiles" in tables["TableNames"]  # per-stage name, stage "local"
    assert {m["name"] for m in machines["stateMachines"]} >= {"linkflow-local-onboarding",
                                                              "linkflow-local-subscription-events"}
    assert "'linkflow-local-Entitlements'" in result.stdout  # boto3 found region and credentials


def test_the_exports_keep_credentials_already_set(detached):
    _, out = detached
    exports = "\n".join(line for line in out.splitlines() if line.startswith("export "))
    env = {**_clean_env(), "AWS_ACCESS_KEY_ID": "mine", "AWS_SECRET_ACCESS_KEY": "my-secret"}
    result = subprocess.run(["bash", "-c", f'{exports}\necho "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY"'],
                            capture_output=True, text=True, env=env, timeout=30)
    assert result.stdout.strip() == "mine my-secret"


def test_stripe_faults_from_the_cli(detached):
    state_dir, _ = detached
    info = _info(state_dir)
    client = stripe.StripeClient(info["stripe"]["api_key"], base_addresses={"api": info["endpoints"]["stripe"]},
                                 max_network_retries=0)
    added = linkflow("local", "fault", "--service", "stripe", "--method", "post", "--path", "/v1/customers",
                     "--status", "500", "--count", "2", "--state-dir", str(state_dir))
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["id"]
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"email": unique_email("fault")})
    assert client.v1.customers.list(params={"limit": 1}) is not None  # GET is not matched

    outage = linkflow("local", "fault", "--service", "stripe", "--status", "503", "--for", "600",
                      "--state-dir", str(state_dir))
    assert outage.returncode == 0, outage.stderr
    cleared = linkflow("local", "clear-faults", "--service", "stripe", "--state-dir", str(state_dir))
    assert cleared.returncode == 0 and "stripe faults cleared" in cleared.stdout
    assert client.v1.customers.create(params={"email": unique_email("after")}).id.startswith("cus_")

    wrong = linkflow("local", "fault", "--service", "stripe", "--operation", "PutItem", "--status", "500",
                     "--state-dir", str(state_dir))
    assert wrong.returncode == 2 and "--operation cannot be used with --service stripe" in wrong.stderr
    nothing = linkflow("local", "fault", "--service", "stripe", "--state-dir", str(state_dir))
    assert nothing.returncode == 2 and "--status" in nothing.stderr


def test_reset_empties_the_stack_and_down_stops_it_idempotently(tmp_path):
    up = linkflow("local", "up", "--detach", *_up_args(tmp_path))
    assert up.returncode == 0, up.stdout + up.stderr
    before = _info(tmp_path)
    cognito = aws_client("cognito-idp", before["endpoints"]["aws"])
    cognito.sign_up(ClientId=before["cognito"]["client_id"], Username=unique_email("reset"), Password=PASSWORD)
    assert cognito.list_users(UserPoolId=before["cognito"]["user_pool_id"])["Users"]

    reset = linkflow("local", "reset", "--state-dir", str(tmp_path))
    assert reset.returncode == 0, reset.stdout + reset.stderr
    after = _info(tmp_path)
    assert after["pid"] != before["pid"] and not pid_alive(before["pid"])
    assert after["endpoints"] == before["endpoints"]  # same ports: the exports still hold
    assert "linkflow local stack ready" in reset.stdout
    pools = cognito.list_user_pools(MaxResults=10)["UserPools"]
    assert [p["Id"] for p in pools] == [after["cognito"]["user_pool_id"]]
    assert cognito.list_users(UserPoolId=after["cognito"]["user_pool_id"])["Users"] == []

    down = linkflow("local", "down", "--state-dir", str(tmp_path))
    assert down.returncode == 0 and f"stopped (pid {after['pid']})" in down.stdout
    assert not pid_alive(after["pid"])
    assert not (tmp_path / "local.json").exists() and not (tmp_path / "local.pid").exists()
    again = linkflow("local", "down", "--state-dir", str(tmp_path))
    assert again.returncode == 0 and "no local stack runs" in again.stdout
    status = linkflow("local", "status", "--state-dir", str(tmp_path))
    assert status.returncode == 3 and "not running" in status.stdout
    assert linkflow("local", "reset", "--state-dir", str(tmp_path)).returncode == 3


def test_a_detached_stack_that_cannot_start_reports_why(tmp_path):
    broken = tmp_path / "template.yaml"
    broken.write_text("Resources:\n  Mystery:\n    Type: AWS::Kinesis::Stream\n")
    up = linkflow("local", "up", "--detach", "--template", str(broken), *_up_args(tmp_path / "s"))
    assert up.returncode == 1
    assert "exited" in up.stderr and "Mystery" in up.stderr
    assert not (tmp_path / "s" / "local.pid").exists()


def test_a_stale_state_file_of_a_dead_stack_is_not_running(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "local.json").write_text(json.dumps({"pid": int(dead.stdout), "endpoints": {}}))
    status = linkflow("local", "status", "--state-dir", str(tmp_path))
    assert status.returncode == 3
    assert not (tmp_path / "local.json").exists()


# --- the CLI's traps ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["local"], ["local", "up"], ["local", "federated-signin"], ["demo"],
                                     ["local", "fault"], ["executions", "redrive"]])
def test_help_shows_no_bool_metavar(command):
    result = linkflow(*command, "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout and "--help" in result.stdout


@pytest.mark.parametrize("where", ["top", "group", "command"])
def test_stack_is_accepted_before_or_after_the_subcommand(where):
    args = {"top": ["--stack", "mine", "executions", "list"], "group": ["executions", "--stack", "mine", "list"],
            "command": ["executions", "list", "--stack", "mine"]}[where]
    env = {**_clean_env(), "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"}
    result = subprocess.run([*LINKFLOW, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert "No such option" not in result.stderr
    assert result.returncode != 2, result.stderr  # a usage error would be 2; nothing answers the endpoint


def test_demo_keep_reads_like_the_runbook_and_leaves_its_stack_running(tmp_path):
    state_dir = tmp_path / "kept"
    try:
        # run from tmp_path: the demo draws its run into ./.linkflow, which test_demo's run also writes
        result = linkflow("demo", "--keep", "--state-dir", str(state_dir), timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        # internals stay in the stack's log: no moto payload, no line longer than a terminal's
        assert "FailureEventException" not in out + result.stderr
        # (the state dir's path is counted as short: its length is the machine's, not the demo's)
        assert max(len(line.replace(str(state_dir), "<dir>")) for line in out.splitlines()) <= 120
        assert "FailureEventException" in (state_dir / "local.log").read_text()
        # the failure parsed as `executions show` prints it; times, not epoch seconds
        assert "failed at CreateStripeCustomer with StripeUnavailable: " in out
        assert "injected by the Stripe emulator" in out and '{"errorType"' not in out
        assert not re.search(r'"(trial_expires_at|current_period_end)": \d{9,}', out)
        assert re.search(r"current_period_end\s*│\s*20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", out)
        # the stack is left running, with the exports and how to stop it
        info = _info(state_dir)
        assert f"export AWS_ENDPOINT_URL={info['endpoints']['aws']}" in out.splitlines()
        assert "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" in out.splitlines()
        assert f"linkflow local down --state-dir {state_dir}" in out
        assert linkflow("local", "status", "--state-dir", str(state_dir)).returncode == 0
        executions = aws_client("stepfunctions", info["endpoints"]["aws"]).list_executions(
            stateMachineArn=info["outputs"]["OnboardingStateMachineArn"])["executions"]
        assert len(executions) >= 2  # the demo's users are there to explore
    finally:
        linkflow("local", "down", "--state-dir", str(state_dir))
    assert linkflow("local", "status", "--state-dir", str(state_dir)).returncode == 3
