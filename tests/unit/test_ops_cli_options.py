"""The operator commands' options as typer parses them: flags, --stack on either side, confirmation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from linkflow.cli import app
from linkflow.ops import commands
from linkflow.ops.errors import EXIT_NOT_CONFIRMED
from linkflow.ops.executions import ExecutionSummary
from linkflow.ops.stack import StackResources

runner = CliRunner()
HELP = [("executions",), ("users",), ("executions", "list"), ("executions", "show"), ("executions", "redrive"),
        ("users", "show")]


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={"LINKFLOW_STACK": "", "COLUMNS": "200", **(env or {})})


@pytest.mark.parametrize("command", HELP, ids=" ".join)
def test_help_shows_flags_without_a_type(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--stack" in result.output


def test_the_redrive_help_documents_the_exit_codes_and_the_new_options():
    text = " ".join(invoke("executions", "redrive", "--help").output.split())
    for words in ("--yes", "--max", "--rate", "--dry-run", "Exit 4", "not confirmed"):
        assert words in text


@pytest.mark.parametrize("value", ["true", "false", "yes"])
def test_a_value_after_a_flag_says_flags_take_none(value):
    result = invoke("executions", "redrive", "--all-failed", value)
    assert result.exit_code == 2
    assert f"write --all-failed, not --all-failed {value}" in result.output
    assert "not both" not in result.output


@pytest.fixture
def seen(monkeypatch):
    """The stack each command would use, without talking to AWS."""
    got: list[str | None] = []

    def fake(stack, output, **_kw):
        got.append(stack)
        return 0

    for name in ("list_command", "show_command", "redrive_command", "users_show_command"):
        monkeypatch.setattr(commands, name, fake)
    return got


@pytest.mark.parametrize(("args", "env", "stack"), [
    (("executions", "--stack", "before", "list"), {}, "before"),
    (("executions", "list", "--stack", "after"), {}, "after"),
    (("executions", "--stack", "before", "list", "--stack", "after"), {}, "after"),
    (("executions", "list"), {"LINKFLOW_STACK": "env"}, "env"),
    (("executions", "--stack", "before", "show", "x"), {"LINKFLOW_STACK": "env"}, "before"),
    (("executions", "show", "x", "--stack", "after"), {"LINKFLOW_STACK": "env"}, "after"),
    (("executions", "--stack", "before", "redrive", "x"), {}, "before"),
    (("users", "--stack", "before", "show", "someone@example.com"), {}, "before"),
    (("users", "show", "someone@example.com", "--stack", "after"), {"LINKFLOW_STACK": "env"}, "after"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_stack_goes_before_or_after_the_subcommand(seen, args, env, stack):
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    assert seen == [stack]


# --- --all-failed asks first ---------------------------------------------------------------------

NOW = datetime.now(UTC)
STACK = StackResources.from_outputs("s", {
    "UserPoolId": "p", "UserProfilesTableName": "P", "EntitlementsTableName": "E", "StripeSecretName": "s",
    "OnboardingStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:onb"})


@pytest.fixture
def failed_executions(monkeypatch):
    """Three failed executions listed, every redrive recorded instead of made."""
    executions = [ExecutionSummary(arn=f"arn:{n}", name=n, machine="onboarding", status="FAILED",
                                   start=NOW - timedelta(hours=i + 1), stop=NOW - timedelta(hours=i))
                  for i, n in enumerate(("c", "b", "a"))]
    redriven: list[list[str]] = []
    monkeypatch.setattr(commands, "load_stack", lambda *_: STACK)
    monkeypatch.setattr(commands, "list_executions", lambda *_a, **_k: list(executions))
    monkeypatch.setattr(commands, "redrive_many",
                        lambda _s, _r, chosen, **_k: redriven.append([e.name for e in chosen]) or
                        commands.RedriveReport(dry_run=_k["dry_run"]))
    return redriven


AWS_ENV = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}


def test_without_a_terminal_all_failed_needs_yes_and_does_nothing(failed_executions):
    result = invoke("executions", "redrive", "--all-failed", "--stack", "s", env=AWS_ENV)
    assert result.exit_code == EXIT_NOT_CONFIRMED, result.output
    assert "pass --yes" in result.output and failed_executions == []


def test_on_a_terminal_all_failed_lists_and_asks(failed_executions, monkeypatch):
    monkeypatch.setattr(commands, "stdin_is_terminal", lambda: True)
    answers: list[str] = []
    monkeypatch.setattr(commands.typer, "confirm", lambda text, **_: answers.append(text) or False)
    result = invoke("executions", "redrive", "--all-failed", "--max", "2", "--stack", "s", env=AWS_ENV)
    assert result.exit_code == EXIT_NOT_CONFIRMED, result.output
    assert answers == ["Redrive these 2 executions?"] and failed_executions == []
    assert "1 more left out by --max 2" in result.output

    monkeypatch.setattr(commands.typer, "confirm", lambda text, **_: True)
    result = invoke("executions", "redrive", "--all-failed", "--max", "2", "--stack", "s", env=AWS_ENV)
    assert result.exit_code == 0, result.output
    assert failed_executions == [["a", "b"]]


def test_yes_and_dry_run_never_ask(failed_executions, monkeypatch):
    monkeypatch.setattr(commands.typer, "confirm", lambda *_a, **_k: pytest.fail("asked"))
    for flag in ("--yes", "--dry-run"):
        result = invoke("executions", "redrive", "--all-failed", flag, "--stack", "s", env=AWS_ENV)
        assert result.exit_code == 0, result.output
    assert failed_executions == [["a", "b", "c"]] * 2
