"""Run ``linkflow local up`` in a child process and talk to it as any client would.

Tests and benchmarks use this rather than an in-process stack: moto's backends are process-wide,
so an in-process ``mock_aws`` elsewhere (a unit test) would reset the stack under them, and a
separate process is what an operator runs anyway.
"""

from __future__ import annotations

import os
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


@dataclass
class ProcessConfig:
    state_dir: Path
    aws_port: int
    stripe_port: int
    api_port: int
    wait_time_scale: float = 1.0
    template: Path | None = None
    schedules: bool = False  # `--schedules`: the template's schedules fire on their own


def free_port() -> int:
    """A TCP port nothing listens on now (for a stack of its own)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


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
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
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
