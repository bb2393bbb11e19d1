"""Helpers the workflow and e2e tests share: waiting on executions, reading history, signing up.

The stack's admin API is reached through ``stack.admin`` (``linkflow.local.client.LocalStackClient``);
``admin`` and ``stripe_admin`` here are its raw calls under the names the tests know.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from linkflow.local.client import execution_arn
from linkflow.local.client import wait_for_execution as _wait_for_execution
from linkflow.local.process import free_port

__all__ = ["free_port"]  # tests import it from here


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"


def wait_for_execution(sfn: Any, arn: str, timeout: float = 30.0) -> dict[str, Any]:
    try:
        return _wait_for_execution(sfn, arn, timeout=timeout)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


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
    """``method /_linkflow/<name>`` on the stack's AWS endpoint: ``(status, body)``."""
    status, answer = stack.admin.aws_admin(method, name, body)
    return status, answer


def stripe_admin(stack: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """``method /_emulator/<path>`` on the stack's Stripe emulator: its JSON answer (raises on an error)."""
    return stack.admin.emulator(method, path, body)


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
    return execution_arn(onboarding_arn(stack), name)
