"""``linkflow executions ...`` and ``linkflow users ...``: the operator commands.

Same code against AWS and the local stack: boto3 resolves the endpoint, region and credentials;
the stack's CloudFormation outputs name every resource. Exit codes: see :mod:`linkflow.ops.errors`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import render
from .clients import Clients
from .errors import EXIT_OK, EXIT_PROBLEMS, OpsError, UsageError, explain
from .executions import STATUSES, ExecutionSummary, list_executions, resolve, timeline
from .masking import mask, mask_text
from .redrive import Backoff, RedriveReport, check, redrive, redrive_many
from .since import parse_since
from .stack import MACHINES, StackResources, load_stack
from .timeline import FAILED_STATUSES, event_line, iso
from .users import UserLookup

TERMINAL = {"SUCCEEDED", *FAILED_STATUSES}
OUTPUTS = ("table", "json")

executions_app = typer.Typer(no_args_is_help=True, help="List, inspect and redrive state machine executions.")
users_app = typer.Typer(no_args_is_help=True, help="One user across Cognito, DynamoDB and Stripe, drift flagged.")

StackOpt = Annotated[str | None, typer.Option("--stack", envvar="LINKFLOW_STACK", show_envvar=True,
                                              help="CloudFormation stack whose outputs name the resources.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table (for people) or json (stable fields).")]
MachineOpt = Annotated[str | None, typer.Option("--machine", help="onboarding or subscription-events (default: all).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Started within an age (30m, 2h, 7d) or since a "
                                                              "date/time (2026-11-01, 2026-11-01T09:30:00Z).")]


class Operator:
    """What every command needs: clients, the stack (loaded on first use), where to print."""

    def __init__(self, stack_name: str | None, output: str) -> None:
        if output not in OUTPUTS:
            raise UsageError(f"--output {output!r}: expected table or json")
        self.stack_name = stack_name
        self.json = output == "json"
        self.clients = Clients()
        self.out = render.console()
        self._stack: StackResources | None = None

    @property
    def stack(self) -> StackResources:
        if self._stack is None:
            self._stack = load_stack(self.clients.aws("cloudformation"), self.stack_name)
        return self._stack

    @property
    def sfn(self) -> Any:
        return self.clients.aws("stepfunctions")


@contextmanager
def _reported(clients: Clients | None = None) -> Iterator[None]:
    """Known failures become one line on stderr and their exit code; bugs keep their traceback."""
    try:
        yield
    except typer.Exit:
        raise
    except OpsError as exc:
        _exit_with(exc)
    except Exception as exc:
        explained = explain(exc, clients.stripe_base if clients else "https://api.stripe.com")
        if explained is None:
            raise
        _exit_with(explained)


def _exit_with(exc: OpsError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def _operator(stack: str | None, output: str) -> Operator:
    try:
        return Operator(stack, output)
    except OpsError as exc:
        _exit_with(exc)
        raise


def _machine(machine: str | None) -> str | None:
    if machine is not None and machine not in MACHINES:
        raise UsageError(f"--machine {machine!r}: expected one of {', '.join(MACHINES)}")
    return machine


def _since(since: str | None) -> datetime | None:
    return parse_since(since) if since is not None else None


# --- executions list -------------------------------------------------------------------------


@executions_app.command("list")
def list_command(
    machine: MachineOpt = None,
    status: Annotated[str | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many executions (newest first).")] = 50,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Executions of the stack's state machines, newest first, with where failed ones stopped."""
    op = _operator(stack, output)
    with _reported(op.clients):
        wanted_status = status.upper() if status else None
        if wanted_status is not None and wanted_status not in STATUSES:
            raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        found = list_executions(op.sfn, op.stack, machine=_machine(machine),
                                statuses=(wanted_status,) if wanted_status else (), since=_since(since), limit=limit)
        rows = [mask(s.to_json()) for s in found]
        if op.json:
            render.print_json({"stack": op.stack.name, "count": len(rows), "executions": rows})
        elif rows:
            op.out.print(render.executions_table(rows))
        else:
            op.out.print("no executions")


