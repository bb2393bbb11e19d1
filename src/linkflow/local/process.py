"""Run ``linkflow local up`` in a child process and talk to it as any client would.

Tests and benchmarks use this rather than an in-process stack: moto's backends are process-wide,
so an in-process ``mock_aws`` elsewhere (a unit test) would reset the stack under them, and a
separate process is what an operator runs anyway.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .client import Endpoints, LocalInfo, LocalStackClient, StackHandle, read_info

HOST = "127.0.0.1"
READY_LINE = "linkflow local stack ready"
# Set by LocalStackProcess for its `local up` child: the pid the child stops with (cli._stop_with_parent).
EXIT_WITH_PARENT_ENV = "LINKFLOW_EXIT_WITH_PARENT"


@dataclass
class ProcessConfig:
    state_dir: Path
    aws_port: int
    stripe_port: int
    api_port: int
    wait_time_scale: float = 1.0
    template: Path | None = None
    schedules: bool = False  # `--schedules`: the template's schedules fire on their own


_FIRST_PORT = 20000  # free_port draws from here to just below the ephemeral range
_handed_out: set[int] = set()  # this process's picks: three for one stack are three ports
_handed_lock = threading.Lock()


def free_port() -> int:
    """A TCP port nothing listens on now (for a stack of its own).

    Drawn at random below the kernel's ephemeral range (``ip_local_port_range``), where outgoing
    connections take their local ports: the kernel's own pick (a bind to port 0) comes from that
    range, so any connection made before the stack binds it (another test process's clients, the
    stack's own) could take it first, and the stack would fail with "port in use". Not twice the
    same in one process. Where the range is unknown or leaves no room below it: the kernel's pick.
    """
    low = _ephemeral_low()
    if low is not None and low - 1 > _FIRST_PORT:
        for _ in range(100):
            port = random.randint(_FIRST_PORT, low - 1)
            with _handed_lock:
                if port in _handed_out or not _bindable(port):
                    continue
                _handed_out.add(port)
            return port
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _ephemeral_low(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class LocalStackProcess(StackHandle):
    def __init__(self, config: ProcessConfig, startup_timeout: float = 120.0):
        self.config = config
        self.startup_timeout = startup_timeout
        self.admin = LocalStackClient(Endpoints.on(HOST, config.aws_port, config.stripe_port, config.api_port))
        self.info: LocalInfo = {}
        self.output: deque[str] = deque(maxlen=200)
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> LocalStackProcess:
        c = self.config
        args = [sys.executable, "-m", "linkflow.cli", "local", "up", "--aws-port", str(c.aws_port),
                "--stripe-port", str(c.stripe_port), "--api-port", str(c.api_port), "--state-dir", str(c.state_dir),
                "--wait-time-scale", str(c.wait_time_scale)]
        if c.template is not None:
            args += ["--template", str(c.template)]
        if c.schedules:
            args.append("--schedules")
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1",
                                           EXIT_WITH_PARENT_ENV: str(os.getpid())})
        self._reader = threading.Thread(target=self._drain, daemon=True, name="local-stack-output")
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("linkflow local up did not become ready:\n" + "\n".join(self.output))
        self.info = read_info(Path(c.state_dir))
        return self

    def _drain(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.output.append(line.rstrip("\n"))
            if line.strip() == READY_LINE:
                self._ready.set()

    def stop(self, timeout: float = 20.0) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        return proc.returncode

    def __enter__(self) -> LocalStackProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a stack in the background: `linkflow local up --detach`, `status`, `down`, `reset` ----------

STATE_FILE = "local.json"  # written by the stack once every endpoint answers; removed on a clean stop
PID_FILE = "local.pid"  # written by `local up --detach`: the pid of the background stack
LAUNCH_FILE = "local.launch.json"  # the `local up` options of a detached stack (what `reset` restarts)
LOG_FILE = "local.log"  # a detached stack's console, and every stack's internal logging


class DetachFailed(RuntimeError):
    """The background stack exited, or did not become ready in time; the message ends with its log."""


@dataclass
class RunningStack:
    """A stack found through its state dir."""

    pid: int
    info: LocalInfo
    started: float  # epoch seconds at which it became ready (local.json written)
    detached: bool  # started by `local up --detach` (else in a terminal's foreground, or by the demo)


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all there is


def _is_linkflow(pid: int) -> bool:
    """The pid still runs linkflow (a pid from a stale file may belong to another program by now)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return b"linkflow" in cmdline.read_bytes()
    except OSError:
        return not Path("/proc").is_dir()


def running_stack(state_dir: Path) -> RunningStack | None:
    """The stack serving from ``state_dir``, or None (stale files of a dead one are removed)."""
    state_dir = Path(state_dir)
    path = state_dir / STATE_FILE
    try:
        info = read_info(state_dir)
        started = path.stat().st_mtime
    except (FileNotFoundError, ValueError):
        info, started = {}, 0.0
    pid = info.get("pid") or _read_pid(state_dir)
    if pid is None or not pid_alive(pid) or not _is_linkflow(pid):
        _remove_state(state_dir)
        return None
    if not info:  # started, not ready yet
        return None
    detached = _read_pid(state_dir) == pid
    return RunningStack(pid=pid, info=info, started=started, detached=detached)


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((Path(state_dir) / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _remove_state(state_dir: Path) -> None:
    for name in (STATE_FILE, PID_FILE, LAUNCH_FILE):
        (Path(state_dir) / name).unlink(missing_ok=True)


def start_detached(up_args: list[str], state_dir: Path, timeout: float = 120.0) -> RunningStack:
    """``linkflow local up <up_args>`` in a new session, its console appended to ``local.log``;
    returns once it is ready (``DetachFailed`` with the log's tail if it exits or times out)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / LOG_FILE
    _remove_state(state_dir)
    start = log.stat().st_size if log.exists() else 0
    with log.open("a") as out:
        out.write(f"--- linkflow local up --detach, {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n")
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "linkflow.cli", "local", "up", *up_args], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
            env={**{k: v for k, v in os.environ.items() if k != EXIT_WITH_PARENT_ENV}, "PYTHONUNBUFFERED": "1"})
    (state_dir / PID_FILE).write_text(f"{proc.pid}\n")
    (state_dir / LAUNCH_FILE).write_text(json.dumps({"args": up_args}))
    deadline = time.monotonic() + timeout
    while True:
        stack = running_stack(state_dir) if proc.poll() is None else None
        if stack is not None and stack.pid == proc.pid:
            proc.returncode = 0  # it lives on in its own session: nothing to reap here
            return stack
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            _remove_state(state_dir)
            what = (f"exited with status {proc.returncode}" if proc.returncode and proc.returncode > 0
                    else f"was not ready after {timeout:.0f}s")
            raise DetachFailed(f"the local stack {what}; {log}:\n{_tail(log, start)}")
        time.sleep(0.1)


def _tail(log: Path, start: int, lines: int = 20) -> str:
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    return "\n".join(line[:300] for line in text.splitlines()[-lines:])


def launch_args(state_dir: Path) -> list[str] | None:
    """The ``local up`` options a detached stack was started with (None: not started detached)."""
    try:
        args = json.loads((Path(state_dir) / LAUNCH_FILE).read_text())["args"]
    except (OSError, ValueError, KeyError):
        return None
    return [str(a) for a in args]


@dataclass
class Stopped:
    pid: int | None  # None: nothing was running
    killed: bool = False  # it ignored SIGTERM for the whole timeout


def stop_stack(state_dir: Path, timeout: float = 20.0) -> Stopped:
    """SIGTERM the stack serving from ``state_dir`` and wait for it (SIGKILL after ``timeout``)."""
    stack = running_stack(state_dir)
    pid = stack.pid if stack else _read_pid(state_dir)
    if pid is None or not pid_alive(pid) or not _is_linkflow(pid):
        _remove_state(state_dir)
        return Stopped(None)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = pid_alive(pid)
    if killed:
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    _remove_state(state_dir)
    return Stopped(pid, killed)


class KeptStack(StackHandle):
    """A background stack as its client holds it: what the demo runs on with ``--keep``."""

    def __init__(self, running: RunningStack) -> None:
        self.admin = LocalStackClient.from_info(running.info)
        self.info = running.info
        self.pid = running.pid
