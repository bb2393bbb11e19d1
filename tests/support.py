"""Helpers the workflow and e2e tests share: waiting on executions, reading history, signing up."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"


def wait_for_execution(sfn: Any, arn: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] in TERMINAL:
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {arn} still {desc['status']} after {timeout}s")
        time.sleep(0.02)


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return events


def entered_states(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def admin(stack: Any, method: str, name: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"{stack.aws_url}/_linkflow/{name}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def stripe_admin(stack: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(f"{stack.stripe_url}/_emulator/{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def onboarding_arn(stack: Any) -> str:
    return stack.info["outputs"]["OnboardingStateMachineArn"]


def sign_up(stack: Any, email: str, given: str = "Ada", family: str = "Lovelace") -> str:
    cognito = stack.client("cognito-idp")
    resp = cognito.sign_up(
        ClientId=stack.info["cognito"]["client_id"], Username=email, Password="Corr3ct-Horse-Battery!",
        UserAttributes=[{"Name": "given_name", "Value": given}, {"Name": "family_name", "Value": family}],
    )
    return resp["UserSub"]


def confirm(stack: Any, sub: str) -> None:
    stack.client("cognito-idp").admin_confirm_sign_up(UserPoolId=stack.info["cognito"]["user_pool_id"], Username=sub)


def execution_arn_for(stack: Any, name: str) -> str:
    return onboarding_arn(stack).replace(":stateMachine:", ":execution:") + f":{name}"
