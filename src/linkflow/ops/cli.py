"""``linkflow executions ...`` and ``linkflow users ...``: the operator commands' options.

Same code against AWS and the local stack: boto3 resolves the endpoint, region and credentials;
the stack's CloudFormation outputs name every resource. The work is in :mod:`linkflow.ops.commands`,
imported when a command runs so ``linkflow --help`` stays fast. Exit codes: :mod:`linkflow.ops.errors`.
"""

from __future__ import annotations

from typing import Annotated

import typer

executions_app = typer.Typer(no_args_is_help=True, help="List, inspect and redrive state machine executions.")
users_app = typer.Typer(no_args_is_help=True, help="One user across Cognito, DynamoDB and Stripe, drift flagged.")

StackOpt = Annotated[str | None, typer.Option("--stack", envvar="LINKFLOW_STACK", show_envvar=True,
                                              help="CloudFormation stack whose outputs name the resources.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table (for people) or json (stable fields).")]
MachineOpt = Annotated[str | None, typer.Option("--machine", help="onboarding or subscription-events (default: all).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Started within an age (30m, 2h, 7d) or since a "
                                                              "date/time (2026-11-01, 2026-11-01T09:30:00Z).")]
STATUS_HELP = "RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE."


@executions_app.command("list")
def list_command(
    machine: MachineOpt = None,
    status: Annotated[str | None, typer.Option("--status", help=STATUS_HELP)] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many executions (newest first).")] = 50,
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Executions of the stack's state machines, newest first, with where failed ones stopped."""
    from .commands import list_command

    raise typer.Exit(list_command(stack, output, machine=machine, status=status, since=since, limit=limit))


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
    from .commands import show_command

    raise typer.Exit(show_command(stack, output, execution=execution, with_io=io, follow=follow, interval=interval,
                                  timeout=timeout, machine=machine, page_size=page_size))


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
    from .commands import redrive_command

    raise typer.Exit(redrive_command(stack, output, execution=execution, all_failed=all_failed, machine=machine,
                                     since=since, dry_run=dry_run, wait=wait, timeout=timeout))


@users_app.command("show")
def users_show_command(
    user: Annotated[str, typer.Argument(help="Cognito sub (UUID), email, or Stripe customer id (cus_...).")],
    stack: StackOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Cognito user, profile, entitlement and Stripe customer(s) joined, drift flagged.

    Exit 1 if the stores drifted apart (the drift list says how).
    """
    from .commands import users_show_command

    raise typer.Exit(users_show_command(stack, output, user=user))


def register(app: typer.Typer) -> None:
    """Add the operator command groups to the ``linkflow`` app."""
    app.add_typer(executions_app, name="executions")
    app.add_typer(users_app, name="users")


__all__ = ["register"]
