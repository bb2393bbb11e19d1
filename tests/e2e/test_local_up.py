"""`linkflow local up` as an operator runs it: a subprocess, its output, its files, its exit."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from support import free_port, unique_email, wait_for_execution, wait_until

from linkflow.local.client import LocalStackClient, execution_arn
from linkflow.local.process import pid_alive

ROOT = Path(__file__).resolve().parents[2]
LINKFLOW = [sys.executable, "-m", "linkflow.cli"]


def _start(args, cwd=ROOT):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(LINKFLOW + ["local", "up", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _read_until_ready(proc, timeout=90):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.strip() == "linkflow local stack ready":
            return lines
    proc.kill()
    raise AssertionError("stack never reported ready:\n" + "\n".join(lines))


def _ports():
    return {"aws": free_port(), "stripe": free_port(), "api": free_port()}


def _port_args(ports, state_dir):
    return ["--aws-port", str(ports["aws"]), "--stripe-port", str(ports["stripe"]), "--api-port", str(ports["api"]),
            "--state-dir", str(state_dir), "--wait-time-scale", "0.01"]


def test_local_up_serves_the_stack_and_stops_cleanly_on_sigterm(tmp_path):
    ports = _ports()
    proc = _start(_port_args(ports, tmp_path))
    try:
        lines = _read_until_ready(proc)
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{ports['aws']}" in lines
        assert "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" in lines  # boto3 and CLI v1 read the latter
        assert any(re.search(r"export LINKFLOW_STACK=linkflow-local\b", line) for line in lines)
        assert f"export STRIPE_API_BASE=http://127.0.0.1:{ports['stripe']}" in lines
        info = json.loads((tmp_path / "local.json").read_text())
        assert info["endpoints"]["aws"] == f"http://127.0.0.1:{ports['aws']}"

        # An operator's boto3, pointed at the stack, signs a user up; onboarding runs.
        kw = {"endpoint_url": info["endpoints"]["aws"], "region_name": "us-east-1",
              "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        cognito, sfn = boto3.client("cognito-idp", **kw), boto3.client("stepfunctions", **kw)
        sub = cognito.sign_up(ClientId=info["cognito"]["client_id"], Username=unique_email("up"),
                              Password="Corr3ct-Horse-Battery!")["UserSub"]
        cognito.admin_confirm_sign_up(UserPoolId=info["cognito"]["user_pool_id"], Username=sub)
        machine = info["outputs"]["OnboardingStateMachineArn"]
        arn = execution_arn(machine, sub)
        wait_until(lambda: any(e["executionArn"] == arn for e in
                               sfn.list_executions(stateMachineArn=machine)["executions"]), what="execution")
        assert wait_for_execution(sfn, arn)["status"] == "SUCCEEDED"

        # A client built from local.json reaches every endpoint's admin API.
        local = LocalStackClient.from_state_dir(tmp_path)
        assert local.ping() and local.invocation_counts() and local.stripe_requests()

        # The federated sign-in simulator works against the running stack.
        out = subprocess.run(LINKFLOW + ["local", "federated-signin", "--provider", "Google", "--email",
                                         unique_email("g"), "--state-dir", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["username"].startswith("Google_")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert not (tmp_path / "local.json").exists()


def test_port_in_use_is_reported_clearly(tmp_path):
    ports = _ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["aws"]))
        busy.listen()
        result = subprocess.run(LINKFLOW + ["local", "up", *_port_args(ports, tmp_path)], cwd=ROOT,
                                capture_output=True, text=True, timeout=90)
    assert result.returncode == 1
    assert f"port {ports['aws']}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _broken_template(tmp_path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    text = (ROOT / "template.yaml").read_text()
    for key in ("CodeUri: ", "DefinitionUri: ", "ContentUri: "):
        text = re.sub(rf"({key})(\S+)", lambda m: f"{m.group(1)}{ROOT / m.group(2)}", text)
    if replace:
        text = text.replace(*replace, 1)
    text = text.replace("\nResources:\n", "\nResources:\n" + extra, 1)
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", ["unknown-type", "missing-handler"])
def test_unprovisionable_template_fails_naming_the_resource(tmp_path, case):
    if case == "unknown-type":
        path = _broken_template(tmp_path, extra="  MysteryQueue:\n    Type: AWS::Kinesis::Stream\n    Properties: {}\n")
        wanted = "MysteryQueue"
    else:
        empty = tmp_path / "nocode"
        empty.mkdir()
        path = _broken_template(tmp_path, extra=(
            "  GhostFunction:\n    Type: AWS::Serverless::Function\n"
            f"    Properties:\n      CodeUri: {empty}\n      Handler: app.handler\n"))
        wanted = "GhostFunction"
    ports = _ports()
    result = subprocess.run(LINKFLOW + ["local", "up", "--template", str(path), *_port_args(ports, tmp_path / "s")],
                            cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert result.returncode == 1, result.stdout
    assert wanted in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_execution_leaves_the_console_quiet_and_its_internals_in_the_log(tmp_path):
    """moto logs a failed state with its whole error payload (kilobytes on one line): that goes to
    <state-dir>/local.log, the console keeps only what people read."""
    ports = _ports()
    proc = _start(_port_args(ports, tmp_path))
    try:
        _read_until_ready(proc)
        info = json.loads((tmp_path / "local.json").read_text())
        fault = subprocess.run(LINKFLOW + ["local", "fault", "--service", "stripe", "--path", "/v1/customers",
                                           "--status", "500", "--for", "300", "--state-dir", str(tmp_path)],
                               cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert fault.returncode == 0, fault.stderr
        kw = {"endpoint_url": info["endpoints"]["aws"], "region_name": "us-east-1",
              "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        cognito, sfn = boto3.client("cognito-idp", **kw), boto3.client("stepfunctions", **kw)
        sub = cognito.sign_up(ClientId=info["cognito"]["client_id"], Username=unique_email("quiet"),
                              Password="Corr3ct-Horse-Battery!")["UserSub"]
        cognito.admin_confirm_sign_up(UserPoolId=info["cognito"]["user_pool_id"], Username=sub)
        arn = execution_arn(info["outputs"]["OnboardingStateMachineArn"], sub)
        assert wait_for_execution(sfn, arn, timeout=120)["status"] == "FAILED"
    finally:
        proc.send_signal(signal.SIGTERM)
        console, _ = proc.communicate(timeout=30)
    assert "FailureEventException" not in console and "StripeUnavailable" not in console
    assert max(len(line) for line in console.splitlines()) < 200, console
    assert console.rstrip().endswith("stopping the local stack")
    log = (tmp_path / "local.log").read_text()
    assert "FailureEventException" in log and "StripeUnavailable" in log


def _worker_pids(state_dir: Path) -> list[int]:
    return [w["pid"] for w in LocalStackClient.from_state_dir(state_dir).workers()["data"]]



def test_local_logs_shows_lambdas_lines_follows_them_and_down_leaves_no_worker(tmp_path):
    """Handlers run in worker processes: `linkflow local logs <function>` (logical id or deployed
    name, --follow) prints what they printed between Lambda's START/END/REPORT lines, and
    `linkflow local down` stops every worker with the stack."""
    ports = _ports()
    up = subprocess.run(LINKFLOW + ["local", "up", "--detach", *_port_args(ports, tmp_path)], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"Lambda logs: {tmp_path}/logs/" in up.stdout
    try:
        info = json.loads((tmp_path / "local.json").read_text())
        assert info["logs"] == str((tmp_path / "logs").resolve())
        kw = {"endpoint_url": info["endpoints"]["aws"], "region_name": "us-east-1",
              "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        cognito = boto3.client("cognito-idp", **kw)
        cognito.sign_up(ClientId=info["cognito"]["client_id"], Username=unique_email("logs"),
                        Password="Corr3ct-Horse-Battery!")

        logs = subprocess.run(LINKFLOW + ["local", "logs", "PreSignUpFunction", "--state-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert logs.returncode == 0, logs.stderr
        lines = logs.stdout.splitlines()
        assert re.fullmatch(r"START RequestId: [0-9a-f-]{36} Version: \$LATEST", lines[0]), lines
        request_id = lines[0].split()[2]
        assert f"END RequestId: {request_id}" in lines
        (report,) = [line for line in lines if line.startswith("REPORT")]
        assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms"
                            r"\tMemory Size: \d+ MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms", report)
        same = subprocess.run(LINKFLOW + ["local", "logs", "linkflow-local-pre-sign-up", "--state-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert same.stdout == logs.stdout, "the deployed name names the same log"

        follow = subprocess.Popen(LINKFLOW + ["local", "logs", "PreSignUpFunction", "--follow", "--state-dir",
                                              str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            for _ in lines:
                follow.stdout.readline()  # what was there already
            cognito.sign_up(ClientId=info["cognito"]["client_id"], Username=unique_email("logs"),
                            Password="Corr3ct-Horse-Battery!")
            new = follow.stdout.readline()
            assert new.startswith("START RequestId: ") and new.split()[2] != request_id
            warm = ""
            while not warm.startswith("REPORT"):
                warm = follow.stdout.readline()
            assert "Init Duration" not in warm, "a warm worker served the second sign-up"
        finally:
            follow.terminate()
            follow.wait(timeout=10)

        unknown = subprocess.run(LINKFLOW + ["local", "logs", "NoSuchFunction", "--state-dir", str(tmp_path)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert unknown.returncode == 1 and "PreSignUpFunction" in unknown.stderr
        pids = _worker_pids(tmp_path)
        assert pids and all(pid_alive(pid) for pid in pids)
    finally:
        down = subprocess.run(LINKFLOW + ["local", "down", "--state-dir", str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "local stack stopped" in down.stdout, down.stdout + down.stderr
    assert not [pid for pid in pids if pid_alive(pid)], "no worker outlives the stack"
    after = subprocess.run(LINKFLOW + ["local", "logs", "linkflow-local-pre-sign-up", "--state-dir", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert after.returncode == 0 and after.stdout.startswith("START"), "the logs outlive the stack"
