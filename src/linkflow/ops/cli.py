"""``linkflow executions ...``, ``linkflow users ...`` and ``linkflow reconcile ...``: the operator commands'
options.

Same code against AWS and the local stack: boto3 resolves the endpoint, region and credentials;
the stack's CloudFormation outputs name every resource. The work is in :mod:`linkflow.ops.commands`,
imported when a command runs so ``linkflow --help`` stays fast. Exit codes: :mod:`linkflow.ops.errors`.

``--stack`` goes before or after the subcommand (``linkflow executions --stack X list`` or
``linkflow executions list --stack X``); after wins, then before, then ``LINKFLOW_STACK``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Typer (0.2x) ships its own copy of click; these are the types its commands are declared with.
    from typer._click import Context, Parameter


def _untyped_flags(params: list[Parameter]) -> list[Parameter]:
    """Flags take no value: show none (typer prints ``<bool>`` beside every flag, --help included)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _untyped_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _untyped_flags(super().get_params(ctx))


executions_app = typer.Typer(cls=_Group, no_args_is_help=True,
                             help="List, inspect and redrive state machine executions.")
users_app = typer.Typer(cls=_Group, no_args_is_help=True,
                        help="One user across Cognito, DynamoDB and Stripe, drift flagged.")
reconcile_app = typer.Typer(cls=_Group, no_args_is_help=True,
                            help="Find and repair broken links between Cognito, DynamoDB and Stripe, at scale.")

_STACK_HELP = "CloudFormation stack whose outputs name the resources"
# The group reads LINKFLOW_STACK; a subcommand's own --stack (no envvar) overrides the group's.
GroupStackOpt = Annotated[str | None, typer.Option("--stack", envvar="LINKFLOW_STACK", show_envvar=True,
                                                   help=f"{_STACK_HELP}.")]
