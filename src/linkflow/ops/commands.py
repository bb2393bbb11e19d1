"""What each operator command does; :mod:`linkflow.ops.cli` only declares the options.

Every command checks its arguments before it talks to AWS, prints tables (or one JSON document
with ``--output json``) on stdout, one ``error: ...`` line on stderr when it cannot do its job, and
returns its exit code (see :mod:`linkflow.ops.errors`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import reconcile, render
from .clients import Clients
from .errors import EXIT_OK, EXIT_PROBLEMS, NotConfirmed, OpsError, UsageError, explain
from .executions import STATUSES, ExecutionSummary, check_ref, list_executions, resolve, timeline, where_it_failed
from .redrive import (
    DEFAULT_MAX,
    DEFAULT_RATE,
    REDRIVEN,
    Backoff,
    RedriveReport,
    Selection,
    check,
    pacing,
    redrive,
    redrive_many,
    select,
)
from .since import parse_since
from .stack import MACHINES, StackResources, load_stack
from .timeline import FAILED_STATUSES, event_line, iso

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef, HistoryEventTypeDef

TERMINAL = {"SUCCEEDED", *FAILED_STATUSES}
OUTPUTS = ("table", "json")


class Operator:
    """What every command needs: clients, the stack (loaded on first use), where to print."""

    def __init__(self, stack_name: str | None, output: str) -> None:
        self.stack_name = stack_name
        self.json = output == "json"
        self.clients = Clients()
        self.out = render.console()
        self._stack: StackResources | None = None

    @property
    def stack(self) -> StackResources:
        if self._stack is None:
            self._stack = load_stack(self.clients.cloudformation, self.stack_name)
        return self._stack

    @property
    def sfn(self) -> SFNClient:
        return self.clients.sfn


def run(stack: str | None, output: str, command: Callable[[Operator], int]) -> int:
    """Run ``command``; known failures become one line on stderr and their exit code (bugs keep
    their traceback)."""
    clients: Clients | None = None
    try:
        if output not in OUTPUTS:
            raise UsageError(f"--output {output!r}: expected table or json")
        op = Operator(stack, output)
        clients = op.clients
        return command(op)
    except OpsError as exc:
        return _failed(exc)
    except Exception as exc:
        explained = explain(exc, clients.stripe_base, clients.aws_endpoint) if clients else explain(exc)
        if explained is None:
            raise
        return _failed(explained)


def _failed(exc: OpsError) -> int:
    sys.stderr.write(f"error: {exc}\n")
    return exc.exit_code


def check_machine(machine: str | None) -> str | None:
    if machine is not None and machine not in MACHINES:
        raise UsageError(f"--machine {machine!r}: expected one of {', '.join(MACHINES)}")
    return machine


def check_since(since: str | None) -> datetime | None:
    return parse_since(since) if since is not None else None


# --- executions list -------------------------------------------------------------------------


def list_command(stack: str | None, output: str, *, machine: str | None, status: str | None, since: str | None,
                 limit: int) -> int:
    def command(op: Operator) -> int:
        wanted = status.upper() if status else None
        if wanted is not None and wanted not in STATUSES:
            raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        selected, after = check_machine(machine), check_since(since)
        found = list_executions(op.sfn, op.stack, machine=selected, statuses=(wanted,) if wanted else (),
                                since=after, limit=limit)
        rows = [s.to_json() for s in found]
        return print_rows(op, "executions", rows, render.executions_table, "no executions")

    return run(stack, output, command)


# --- executions show -------------------------------------------------------------------------


def _summary(machine: str, desc: DescribeExecutionOutputTypeDef) -> ExecutionSummary:
    return ExecutionSummary(arn=desc["executionArn"], name=desc["name"], machine=machine, status=desc["status"],
                            start=desc["startDate"], stop=desc.get("stopDate"),
                            redrive_count=int(desc.get("redriveCount") or 0), error=desc.get("error"))


def _parsed(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def print_rows(op: Operator, key: str, rows: list[dict[str, Any]], table: Callable[[list[dict[str, Any]]], Any],
               empty: str) -> int:
    """A listing: ``{"stack", "count", key: rows}`` as JSON, else the table (or ``empty``)."""
    if op.json:
        render.print_json({"stack": op.stack.name, "count": len(rows), key: rows})
    else:
        op.out.print(table(rows) if rows else empty)
    return EXIT_OK


def show_document(op: Operator, machine: str, desc: DescribeExecutionOutputTypeDef, page_size: int,
                  with_io: bool) -> dict[str, Any]:
    """The ``executions show`` document: DescribeExecution plus the timeline of the whole history, masked."""
    from .masking import mask  # pydantic and the shared package load only for the commands that print I/O

    tl = timeline(op.sfn, desc["executionArn"], page_size)
    doc: dict[str, Any] = {
        **_summary(machine, desc).to_json(),
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
    masked: dict[str, Any] = mask(doc)
    return masked


def _new_events(sfn: SFNClient, arn: str, after_id: int) -> list[HistoryEventTypeDef]:
    """Events with an id above ``after_id``, read from the end of the history backwards."""
    fresh: list[HistoryEventTypeDef] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": 100}):
        newer = [e for e in page["events"] if e["id"] > after_id]
        fresh.extend(newer)
        if len(newer) < len(page["events"]):
            break
    return sorted(fresh, key=lambda e: e["id"])


def wait_for(op: Operator, arn: str, interval: float, timeout: float,
             stream: bool) -> DescribeExecutionOutputTypeDef:
    """Poll until the execution ends or ``timeout`` passes; print new history events if ``stream``."""
    from .masking import mask_text

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
                                 f"{escape(mask_text(line))}")
        if desc["status"] in TERMINAL or time.monotonic() >= deadline:
            return desc
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def _graph(op: Operator, desc: DescribeExecutionOutputTypeDef, doc: dict[str, Any], target: str,
           page_size: int) -> None:
    """``--graph``: the machine's ASL with this execution's path (Mermaid to stdout for ``-``)."""
    from pathlib import Path

    from . import graph

    definition = json.loads(op.sfn.describe_state_machine(stateMachineArn=desc["stateMachineArn"])["definition"])
    drawn = graph.build(definition, timeline(op.sfn, desc["executionArn"], page_size), doc.get("failed_state"))
    if target == "-":
        sys.stdout.write(graph.mermaid(drawn))
        return
    try:
        written = graph.render(drawn, Path(target))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
    render.console(stderr=True).print(f"graph written to {written}")


def show_command(stack: str | None, output: str, *, execution: str, with_io: bool, follow: bool, interval: float,
                 timeout: float, machine: str | None, page_size: int, graph: str | None = None) -> int:
    def command(op: Operator) -> int:
        if not 1 <= page_size <= 1000:
            raise UsageError("--page-size must be between 1 and 1000")
        if interval <= 0 or timeout <= 0:
            raise UsageError("--interval and --timeout must be more than zero")
        ref, selected = check_ref(execution), check_machine(machine)
        key, desc = resolve(op.sfn, op.stack, ref, selected)
        if follow and desc["status"] not in TERMINAL:
            desc = wait_for(op, desc["executionArn"], interval, timeout, stream=not op.json)
        doc = show_document(op, key, desc, page_size, with_io)
        if graph is not None:
            _graph(op, desc, doc, graph, page_size)
            if graph == "-":
                return EXIT_OK
        if op.json:
            render.print_json(doc)
        else:
            render.show_execution(op.out, doc, with_io)
        if follow and doc["status"] != "SUCCEEDED":
            if doc["status"] == "RUNNING" and not op.json:
                op.out.print(f"still RUNNING after {timeout:g} s")
            return EXIT_PROBLEMS
        return EXIT_OK

    return run(stack, output, command)


# --- executions redrive ----------------------------------------------------------------------


def _redrive_one(op: Operator, ref: str, machine: str | None, wait: bool, timeout: float) -> RedriveReport:
    key, desc = resolve(op.sfn, op.stack, ref, machine)
    execution = _summary(key, desc)
    report = RedriveReport()
    outcome = check(op.sfn, execution) or redrive(op.clients.sfn_single_shot, execution, Backoff(), report)
    report.outcomes.append(outcome)
    if wait and outcome.result == REDRIVEN:
        final = wait_for(op, execution.arn, 1.0, timeout, stream=False)
        outcome.reason = f"execution is {final['status']} after the redrive"
        if final["status"] != "SUCCEEDED":
            outcome.result = "failed"
    return report


@dataclass(frozen=True)
class BulkOptions:
    """``--all-failed`` and what goes with it."""

    since: datetime | None
    dry_run: bool
    yes: bool
    max_count: int
    rate: float


def _confirm(selection: Selection, max_count: int) -> None:
    """Show what a bulk redrive will do and ask; :class:`NotConfirmed` unless the answer is yes."""
    err = render.console(stderr=True)
    err.print(render.executions_table([e.to_json() for e in selection.chosen]))
    err.print(render.selection_note(len(selection.chosen), selection.left_out, selection.window_closed, max_count))
    if not typer.confirm(f"Redrive these {len(selection.chosen)} executions?", default=False, err=True):
        raise NotConfirmed("not confirmed: nothing redriven")


def _redrive_all(op: Operator, machine: str | None, bulk: BulkOptions) -> RedriveReport:
    candidates = list_executions(op.sfn, op.stack, machine=machine, statuses=("FAILED", "TIMED_OUT"),
                                 since=bulk.since, with_failure=False)
    selection = select(candidates, bulk.max_count)
    if selection.chosen and not bulk.dry_run and not bulk.yes:
        _confirm(selection, bulk.max_count)
    progress = Progress(TextColumn("redriving"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=render.console(stderr=True),
                        disable=op.json or not selection.chosen)
    with progress:
        task = progress.add_task("", total=len(selection.chosen))
        report = redrive_many(op.sfn, op.clients.sfn_single_shot, selection.chosen, dry_run=bulk.dry_run,
                              pace=pacing(bulk.rate),
                              on_done=lambda o: progress.update(task, advance=1, description=f"{o.name} {o.result}"))
    report.max_count, report.left_out, report.window_closed = bulk.max_count, selection.left_out, \
        selection.window_closed
    return report


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question (a name of its own so tests can be that someone)."""
    return sys.stdin.isatty()


