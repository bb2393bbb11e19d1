"""The ``linkflow`` command line: the local stack, the Stripe emulator, the demo, operator commands."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

from linkflow.ops.cli import _Command, _Group  # flags shown without a <bool> metavar

if TYPE_CHECKING:
    from linkflow.local.client import AwsFault, LocalInfo, LocalStackClient, StripeFault

app = typer.Typer(cls=_Group, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Keep Cognito, DynamoDB and Stripe linked.")
local_app = typer.Typer(cls=_Group, no_args_is_help=True,
                        help="The local stack: AWS (moto), the Stripe emulator, the HTTP API.")
app.add_typer(local_app, name="local")

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the running stack keeps local.json.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table (for people) or json (stable fields).")]


@app.callback()
def main_options(
    stack: Annotated[str | None, typer.Option(
        "--stack", help="CloudFormation stack whose outputs name the resources, for every command "
        "(the same as LINKFLOW_STACK; a subcommand's own --stack wins).")] = None,
) -> None:
    """Keep Cognito, DynamoDB and Stripe linked."""
    if stack is not None:  # read by the subcommands' --stack, which fall back to LINKFLOW_STACK
        import os

        os.environ["LINKFLOW_STACK"] = stack


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _admin_errors(refused: int = 1) -> Iterator[None]:
    """A local-stack admin call: refused by the stack → exit ``refused``; stack unreachable → 3."""
    from linkflow.local.client import AdminCallFailed, StackUnreachable

    try:
        yield
    except AdminCallFailed as exc:
        _fail(exc.message, refused)
    except StackUnreachable as exc:
        _fail(str(exc), 3)


@local_app.command("up", cls=_Command)
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
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", help="Start in the background: wait until ready, print the exports and exit 0 "
        "(`linkflow local status`, `linkflow local down`).")] = False,
) -> None:
    """Start the local stack, provisioned from template.yaml: in the foreground (Ctrl-C stops it) or,
    with --detach, in the background. Its state lives in memory: stopping it forgets everything."""
    from linkflow.local import process

    if wait_time_scale <= 0:
        _fail("--wait-time-scale must be > 0")
    running = process.running_stack(state_dir)
    if running is not None:
        _fail(f"a local stack already runs from {state_dir} (pid {running.pid}): `linkflow local down"
              f"{_state_dir_arg(state_dir)}` stops it, or give another --state-dir", 1)
    if detach:
        args = ["--aws-port", str(aws_port), "--stripe-port", str(stripe_port), "--api-port", str(api_port),
                "--state-dir", str(state_dir), "--wait-time-scale", str(wait_time_scale)]
        args += ["--template", str(template.resolve())] if template else []
        args += ["--schedules"] if schedules else []
        _start_detached(args, state_dir)
        return
    _run_foreground(state_dir, aws_port, stripe_port, api_port, wait_time_scale, template, schedules)


def _state_dir_arg(state_dir: Path) -> str:
    return "" if state_dir == Path(".linkflow") else f" --state-dir {state_dir}"


def _start_detached(args: list[str], state_dir: Path) -> None:
    from linkflow.local import process
    from linkflow.local.exports import export_lines

    try:
        stack = process.start_detached(args, state_dir)
    except process.DetachFailed as exc:
        _fail(str(exc), 1)
    for line in export_lines(stack.info):
        typer.echo(line)
    _echo_where(stack.info, state_dir)
    typer.echo(f"# running in the background, pid {stack.pid}; stop it with `linkflow local down"
               f"{_state_dir_arg(state_dir)}`")
    typer.echo(process.READY_LINE)


def _echo_where(info: LocalInfo, state_dir: Path) -> None:
    from linkflow.local.process import LOG_FILE

    e = info["endpoints"]
    typer.echo(f"# AWS {e['aws']}  Stripe {e['stripe']}  API {e['api']}")
    typer.echo(f"# state: {state_dir}/local.json  log: {state_dir}/{LOG_FILE}  Lambda logs: {state_dir}/logs/ "
               "(linkflow local logs <function>)")


def _run_foreground(state_dir: Path, aws_port: int, stripe_port: int, api_port: int, wait_time_scale: float,
                    template: Path | None, schedules: bool) -> None:
    from linkflow.local import LocalStack, LocalStackConfig, TemplateError
    from linkflow.local.exports import export_lines
    from linkflow.local.internal_log import route_to_file
    from linkflow.local.process import LOG_FILE, READY_LINE
    from linkflow.local.stack import default_template

    config = LocalStackConfig(template=template or default_template(), state_dir=state_dir, aws_port=aws_port,
                              stripe_port=stripe_port, api_port=api_port, wait_time_scale=wait_time_scale,
                              schedules=schedules)
    route_to_file(state_dir / LOG_FILE)
    stack = LocalStack(config)
    try:
        stack.start()
    except TemplateError as exc:
        _fail(f"cannot provision {config.template}: {exc}", 1)
    except OSError as exc:
        _fail(str(exc.strerror or exc), 1)
    route_to_file(state_dir / LOG_FILE)  # the servers' own console handlers are installed as they start
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    _stop_with_parent(stopping)
    for line in export_lines(stack.info):
        typer.echo(line)
    _echo_where(stack.info, state_dir)
    typer.echo(READY_LINE)
    sys.stdout.flush()
    stopping.wait()
    try:
        typer.echo("stopping the local stack", err=True)
    except OSError:
        pass  # the console is gone (the process reading it died): stop all the same
    stack.stop()


def _stop_with_parent(stopping: threading.Event) -> None:
    """Started by ``LocalStackProcess`` (``LINKFLOW_EXIT_WITH_PARENT`` names its pid): stop when that
    process is gone (a test run killed before its fixtures' teardown left its stacks running)."""
    import os

    from linkflow.local.process import EXIT_WITH_PARENT_ENV

    parent = os.environ.get(EXIT_WITH_PARENT_ENV, "")
    if not parent.isdigit() or int(parent) != os.getppid():
        return

    def watch() -> None:
        while not stopping.wait(0.5):
            if os.getppid() != int(parent):
                stopping.set()

    threading.Thread(target=watch, name="linkflow-parent-watch", daemon=True).start()


@local_app.command("status", cls=_Command)
def local_status(state_dir: StateDir = Path(".linkflow"), output: OutputOpt = "table") -> None:
    """Whether a local stack runs from the state dir: pid, endpoints, uptime.

    Exit 0: running and every endpoint answers; 1: running but an endpoint does not answer;
    3: not running.
    """
    import time

    from linkflow.local import process

    if output not in ("table", "json"):
        _fail("--output must be table or json")
    stack = process.running_stack(state_dir)
    if stack is None:
        if output == "json":
            typer.echo(json.dumps({"running": False, "state_dir": str(state_dir)}))
        else:
            typer.echo(f"not running (no stack serves from {state_dir}; start one with `linkflow local up --detach`)")
        raise typer.Exit(3)
    e = stack.info["endpoints"]
    endpoints = {"aws": e["aws"], "stripe": e["stripe"], "api": e["api"]}
    answers = {name: _answers(url) for name, url in endpoints.items()}
    uptime = max(0, int(time.time() - stack.started))
    if output == "json":
        typer.echo(json.dumps({
            "running": True, "pid": stack.pid, "detached": stack.detached, "uptime_seconds": uptime,
            "started_at": _iso(stack.started), "state_dir": str(state_dir), "log": str(state_dir / process.LOG_FILE),
            "stack": stack.info.get("stack"), "endpoints": stack.info["endpoints"], "answering": answers}, indent=2))
    else:
        how = "in the background" if stack.detached else "in the foreground of another terminal (or the demo)"
        typer.echo(f"running, pid {stack.pid}, {how}, up {_duration(uptime)} (since {_iso(stack.started)})")
        for name, url in endpoints.items():
            typer.echo(f"  {name:<7}{url:<28}{'answers' if answers[name] else 'DOES NOT ANSWER'}")
        typer.echo(f"  state  {state_dir}/local.json   log {state_dir}/{process.LOG_FILE}")
    raise typer.Exit(0 if all(answers.values()) else 1)


def _answers(url: str) -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


@local_app.command("down", cls=_Command)
def local_down(
    state_dir: StateDir = Path(".linkflow"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop before killing it.")] = 20.0,
) -> None:
    """Stop the local stack serving from the state dir (SIGTERM, as Ctrl-C). Nothing running is
    not an error: exit 0 either way."""
    from linkflow.local.process import stop_stack

    stopped = stop_stack(state_dir, timeout)
    if stopped.pid is None:
        typer.echo(f"no local stack runs from {state_dir}")
    elif stopped.killed:
        typer.echo(f"local stack (pid {stopped.pid}) did not stop within {timeout:g}s: killed")
    else:
        typer.echo(f"local stack stopped (pid {stopped.pid})")


@local_app.command("reset", cls=_Command)
def local_reset(state_dir: StateDir = Path(".linkflow")) -> None:
    """Empty the local stack by restarting it with the same options: tables, users, executions,
    Stripe objects, faults all gone (its state lives in memory). Only a stack started with
    --detach can be reset; the user pool and client ids change, the exports do not."""
    from linkflow.local import process

    stack = process.running_stack(state_dir)
    if stack is None:
        _fail(f"no local stack runs from {state_dir}", 3)
    args = process.launch_args(state_dir) if stack.detached else None
    if args is None:
        _fail(f"the stack (pid {stack.pid}) was not started with --detach: stop it (Ctrl-C) and start it again", 1)
    process.stop_stack(state_dir)
    typer.echo(f"stopped pid {stack.pid}; starting it again, empty", err=True)
    _start_detached(args, state_dir)


def _local_stack(state_dir: Path) -> LocalStackClient:
    from linkflow.local.client import LocalStackClient, StackNotRunning

    try:
        return LocalStackClient.from_state_dir(state_dir)
    except StackNotRunning as exc:
        _fail(str(exc), 3)


@local_app.command("federated-signin", cls=_Command)
def federated_signin(
    provider: Annotated[str, typer.Option(help="Google, SignInWithApple, Facebook, ...")],
    email: Annotated[str, typer.Option(help="The email the provider reports.")],
    unverified: Annotated[bool, typer.Option("--unverified", help="The provider says email_verified=false.")] = False,
    provider_user_id: Annotated[str | None, typer.Option(help="The provider's user id (random if omitted).")] = None,
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Simulate a first sign-in through an external provider (PreSignUp_ExternalProvider, PostConfirmation)."""
    stack = _local_stack(state_dir)
    with _admin_errors():
        user = stack.federated_signin(provider, email, email_verified=not unverified,
                                      provider_user_id=provider_user_id)
    typer.echo(json.dumps(user, indent=2))


AWS_SERVICES = ("dynamodb", "lambda", "stepfunctions", "cognito-idp", "secretsmanager", "ssm", "sqs")


@local_app.command("fault", cls=_Command)
def local_fault(
    service: Annotated[str, typer.Option(help="stripe (the Stripe emulator), or an AWS service: "
                                              + ", ".join(AWS_SERVICES))],
    operation: Annotated[str | None, typer.Option(help="AWS: API operation, e.g. PutItem")] = None,
    resource: Annotated[str | None, typer.Option(help="AWS: table, function or resource name")] = None,
    function: Annotated[str | None, typer.Option(help="AWS: make this Lambda function's handler raise")] = None,
    error: Annotated[str | None, typer.Option(help="AWS: error code / exception class name")] = None,
    method: Annotated[str | None, typer.Option(help="Stripe: HTTP method (default: any)")] = None,
    path: Annotated[str | None, typer.Option(help="Stripe: path prefix, e.g. /v1/customers (default: any)")] = None,
    status: Annotated[int | None, typer.Option(help="Stripe: 429 or 5xx (AWS: the error's HTTP status)")] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Stripe: delay answers by this, alone or with "
                                                          "--status")] = None,
    probability: Annotated[float | None, typer.Option(help="Stripe: fail this share of matching requests")] = None,
    seconds: Annotated[float | None, typer.Option("--for", help="Stripe: an outage window of this many "
                                                                "seconds from now")] = None,
    count: Annotated[int | None, typer.Option(help="How many calls fail (AWS default 1; Stripe default: "
                                                   "all, until --for ends or `clear-faults`)")] = None,
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Inject a fault into the running local stack: the next COUNT matching AWS calls, or Stripe
    requests (``--service stripe --path /v1/customers --status 500 --for 600``). Prints its id."""
    aws_only = {"--operation": operation, "--resource": resource, "--function": function, "--error": error}
    stripe_only = {"--method": method, "--path": path, "--latency-ms": latency_ms, "--probability": probability,
                   "--for": seconds}
    if service == "stripe":
        misplaced = [k for k, v in aws_only.items() if v is not None]
    elif service in AWS_SERVICES:
        misplaced = [k for k, v in stripe_only.items() if v is not None]
    else:
        _fail(f"--service {service}: use stripe or one of {', '.join(AWS_SERVICES)}")
    if misplaced:
        _fail(f"{', '.join(misplaced)} cannot be used with --service {service}")
    stack = _local_stack(state_dir)
    with _admin_errors(refused=2):
        if service == "stripe":
            fault_id = stack.add_stripe_fault(_stripe_fault(method, path, status, latency_ms, probability,
                                                            seconds, count))
        else:
            fault_id = stack.add_fault(cast("AwsFault", {k: v for k, v in {
                "service": service, "operation": operation, "resource": resource, "function": function,
                "error": error, "status": status, "count": 1 if count is None else count}.items() if v is not None}))
    typer.echo(json.dumps({"id": fault_id}))


def _stripe_fault(method: str | None, path: str | None, status: int | None, latency_ms: float | None,
                  probability: float | None, seconds: float | None, count: int | None) -> StripeFault:
    import time

    if status is None and latency_ms is None:
        _fail("--service stripe needs --status (429 or 5xx) or --latency-ms")
    if seconds is not None and seconds <= 0:
        _fail("--for must be > 0 seconds")
    fault = {"method": method.upper() if method else None, "path": path, "status": status, "latency_ms": latency_ms,
             "probability": probability, "count": count,
             "until": time.time() + seconds if seconds is not None else None}
    return cast("StripeFault", {k: v for k, v in fault.items() if v is not None})


@local_app.command("clear-faults", cls=_Command)
def local_clear_faults(
    service: Annotated[str, typer.Option(help="aws (AWS and handler faults), stripe, or all")] = "all",
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Remove every injected fault (of the AWS endpoint, the Stripe emulator, or both)."""
    if service not in ("aws", "stripe", "all"):
        _fail("--service must be aws, stripe or all")
    stack = _local_stack(state_dir)
    with _admin_errors():
        if service in ("aws", "all"):
            stack.clear_faults()
        if service in ("stripe", "all"):
            stack.clear_stripe_faults()
    typer.echo("faults cleared" if service == "all" else f"{service} faults cleared")


@local_app.command("logs", cls=_Command)
def local_logs(
    function: Annotated[str, typer.Argument(help="The function: its template logical id or its deployed name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Print a function's log as CloudWatch Logs keeps it: what the handler printed between
    Lambda's START, END and REPORT lines (Duration, Billed Duration, Max Memory Used, Init
    Duration on a cold start). The logs stay in <state-dir>/logs after the stack stops."""
    from linkflow.local.runtime import read_log

    path = _function_log(function, state_dir)
    try:
        for line in read_log(path, follow=follow):
            typer.echo(line)
    except KeyboardInterrupt:
        pass


def _function_log(function: str, state_dir: Path) -> Path:
    """``<state-dir>/logs/<deployed name>.log``, the function named either way."""
    from linkflow.local.client import StackNotRunning, read_info

    log_dir = state_dir / "logs"
    names: dict[str, str] = {}  # logical id -> deployed name, while the stack runs
    try:
        info = read_info(state_dir)
        log_dir = Path(info.get("logs") or log_dir)
        names = {lid: r["name"] for lid, r in info.get("resources", {}).items()
                 if r.get("type") == "AWS::Serverless::Function"}
    except StackNotRunning:
        pass  # stopped: the logs it left are still there, found by deployed name
    name = names.get(function, function)
    if name in names.values() or (log_dir / f"{name}.log").is_file():
        return log_dir / f"{name}.log"
    known = sorted(names) or sorted(p.stem for p in log_dir.glob("*.log"))
    _fail(f"no function {function} in the local stack of {state_dir}"
          + (f"; functions: {', '.join(known)}" if known else " (and no logs there)"), 1)


schedule_app = typer.Typer(cls=_Group, no_args_is_help=True,
                           help="The template's EventBridge schedules on the local stack.")
local_app.add_typer(schedule_app, name="schedule")


@schedule_app.command("fire", cls=_Command)
def schedule_fire(
    name: Annotated[str, typer.Argument(help="The schedule's name, logical id or ARN.")],
    state_dir: StateDir = Path(".linkflow"),
) -> None:
    """Fire a schedule now: start its target with its input, as EventBridge Scheduler would."""
    stack = _local_stack(state_dir)
    with _admin_errors():
        fired = stack.fire_schedule(name)
    typer.echo(json.dumps(fired, indent=2))


@schedule_app.command("list", cls=_Command)
def schedule_list(state_dir: StateDir = Path(".linkflow")) -> None:
    """The template's schedules: expression, target, input, and whether they fire on their own."""
    stack = _local_stack(state_dir)
    with _admin_errors():
        schedules = stack.schedules()
    typer.echo(json.dumps(schedules, indent=2))


@app.command("stripe-emulator", cls=_Command)
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


@app.command("demo", cls=_Command)
def demo(
    wait_time_scale: Annotated[float, typer.Option(help="Retry/Wait scale for the demo's stack.")] = 0.01,
    keep: Annotated[bool, typer.Option("--keep", help=(
        "Run on a background stack and leave it running to explore (prints its exports; "
        "`linkflow local down` stops it)."))] = False,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="With --keep: the stack's state dir.")] = (
        Path(".linkflow")),
) -> None:
    """End-to-end demo on a local stack of its own: sign-up, onboarding, outage and redrive,
    subscription, checkout. Exit 0 when every expectation held, 1 otherwise."""
    from linkflow.demo import run_demo

    raise typer.Exit(run_demo(wait_time_scale=wait_time_scale, keep=keep, state_dir=state_dir))


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
