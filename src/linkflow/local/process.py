"""Run ``linkflow local up`` in a child process and talk to it as any client would.

Tests and benchmarks use this rather than an in-process stack: moto's backends are process-wide,
so an in-process ``mock_aws`` elsewhere (a unit test) would reset the stack under them, and a
separate process is what an operator runs anyway.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

READY_LINE = "linkflow local stack ready"


@dataclass
class ProcessConfig:
    state_dir: Path
    aws_port: int
    stripe_port: int
    api_port: int
    wait_time_scale: float = 1.0
    template: Path | None = None


class LocalStackProcess:
    def __init__(self, config: ProcessConfig, startup_timeout: float = 120.0):
        self.config = config
        self.startup_timeout = startup_timeout
        self.info: dict[str, Any] = {}
        self.output: deque[str] = deque(maxlen=200)
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.config.aws_port}"

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.config.stripe_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws_url, region_name=self.info.get("region", "us-east-1"),
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50))

    def start(self) -> LocalStackProcess:
        c = self.config
        args = [sys.executable, "-m", "linkflow.cli", "local", "up", "--aws-port", str(c.aws_port),
                "--stripe-port", str(c.stripe_port), "--api-port", str(c.api_port), "--state-dir", str(c.state_dir),
                "--wait-time-scale", str(c.wait_time_scale)]
        if c.template is not None:
            args += ["--template", str(c.template)]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._drain, daemon=True, name="local-stack-output")
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("linkflow local up did not become ready:\n" + "\n".join(self.output))
        self.info = json.loads((Path(c.state_dir) / "local.json").read_text())
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
