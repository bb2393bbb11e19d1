"""The Stripe emulator in its own process, beside the local stack.

Stripe is another company's service: on AWS its work never competes with the stack's. In the
stack's process it did: every Stripe call a handler made (three per subscription event) was
answered on the same GIL as moto, the Step Functions engine and the HTTP API. The emulator now
runs as ``python -m linkflow.stripe_emulator`` (the same server ``linkflow stripe-emulator``
runs), started with the stack and stopped with it; it also exits by itself when the process that
started it is gone. Everything the stack and its tools ask of it goes over HTTP as before (the
SDK, and ``/_emulator`` for faults, the clock, the request log and webhook waits). Its output is
in ``<state dir>/stripe-emulator.log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0


class EmulatorProcess:
    """``start()`` returns once the emulator accepts connections on ``host:port``; ``stop()`` ends it."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host, self.port, self.log_path = host, port, log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> EmulatorProcess:
        if self._process is not None:
            raise RuntimeError("the Stripe emulator is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")  # this run's output only: readiness is read from it
        self._process = subprocess.Popen(
            [sys.executable, "-m", "linkflow.stripe_emulator", "--host", self.host, "--port", str(self.port),
             "--parent-pid", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._listening():
            if self._process.poll() is not None or time.monotonic() > deadline:
                code = self._process.poll()
                self.stop()
                raise RuntimeError(
                    f"the Stripe emulator did not start on {self.host}:{self.port} "
                    f"({'exit status ' + str(code) if code is not None else 'timed out'}): "
                    f"{self._tail() or 'no output'} (log: {self.log_path})")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # uvicorn stops gracefully on SIGTERM
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _listening(self) -> bool:
        """The emulator said it listens (it binds first: a port another process holds fails it)."""
        try:
            return b"listening on http" in self.log_path.read_bytes()
        except OSError:
            return False

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip().splitlines()[-1][:300]
        except (OSError, IndexError):
            return ""