_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def _check_redrive_args(execution: str | None, all_failed: bool, bulk: BulkOptions, max_given: bool,
                        rate_given: bool, wait: bool) -> None:
    flags = all_failed or bulk.dry_run or bulk.yes or wait
    if flags and execution is not None and execution.lower() in _BOOL_WORDS:
        raise UsageError(f"{execution!r} after a flag: --all-failed, --dry-run, --yes and --wait take no value "
                         f"(write --all-failed, not --all-failed {execution})")
    if all_failed == (execution is not None):
        raise UsageError("give one execution (ARN or name) or --all-failed, not both")
    if not all_failed and (bulk.since is not None or bulk.dry_run or bulk.yes or max_given or rate_given):
        raise UsageError("--since, --dry-run, --yes, --max and --rate go with --all-failed")
    if all_failed and wait:
        raise UsageError("--wait goes with one execution, not --all-failed")
    if bulk.max_count < 1:
        raise UsageError("--max must be at least 1")
    if bulk.rate <= 0:
        raise UsageError("--rate must be more than zero")
    if all_failed and not (bulk.dry_run or bulk.yes or stdin_is_terminal()):
        raise NotConfirmed("--all-failed changes executions: pass --yes to redrive without being asked (stdin is "
                           "not a terminal, nobody can answer), or --dry-run to see what it would redrive")