StackOpt = Annotated[str | None, typer.Option("--stack", help=f"{_STACK_HELP} (default: LINKFLOW_STACK).")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table (for people) or json (stable fields).")]
MachineOpt = Annotated[str | None, typer.Option("--machine", help="onboarding, subscription-events or reconcile "
                                                                  "(default: all).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Started within an age (30m, 2h, 7d) or since a "
                                                              "date/time (2026-11-01, 2026-11-01T09:30:00Z).")]
STATUS_HELP = "RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE."


def _stack(ctx: typer.Context, stack: str | None) -> str | None:
    """``--stack`` after the subcommand, else before it (or ``LINKFLOW_STACK``, which the group reads)."""
    if stack is not None or ctx.parent is None:
        return stack
    before = ctx.parent.params.get("stack")
    return before if isinstance(before, str) else None


@executions_app.callback()
def executions_group(stack: GroupStackOpt = None) -> None:
    """List, inspect and redrive state machine executions."""


@users_app.callback()
def users_group(stack: GroupStackOpt = None) -> None:
    """One user across Cognito, DynamoDB and Stripe, drift flagged."""


@executions_app.command("list", cls=_Command)
def list_command(
    ctx: typer.Context,
    machine: MachineOpt = None,
    status: Annotated[str | None, typer.Option("--status", help=STATUS_HELP)] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many executions (newest first).")] = 50,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Executions of the stack's state machines, newest first, with where failed ones stopped.

    Failed, timed-out and aborted ones show the days left to redrive them (14 days from when they stopped).
    """
    from .commands import list_command

    raise typer.Exit(list_command(_stack(ctx, stack), output, machine=machine, status=status, since=since, limit=limit))


@executions_app.command("show", cls=_Command)
def show_command(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="Execution ARN, or a name (looked up in every machine).")],
    io: Annotated[bool, typer.Option("--io", help="Add inputs and outputs (secrets and emails masked).")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream a running execution until it ends.")] = False,
    interval: Annotated[float, typer.Option(help="--follow: seconds between polls.")] = 2.0,
    timeout: Annotated[float, typer.Option(help="--follow: give up after this many seconds.")] = 900.0,
    machine: MachineOpt = None,
    page_size: Annotated[int, typer.Option(help="GetExecutionHistory page size (1-1000).")] = 1000,
    graph: Annotated[str | None, typer.Option("--graph", metavar="FILE", help="Draw the machine with this "
                                              "execution's path, retries, failed state and redrive: FILE.svg or "
                                              ".png, or - for Mermaid text on stdout.")] = None,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """The timeline of one execution: states, durations, retries, errors, compensations.

    Exit code 0; with --follow, 0 if it ends SUCCEEDED, 1 if it ends otherwise or is still running at --timeout.
    """
    from .commands import show_command

    raise typer.Exit(show_command(_stack(ctx, stack), output, execution=execution, with_io=io, follow=follow,
                                  interval=interval, timeout=timeout, machine=machine, page_size=page_size,
                                  graph=graph))


@executions_app.command("redrive", cls=_Command)
def redrive_command(
    ctx: typer.Context,
    execution: Annotated[str | None, typer.Argument(help="Execution ARN or name.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every FAILED or TIMED_OUT execution still "
                                                                   "inside its 14-day redrive window.")] = False,
    machine: MachineOpt = None,
    since: SinceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --all-failed: list what would be redriven, "
                                                             "change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --all-failed: do not ask (needed when stdin is "
                                                           "not a terminal).")] = False,
    max_count: Annotated[int | None, typer.Option("--max", help="With --all-failed: at most this many, oldest "
                                                                 "first; says how many were left out (default "
                                                                 "100).")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="With --all-failed: executions a second (token "
                                                               "bucket, one second of burst), under the "
                                                               "RedriveExecution and DescribeExecution quotas "
                                                               "(default 5).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="One execution: wait until it ends again.")] = False,
    timeout: Annotated[float, typer.Option(help="--wait: give up after this many seconds.")] = 300.0,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Redrive one execution or every failed one: same ARN, resumes at the failed state.

    --all-failed shows what it will redrive and asks first; without a terminal to ask on, it needs --yes.

    Exit 0 if every redrive started; 1 if one failed (one execution: or was not redrivable, or failed again).

    Exit 2 for bad input, 3 if AWS cannot be reached.

    Exit 4 if --all-failed was not confirmed (no --yes and stdin not a terminal, or answered no): nothing redriven.
    """
    from .commands import redrive_command

    raise typer.Exit(redrive_command(_stack(ctx, stack), output, execution=execution, all_failed=all_failed,
                                     machine=machine, since=since, dry_run=dry_run, yes=yes, max_count=max_count,
                                     rate=rate, wait=wait, timeout=timeout))


@users_app.command("show", cls=_Command)
def users_show_command(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Cognito sub (UUID), email, or Stripe customer id (cus_...).")],
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Cognito user, profile, entitlement and Stripe customer(s) joined, drift flagged.

    Exit 1 if the stores drifted apart (the drift list says how).
    """
    from .commands import users_show_command

    raise typer.Exit(users_show_command(_stack(ctx, stack), output, user=user))


@reconcile_app.callback()
def reconcile_group(stack: GroupStackOpt = None) -> None:
    """Find and repair broken links between Cognito, DynamoDB and Stripe, at scale."""


@reconcile_app.command("run", cls=_Command)
def reconcile_run_command(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing: report the findings, fixed all "
                                                             "zero.")] = False,
    fix: Annotated[list[str] | None, typer.Option("--fix", metavar="KIND",
                                                  help="Repair only this finding kind (repeatable, or "
                                                       "comma-separated; default: every kind but "
                                                       "orphan_records).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show progress (stderr) until the run ends, then its "
                                                      "report (stdout).")] = False,
    scope: Annotated[str, typer.Option("--scope", help="all, or recent (users created in the last "
                                                       "hour).")] = "all",
    shards: Annotated[int | None, typer.Option("--shards", help="Snapshot shards, one Map child each "
                                                                "(default: the stack's ReconcileShards, "
                                                                "16).")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="Stripe requests a second the run stays under "
                                                              "(default: the stack's "
                                                              "ReconcileStripeRequestsPerSecond, 20; 80 for "
                                                              "live keys).")] = None,
    interval: Annotated[float, typer.Option(help="--wait: seconds between polls.")] = 1.0,
    timeout: Annotated[float, typer.Option(help="--wait: give up waiting after this many seconds.")] = 3600.0,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Start a reconcile run (named manual-<UTC time>) and print its execution ARN.

    Exit 0 when the run started (with --wait: when it succeeded and no fix failed); 1 with --wait when
    a fix failed, the run failed or it still runs at --timeout.

    Exit 2 for bad input (an unknown --fix kind names the valid ones), 3 if AWS cannot be reached.
    """
    from .commands import reconcile_run_command

    raise typer.Exit(reconcile_run_command(_stack(ctx, stack), output, dry_run=dry_run, fix=fix or [], wait=wait,
                                           scope=scope, shards=shards, rate=rate, interval=interval,
                                           timeout=timeout))


@reconcile_app.command("list", cls=_Command)
def reconcile_list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs (newest first).")] = 20,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Past reconcile runs, newest first: status, start, duration, findings and fixes (totals)."""
    from .commands import reconcile_list_command

    raise typer.Exit(reconcile_list_command(_stack(ctx, stack), output, limit=limit))


@reconcile_app.command("show", cls=_Command)
def reconcile_show_command(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="The run's execution ARN or name.")],
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """One run's report: findings, fixes, refusals by kind; for a failed run, what it left and why it failed.

    Exit 0 if the run succeeded (or still runs); 1 if it failed or a fix failed.
    """
    from .commands import reconcile_show_command

    raise typer.Exit(reconcile_show_command(_stack(ctx, stack), output, execution=execution))


def register(app: typer.Typer) -> None:
    """Add the operator command groups to the ``linkflow`` app."""
    app.add_typer(executions_app, name="executions")
    app.add_typer(users_app, name="users")
    app.add_typer(reconcile_app, name="reconcile")


__all__ = ["register"]