# --- executions show -------------------------------------------------------------------------


def _show_doc(op: Operator, machine: str, desc: dict[str, Any], page_size: int, with_io: bool) -> dict[str, Any]:
    tl = timeline(op.sfn, desc["executionArn"], page_size)
    summary = _summary(machine, desc)
    doc: dict[str, Any] = {
        **summary.to_json(),
        **tl.to_json(with_io),
        "status": desc["status"],
        "state_machine_arn": desc["stateMachineArn"],
        "redrive_status": desc.get("redriveStatus"),
        "redrive_status_reason": desc.get("redriveStatusReason"),
        "failed_state": tl.failed_state if desc["status"] in FAILED_STATUSES else None,
        "error": desc.get("error"),
        "cause": desc.get("cause"),
    }
    if with_io:
        doc["input"] = _parsed(desc.get("input"))
        doc["output"] = _parsed(desc.get("output"))
    return mask(doc)


def _parsed(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def _summary(machine: str, desc: dict[str, Any]) -> ExecutionSummary:
    return ExecutionSummary(arn=desc["executionArn"], name=desc["name"], machine=machine, status=desc["status"],
                            start=desc["startDate"], stop=desc.get("stopDate"),
                            redrive_count=int(desc.get("redriveCount") or 0), error=desc.get("error"))


def _new_events(sfn: Any, arn: str, after_id: int) -> list[dict[str, Any]]:
    """Events with an id above ``after_id``, read from the end of the history backwards."""
    fresh: list[dict[str, Any]] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": 100}):
        newer = [e for e in page["events"] if e["id"] > after_id]
        fresh.extend(newer)
        if len(newer) < len(page["events"]):
            break
    return sorted(fresh, key=lambda e: e["id"])


def _wait(op: Operator, arn: str, interval: float, timeout: float, stream: bool) -> dict[str, Any]:
    """Poll until the execution ends or ``timeout`` passes; print new history events if ``stream``."""
    deadline = time.monotonic() + timeout
    last_id = 0
    while True:
        desc = op.sfn.describe_execution(executionArn=arn)
        if stream:
            for event in _new_events(op.sfn, arn, last_id):
                last_id = event["id"]
                line = event_line(event)
                if line:
                    op.out.print(f"[dim]{render.short_time(iso(event['timestamp']))}[/] "
                                 f"{render.escape(mask_text(line))}")
        if desc["status"] in TERMINAL or time.monotonic() >= deadline:
            return desc
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


@executions_app.command("show")
def show_command(
    execution: Annotated[str, typer.Argument(help="Execution ARN, or a name (looked up in every machine).")],
    io: Annotated[bool, typer.Option("--io", help="Add inputs and outputs (secrets and emails masked).")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream a running execution until it ends.")] = False,
    interval: Annotated[float, typer.Option(help="--follow: seconds between polls.")] = 2.0,
    timeout: Annotated[float, typer.Option(help="--follow: give up after this many seconds.")] = 900.0,
    machine: MachineOpt = None,
    page_size: Annotated[int, typer.Option(help="GetExecutionHistory page size (1-1000).")] = 1000,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """The timeline of one execution: states, durations, retries, errors, compensations.

    Exit code 0; with --follow, 0 if it ends SUCCEEDED, 1 if it ends otherwise or is still running at --timeout.
    """
    op = _operator(stack, output)
    with _reported(op.clients):
        if not 1 <= page_size <= 1000:
            raise UsageError("--page-size must be between 1 and 1000")
        if interval <= 0 or timeout <= 0:
            raise UsageError("--interval and --timeout must be more than zero")
        key, desc = resolve(op.sfn, op.stack, execution, _machine(machine))
        if follow and desc["status"] not in TERMINAL:
            desc = _wait(op, desc["executionArn"], interval, timeout, stream=not op.json)
        doc = _show_doc(op, key, desc, page_size, io)
        if op.json:
            render.print_json(doc)
        else:
            render.show_execution(op.out, doc, io)
        if follow and doc["status"] != "SUCCEEDED":
            if doc["status"] == "RUNNING" and not op.json:
                op.out.print(f"still RUNNING after {timeout:g} s")
            raise typer.Exit(EXIT_PROBLEMS)


# --- executions redrive ----------------------------------------------------------------------


def _redrive_one(op: Operator, ref: str, machine: str | None, wait: bool, timeout: float) -> RedriveReport:
    key, desc = resolve(op.sfn, op.stack, ref, machine)
    execution = _summary(key, desc)
    report = RedriveReport()
    outcome = check(op.sfn, execution) or redrive(op.clients.aws("stepfunctions", single_shot=True), execution,
                                                  Backoff(), report)
    report.outcomes.append(outcome)
    if wait and outcome.result == "redriven":
        final = _wait(op, execution.arn, 1.0, timeout, stream=False)
        outcome.reason = f"execution is {final['status']} after the redrive"
        if final["status"] != "SUCCEEDED":
            outcome.result = "failed"
    return report


def _redrive_all(op: Operator, machine: str | None, since: datetime | None, dry_run: bool) -> RedriveReport:
    candidates = list_executions(op.sfn, op.stack, machine=machine, statuses=("FAILED", "TIMED_OUT"), since=since,
                                 with_failure=False)
    progress = Progress(TextColumn("redriving"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=render.console(stderr=True),
                        disable=op.json or not candidates)
    with progress:
        task = progress.add_task("", total=len(candidates))
        return redrive_many(op.sfn, op.clients.aws("stepfunctions", single_shot=True), candidates, dry_run=dry_run,
                            on_done=lambda o: progress.update(task, advance=1, description=f"{o.name} {o.result}"))


@executions_app.command("redrive")
def redrive_command(
    execution: Annotated[str | None, typer.Argument(help="Execution ARN or name.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every FAILED or TIMED_OUT execution.")] = False,
    machine: MachineOpt = None,
    since: SinceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --all-failed: list, redrive nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="One execution: wait until it ends again.")] = False,
    timeout: Annotated[float, typer.Option(help="--wait: give up after this many seconds.")] = 300.0,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Redrive one execution or every failed one: same ARN, resumes at the failed state.

    Exit 1 if a redrive failed (for one execution: also if it is not redrivable, or --wait saw it fail again).
    """
    op = _operator(stack, output)
    with _reported(op.clients):
        if all_failed == (execution is not None):
            raise UsageError("give one execution (ARN or name) or --all-failed, not both")
        if not all_failed and (since is not None or dry_run):
            raise UsageError("--since and --dry-run go with --all-failed")
        if all_failed and wait:
            raise UsageError("--wait goes with one execution, not --all-failed")
        if execution is not None:
            report = _redrive_one(op, execution, _machine(machine), wait, timeout)
            ok = all(o.result == "redriven" for o in report.outcomes)
        else:
            report = _redrive_all(op, _machine(machine), _since(since), dry_run)
            ok = report.ok
        doc = report.to_json()
        if op.json:
            render.print_json(doc)
        else:
            if doc["executions"]:
                op.out.print(render.redrive_table(doc))
            op.out.print(render.redrive_summary(doc))
        raise typer.Exit(EXIT_OK if ok else EXIT_PROBLEMS)


# --- users show ------------------------------------------------------------------------------


@users_app.command("show")
def users_show_command(
    user: Annotated[str, typer.Argument(help="Cognito sub (UUID), email, or Stripe customer id (cus_...).")],
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Cognito user, profile, entitlement and Stripe customer(s) joined, drift flagged.

    Exit 1 if the stores drifted apart (the drift list says how).
    """
    op = _operator(stack, output)
    with _reported(op.clients):
        doc = UserLookup(op.clients, op.stack).lookup(user).to_json()
        if op.json:
            render.print_json(doc)
        else:
            render.show_users(op.out, doc)
        raise typer.Exit(EXIT_PROBLEMS if doc["drift"] else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add the operator command groups to the ``linkflow`` app."""
    app.add_typer(executions_app, name="executions")
    app.add_typer(users_app, name="users")


__all__ = ["register"]