def redrive_command(stack: str | None, output: str, *, execution: str | None, all_failed: bool,
                    machine: str | None, since: str | None, dry_run: bool, yes: bool, max_count: int | None,
                    rate: float | None, wait: bool, timeout: float) -> int:
    def command(op: Operator) -> int:
        bulk = BulkOptions(since=check_since(since), dry_run=dry_run, yes=yes,
                           max_count=DEFAULT_MAX if max_count is None else max_count,
                           rate=DEFAULT_RATE if rate is None else rate)
        _check_redrive_args(execution, all_failed, bulk, max_count is not None, rate is not None, wait)
        selected = check_machine(machine)
        if execution is not None:
            report = _redrive_one(op, check_ref(execution), selected, wait, timeout)
            ok = all(o.result == REDRIVEN for o in report.outcomes)
        else:
            report = _redrive_all(op, selected, bulk)
            ok = report.ok
        doc = report.to_json()
        if op.json:
            render.print_json(doc)
        else:
            if doc["executions"]:
                op.out.print(render.redrive_table(doc))
            op.out.print(render.redrive_summary(doc))
        return EXIT_OK if ok else EXIT_PROBLEMS

    return run(stack, output, command)


# --- users show ------------------------------------------------------------------------------


def users_show_command(stack: str | None, output: str, *, user: str) -> int:
    def command(op: Operator) -> int:
        from .users import UserLookup, classify

        classify(user)  # refuse a malformed query before any call
        doc = UserLookup(op.clients, op.stack).lookup(user).to_json()
        if op.json:
            render.print_json(doc)
        else:
            render.show_users(op.out, doc)
        return EXIT_PROBLEMS if doc["drift"] else EXIT_OK

    return run(stack, output, command)


