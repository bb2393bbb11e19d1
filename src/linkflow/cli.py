"""The ``linkflow`` command line: the local stack, the Stripe emulator, the demo, operator commands."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

if TYPE_CHECKING:
    from linkflow.local.client import AwsFault, LocalStackClient

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Keep Cognito, DynamoDB and Stripe linked.")
local_app = typer.Typer(no_args_is_help=True, help="The local stack: AWS (moto), the Stripe emulator, the HTTP API.")
app.add_typer(local_app, name="local")

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the running stack keeps local.json.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@local_app.command("up")
def local_up(
    aws_port: Annotated[int, typer.Option(help="Port of the AWS endpoint.")] = 4566,
    stripe_port: Annotated[int, typer.Option(help="Port of the Stripe emulator.")] = 12111,
    api_port: Annotated[int, typer.Option(help="Port of the template's HTTP API.")] = 3000,
    state_dir: StateDir = Path(".linkflow"),
    wait_time_scale: Annotated[float, typer.Option(help="Multiply Retry intervals and Wait states by this.")] = 1.0,
    template: Annotated[Path | None, typer.Option(help="SAM template (default: template.yaml).")] = None,
    schedules: Annotated[bool, typer.Option(
        "--schedules", help="Fire the template's EventBridge schedules on their own (default: only by hand, "
        "`linkflow local schedule fire`).")] = False,
) -> None:
    """Start the local stack in the foreground, provisioned from template.yaml; Ctrl-C stops it."""
    from linkflow.local import LocalStack, LocalStackConfig, TemplateError
    from linkflow.local.stack import default_template

    if wait_time_scale <= 0:
        _fail("--wait-time-scale must be > 0")
    config = LocalStackConfig(template=template or default_template(), state_dir=state_dir, aws_port=aws_port,
                              stripe_port=stripe_port, api_port=api_port, wait_time_scale=wait_time_scale,
                              lambda_log=state_dir / "lambda.log", schedules=schedules)
    stack = LocalStack(config)
    try:
        stack.start()
    except TemplateError as exc:
        _fail(f"cannot provision {config.template}: {exc}", 1)
    except OSError as exc:
        _fail(str(exc.strerror or exc), 1)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    for line in stack.export_lines():
        typer.echo(line)
    typer.echo(f"# AWS {stack.aws_url}  Stripe {stack.stripe_url}  API {stack.api_url}")
    typer.echo(f"# state: {config.state_dir}/local.json  Lambda logs: {config.lambda_log}")
    typer.echo("linkflow local stack ready", err=False)
    sys.stdout.flush()
    stopping.wait()
    typer.echo("stopping the local stack", err=True)
    stack.stop()


def _local_stack(state_dir: Path) -> LocalStackClient:
    from linkflow.local.client import LocalStackClient, StackNotRunning

    try:
        return LocalStackClient.from_state_dir(state_dir)
    except StackNotRunning as exc:
        _fail(str(exc), 3)


@local_app.command("federated-signin")
def federated_signin(
    provider: Annotated[str, typer.Option(help="Google, SignInWithApple, Facebook, ...")],
    email: Annotated[str, typer.Option(help="The email the provider reports.")],
    unverified: Annotated[bool, typer.Option("--unverified", help="The provider says email_verified=false.")] = False,
    provider_user_id: Annotated[str | None, typer.Option(help="The provider's user id (random if omitted).")] = None,
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Simulate a first sign-in through an external provider (PreSignUp_ExternalProvider, PostConfirmation)."""
    from linkflow.local.client import AdminCallFailed, StackUnreachable

    stack = _local_stack(state_dir)
    try:
        user = stack.federated_signin(provider, email, email_verified=not unverified,
                                      provider_user_id=provider_user_id)
    except AdminCallFailed as exc:
        _fail(exc.message, 1)
    except StackUnreachable as exc:
        _fail(str(exc), 3)
    typer.echo(json.dumps(user, indent=2))


