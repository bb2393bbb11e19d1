"""One execution environment: ``python -m awslambdaric <handler>`` and its Runtime API endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..lambda_runtime import FunctionSpec
from ._logs import FunctionLog, PeakMemory, monotonic_ms
from ._runtime_api import Invocation, RuntimeApi, WaitEnd

Result = tuple[Any, bool]


def lambda_environment(spec: FunctionSpec, *, api_address: str, region: str, log_stream: str,
                       credentials: Mapping[str, str]) -> dict[str, str]:
    """Exactly what the worker sees: the function's variables, then what Lambda itself sets."""
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return {
        **spec.environment,
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{python}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "TZ": ":UTC",
        "LANG": "C.UTF-8",  # Lambda's en_US.UTF-8 may be missing here: Python would then add LC_CTYPE
        # Lambda's PATH starts with its Python; here, the interpreter the workers run
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONPATH": os.pathsep.join(str(layer) for layer in spec.layer_dirs),  # /opt/python on Lambda
        **credentials,
    }


def timed_out(timeout: float) -> dict[str, str]:
    return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}


class Worker:
    def __init__(self, spec: FunctionSpec, log: FunctionLog, *, region: str, credentials: Mapping[str, str],
                 python: str) -> None:
        self.spec = spec
        self.log = log
        self.api = RuntimeApi(on_handover=lambda invocation: log.start(invocation.request_id))
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.environment = lambda_environment(spec, api_address=self.api.address, region=region,
                                              log_stream=stream, credentials=credentials)
        self._python = python
        self._proc: subprocess.Popen[bytes] | None = None
        self._memory: PeakMemory | None = None
        self._spawned_at = 0.0
        self._init_reported = False
        self._killed = False
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._killed and self.api.exit_code is None

    def start(self) -> None:
        self._spawned_at = time.monotonic()
        self._proc = subprocess.Popen(
            [self._python, "-m", "awslambdaric", self.spec.handler], cwd=self.spec.code_dir, env=self.environment,
            stdin=subprocess.DEVNULL, stdout=self.log.fileno(), stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes whatever the handler started
        )
        proc = self._proc
        self._memory = PeakMemory(proc.pid)
        threading.Thread(target=lambda: self.api.exited(proc.wait()), name=f"worker-{proc.pid}", daemon=True).start()

    def invoke(self, request_id: str, payload: bytes, init_timeout: float) -> Result:
        invocation = Invocation(request_id, payload, float(self.spec.timeout), self.spec.arn)
        self.api.submit(invocation)
        return self._ended(invocation, self.api.wait(invocation, init_deadline=self._spawned_at + init_timeout))

    async def invoke_async(self, request_id: str, payload: bytes, init_timeout: float) -> Result:
        """``invoke`` awaited on an event loop; what follows a timeout or an exit (killing the
        worker) runs on a thread."""
        invocation = Invocation(request_id, payload, float(self.spec.timeout), self.spec.arn)
        self.api.submit(invocation)
        end = await self.api.wait_async(invocation, init_deadline=self._spawned_at + init_timeout)
        if end == "done":
            return self._ended(invocation, end)
        return await asyncio.get_running_loop().run_in_executor(None, self._ended, invocation, end)

    def _ended(self, invocation: Invocation, end: WaitEnd) -> Result:
        spec, request_id = self.spec, invocation.request_id
        init_ms = self._init_ms()
        if end == "done":
            assert invocation.outcome is not None and invocation.handed_at is not None
            outcome = invocation.outcome
            self._report(invocation, monotonic_ms(invocation.handed_at, outcome.at), init_ms)
            return _decode(outcome.body), outcome.errored
        if end == "timeout":
            memory = self._max_memory()
            self.kill()
            self.log.timed_out(request_id, spec.timeout)
            self._report(invocation, spec.timeout * 1000.0, init_ms, memory=memory, status="timeout")
            return timed_out(spec.timeout), True
        self.kill()
        return self._init_failed(invocation, end, init_ms)

    def _init_failed(self, invocation: Invocation, end: str, init_ms: float | None) -> Result:
        """The worker never answered: its init failed or timed out, or it exited."""
        spent = monotonic_ms(self._spawned_at)
        if end == "init_error":
            assert self.api.init_error is not None
            error = _decode(self.api.init_error)
            error_type = error.get("errorType", "Runtime.Unknown") if isinstance(error, dict) else "Runtime.Unknown"
            self.log.init_report(init_ms=spent, status="error", error_type=error_type)
            return error, True
        if end == "init_timeout":
            self.log.init_report(init_ms=spent, status="timeout", error_type="Sandbox.Timedout")
            return timed_out(spent / 1000), True
        code = self.api.exit_code
        how = f"signal: {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        error = {"errorType": "Runtime.ExitError",
                 "errorMessage": f"RequestId: {invocation.request_id} Error: Runtime exited with error: {how}"}
        if invocation.handed_at is None:
            self.log.init_report(init_ms=spent, status="error", error_type="Runtime.ExitError")
        else:
            self._report(invocation, monotonic_ms(invocation.handed_at), init_ms, status="error",
                         error_type="Runtime.ExitError")
        return error, True

    def _init_ms(self) -> float | None:
        """The worker's Init Duration, on its first invocation only."""
        if self._init_reported or self.api.ready_at is None:
            return None
        self._init_reported = True
        return monotonic_ms(self._spawned_at, self.api.ready_at)

    def _max_memory(self) -> int | None:
        return self._memory.mb() if self._memory is not None else None

    def _report(self, invocation: Invocation, duration_ms: float, init_ms: float | None, *,
                memory: int | None = None, status: str | None = None, error_type: str | None = None) -> None:
        self.log.end(invocation.request_id, duration_ms=duration_ms, memory_size=self.spec.memory_size,
                     max_memory_mb=memory if memory is not None else self._max_memory(), init_ms=init_ms,
                     status=status, error_type=error_type)

    def kill(self) -> None:
        """Stop the worker and everything it started (idempotent)."""
        if self._killed:
            return
        self._killed = True
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already gone, with its group
            self._proc.wait()
        if self._memory is not None:
            self._memory.close()
        self.api.close()


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode(errors="replace")