# --- reconcile -------------------------------------------------------------------------------


class RunProgress:
    """``reconcile run --wait``'s bar on stderr: the snapshot, then the Map Run's shards, then the report."""

    def __init__(self, console: Console | None = None) -> None:
        self.bar = Progress(TextColumn("reconcile"), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console or render.console(stderr=True))
        self.task = self.bar.add_task("snapshot", total=None)

    def show(self, where: reconcile.Progress) -> None:
        self.bar.update(self.task, description=where.description, total=where.total, completed=where.done)

    def __enter__(self) -> RunProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _wait_run(op: Operator, arn: str, interval: float, timeout: float,
              show: Callable[[reconcile.Progress], None]) -> DescribeExecutionOutputTypeDef:
    """Poll the run and its Map Run until it ends or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        desc = op.sfn.describe_execution(executionArn=arn)
        found = reconcile.map_run(op.sfn, arn)
        show(reconcile.progress(desc["status"], reconcile.item_counts(found)))
        if desc["status"] in TERMINAL or time.monotonic() >= deadline:
            return desc
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def run_document(op: Operator, desc: DescribeExecutionOutputTypeDef) -> dict[str, Any]:
    """The run's document: its output, else what a failed run left in the bucket, with the Map Run."""
    report, source = reconcile.output_report(desc), "execution output"
    if report is None and desc["status"] in FAILED_STATUSES and op.stack.reconcile_bucket:
        report, found = reconcile.stored_report(op.clients.s3, op.stack.reconcile_bucket, desc["name"])
        source = found or source
    failed_state = where_it_failed(op.sfn, desc["executionArn"])[0] if desc["status"] in FAILED_STATUSES else None
    return reconcile.report_document(desc, report, reconcile.map_run(op.sfn, desc["executionArn"]),
                                     report_source=source, failed_state=failed_state)


def _print_run(op: Operator, doc: dict[str, Any]) -> None:
    if op.json:
        render.print_json(doc)
    else:
        render.show_reconcile(op.out, doc)


def reconcile_run_command(stack: str | None, output: str, *, dry_run: bool, fix: list[str], wait: bool, scope: str,
                          shards: int | None, rate: float | None, interval: float, timeout: float) -> int:
    def command(op: Operator) -> int:
        options = reconcile.check_options(dry_run=dry_run, fix=fix, scope=scope, shards=shards, rate=rate)
        if interval <= 0 or timeout <= 0:
            raise UsageError("--interval and --timeout must be more than zero")
        options = options.resolved(reconcile.defaults(op.stack))
        arn = reconcile.start(op.sfn, op.stack, options)
        name = arn.rsplit(":", 1)[-1]
        err = render.console(stderr=True)
        if not wait:
            if op.json:
                render.print_json({"execution_arn": arn, "name": name, "status": "RUNNING",
                                   "input": options.execution_input()})
            else:
                op.out.print(arn, markup=False)
                err.print(f"follow it: linkflow reconcile show {name}   (or reconcile run --wait)", markup=False)
            return EXIT_OK
        if op.json:
            err.print(f"started {arn}", markup=False)
        else:
            op.out.print(arn, markup=False)
        with RunProgress(err) as bar:
            desc = _wait_run(op, arn, interval, timeout, bar.show)
        doc = run_document(op, desc)
        _print_run(op, doc)
        if desc["status"] not in TERMINAL:
            err.print(f"still {desc['status']} after {timeout:g} s: linkflow reconcile show {name}", markup=False)
            return EXIT_PROBLEMS
        return EXIT_PROBLEMS if reconcile.problems(doc) else EXIT_OK

    return run(stack, output, command)


def reconcile_show_command(stack: str | None, output: str, *, execution: str) -> int:
    def command(op: Operator) -> int:
        check_ref(execution)
        doc = run_document(op, reconcile.resolve(op.sfn, op.stack, execution))
        _print_run(op, doc)
        return EXIT_PROBLEMS if reconcile.problems(doc) else EXIT_OK

    return run(stack, output, command)


def reconcile_list_command(stack: str | None, output: str, *, limit: int) -> int:
    def command(op: Operator) -> int:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        rows = reconcile.list_runs(op.sfn, op.stack, limit)
        return print_rows(op, "runs", rows, render.reconcile_runs_table, "no reconcile runs")

    return run(stack, output, command)