@local_app.command("fault")
def local_fault(
    service: Annotated[str, typer.Option(help="dynamodb, lambda, stepfunctions, cognito-idp, secretsmanager")],
    operation: Annotated[str | None, typer.Option(help="API operation, e.g. PutItem")] = None,
    resource: Annotated[str | None, typer.Option(help="Table, function or resource name")] = None,
    function: Annotated[str | None, typer.Option(help="Make this Lambda function's handler raise")] = None,
    error: Annotated[str | None, typer.Option(help="Error code / exception class name")] = None,
    count: Annotated[int, typer.Option(help="How many calls fail")] = 1,
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Inject a fault into the next COUNT matching AWS calls of the running local stack."""
    from linkflow.local.client import AdminCallFailed, StackUnreachable

    stack = _local_stack(state_dir)
    fault = cast("AwsFault", {k: v for k, v in {
        "service": service, "operation": operation, "resource": resource, "function": function, "error": error,
        "count": count}.items() if v is not None})
    try:
        fault_id = stack.add_fault(fault)
    except AdminCallFailed as exc:
        _fail(exc.message)
    except StackUnreachable as exc:
        _fail(str(exc), 3)
    typer.echo(json.dumps({"id": fault_id}))


@local_app.command("clear-faults")
def local_clear_faults(state_dir: StateDir = Path(".linkflow")) -> None:
    """Remove every injected AWS fault."""
    from linkflow.local.client import StackUnreachable

    stack = _local_stack(state_dir)
    try:
        stack.aws_admin("DELETE", "faults")
    except StackUnreachable as exc:
        _fail(str(exc), 3)
    typer.echo("faults cleared")


schedule_app = typer.Typer(no_args_is_help=True, help="The template's EventBridge schedules on the local stack.")
local_app.add_typer(schedule_app, name="schedule")


@schedule_app.command("fire")
def schedule_fire(
    name: Annotated[str, typer.Argument(help="The schedule's name, logical id or ARN.")],
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Fire a schedule now: start its target with its input, as EventBridge Scheduler would."""
    from linkflow.local.client import AdminCallFailed, StackUnreachable

    stack = _local_stack(state_dir)
    try:
        fired = stack.fire_schedule(name)
    except AdminCallFailed as exc:
        _fail(exc.message, 1)
    except StackUnreachable as exc:
        _fail(str(exc), 3)
    typer.echo(json.dumps(fired, indent=2))


@schedule_app.command("list")
def schedule_list(state_dir: StateDir = Path(".linkflow")) -> None:
    """The template's schedules: expression, target, input, and whether they fire on their own."""
    from linkflow.local.client import AdminCallFailed, StackUnreachable

    stack = _local_stack(state_dir)
    try:
        schedules = stack.schedules()
    except AdminCallFailed as exc:
        _fail(exc.message, 1)
    except StackUnreachable as exc:
        _fail(str(exc), 3)
    typer.echo(json.dumps(schedules, indent=2))


@app.command("stripe-emulator")
def stripe_emulator(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 12111,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Run the Stripe emulator alone (the official stripe SDK works against it unchanged)."""
    from linkflow.stripe_emulator import PortInUseError, run

    try:
        run(host, port)
    except PortInUseError as exc:
        _fail(str(exc.strerror or exc), 1)


@app.command("demo")
def demo(
    wait_time_scale: Annotated[float, typer.Option(help="Retry/Wait scale for the demo's stack.")] = 0.01,
) -> None:
    """End-to-end demo on an in-process local stack: sign-up, onboarding, outage and redrive."""
    from linkflow.demo import run_demo

    raise typer.Exit(run_demo(wait_time_scale=wait_time_scale))


def _register_operator_commands() -> None:
    from linkflow.ops.cli import register

    register(app)


_register_operator_commands()


def main() -> None:
    """Entry point: a bug is one line and exit 70, never mistaken for exit 1 ("problems found")."""
    import os

    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # the last resort: typer has already handled usage errors
        if os.environ.get("LINKFLOW_DEBUG"):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (set LINKFLOW_DEBUG=1 for the traceback)", err=True)
        raise SystemExit(70) from None


if __name__ == "__main__":
    main()
