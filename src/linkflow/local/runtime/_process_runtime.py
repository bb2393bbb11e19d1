"""``ProcessRuntime``: the template's handlers in worker processes, as Lambda runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lambda_runtime import THROTTLED_ERROR, FunctionSpec, HandlerFault
from ._logs import FunctionLog, read_log
from ._worker import Result, Worker

THROTTLED = {"errorType": THROTTLED_ERROR, "errorMessage": "Rate Exceeded."}
STOPPED = {"errorType": "Lambda.ServiceException", "errorMessage": "the local stack is stopping"}


class _Stopping(Exception):
    pass


@dataclass(frozen=True)
class WorkerInfo:
    function: str
    pid: int | None
    busy: bool


def reserved_concurrency(spec: FunctionSpec) -> int | None:
    """The function's ReservedConcurrentExecutions, None when it has none."""
    return None if spec.reserved_concurrency is None else int(spec.reserved_concurrency)


def default_pool_size() -> int:
    """Workers per function before an invocation waits for one: twice the CPUs, at least 2.

    Lambda starts an environment per concurrent invocation; here every environment shares the
    machine's few cores, so one more process adds no throughput, only a cold start (~0.5-1 s of CPU
    importing boto3, powertools and pydantic) and ~65 MiB.
    """
    return max(2, 2 * (os.cpu_count() or 1))


class ProcessRuntime:
    """A drop-in for ``LambdaRuntime`` whose handlers run under awslambdaric, one process each.

    - A worker serves one invocation at a time, stays warm for ``idle_timeout`` seconds, and is
      replaced when it exits; its first invocation reports ``Init Duration``.
    - A function runs at most ``pool_size`` workers: with all of them busy, an invocation waits
      for one to free rather than start another (each would be a cold start competing for the same
      cores); after ``pool_wait`` seconds of waiting it starts one all the same (a handler waiting
      on an invocation of its own function cannot deadlock). Waiting invocations count towards the
      function's reserved concurrency: they are in flight, as for Lambda.
    - An invocation past the function's ``Timeout`` kills the worker's process group and fails
      with ``Sandbox.Timedout``.
    - Over the function's reserved concurrency, or with ``max_workers`` busy, an invocation is
      throttled at once (``Lambda.TooManyRequestsException``), never queued.
    - Each function logs to ``<log_dir>/<function name>.log`` with Lambda's START/END/REPORT lines.
    """

    def __init__(self, log_dir: Path | None = None, *, region: str = "us-east-1",
                 credentials: Mapping[str, str] | None = None, max_workers: int = 32,
                 idle_timeout: float = 600.0, init_timeout: float = 10.0, python: str = sys.executable,
                 pool_size: int | None = None, pool_wait: float = 5.0) -> None:
        self.functions: dict[str, FunctionSpec] = {}  # by function name
        self.faults: dict[str, HandlerFault] = {}
        self.invocations: dict[str, int] = {}
        self.throttles: dict[str, int] = {}
        self.cold_starts: dict[str, int] = {}  # workers started, by function name
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="linkflow-lambda-"))
        self.region = region
        self.credentials = dict(credentials or {})
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self.init_timeout = init_timeout
        self.python = python
        self.pool_size = max(1, pool_size if pool_size is not None else default_pool_size())
        self.pool_wait = pool_wait
        self.waits: dict[str, int] = {}  # invocations that waited for a busy function's worker
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # a worker went idle or away
        self._logs: dict[str, FunctionLog] = {}
        self._idle: dict[str, list[Worker]] = {}  # by function name, most recently used last
        self._busy: dict[str, int] = {}
        self._workers: set[Worker] = set()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    # -- the LambdaRuntime surface ---------------------------------------------------------------
    def register(self, spec: FunctionSpec) -> None:
        app_path = spec.code_dir / f"{spec.handler.rsplit('.', 1)[0]}.py"
        if not app_path.is_file():
            raise FileNotFoundError(f"{spec.logical_id}: handler file {app_path} does not exist")
        self.functions[spec.name] = spec

    def find(self, name_or_arn: str) -> FunctionSpec:
        for spec in self.functions.values():
            if name_or_arn in (spec.name, spec.arn, spec.logical_id):
                return spec
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        if name in self.functions:
            return self.functions[name]
        raise KeyError(f"function {name_or_arn} is not provisioned by the local stack")

    def inject(self, function: str, fault: HandlerFault) -> None:
        spec = self.find(function)
        with self._lock:
            self.faults[spec.name] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def invoke(self, name_or_arn: str, event: Any) -> Result:
        """Run the handler in a worker; answer ``(result, errored)`` with Lambda's error payload on failure."""
        spec = self.find(name_or_arn)
        fault = self._take_fault(spec)
        if fault is not None:
            return {"errorType": fault.error, "errorMessage": fault.message}, True
        try:
            worker = self._acquire(spec)
        except _Stopping:  # no worker is started once the stack is stopping
            return dict(STOPPED), True
        if worker is None:
            return dict(THROTTLED), True
        try:
            payload = json.dumps(event, default=str).encode()
            return worker.invoke(str(uuid.uuid4()), payload, self.init_timeout)
        finally:
            self._release(worker)

    def invoke_warm(self, name_or_arn: str, event: Any) -> Awaitable[Result] | None:
        """``invoke`` on an idle warm worker, to await on an event loop (no thread waits for the
        worker); None when there is none free right now, or a fault or a throttle to answer, or the
        runtime is stopping: then ``invoke`` it (on a thread)."""
        spec = self.find(name_or_arn)
        name = spec.name
        with self._lock:
            reserved = reserved_concurrency(spec)
            idle = self._idle.get(name)
            if (self._stop.is_set() or name in self.faults or not idle or not idle[-1].alive
                    or (reserved is not None and self._busy.get(name, 0) >= reserved)):
                return None
            worker = idle.pop()
            self._busy[name] = self._busy.get(name, 0) + 1
            self.invocations[name] = self.invocations.get(name, 0) + 1
        # its own task: a caller that stops waiting does not free the worker while it still runs
        return asyncio.shield(asyncio.ensure_future(self._invoke_async(worker, event)))

    async def _invoke_async(self, worker: Worker, event: Any) -> Result:
        try:
            payload = json.dumps(event, default=str).encode()
            return await worker.invoke_async(str(uuid.uuid4()), payload, self.init_timeout)
        finally:
            self._release(worker)

    # -- logs and inspection ---------------------------------------------------------------------
    def log_path(self, function: str) -> Path:
        """The log file of a function, named by its deployed name, ARN or template logical id."""
        return self.log_dir / f"{self.find(function).name}.log"

    def log_lines(self, function: str, *, follow: bool = False, stop: threading.Event | None = None) -> Iterator[str]:
        return read_log(self.log_path(function), follow=follow, stop=stop)

    def workers(self, function: str | None = None) -> list[WorkerInfo]:
        name = self.find(function).name if function is not None else None
        with self._lock:
            idle = {id(w) for ws in self._idle.values() for w in ws}
            return [WorkerInfo(w.spec.name, w.pid, id(w) not in idle) for w in self._workers
                    if name is None or w.spec.name == name]

    def close(self) -> None:
        """Stop every worker (the stack's shutdown)."""
        self._stop.set()
        with self._lock:
            self._freed.notify_all()  # an invocation waiting for a worker gives up
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    # -- workers ---------------------------------------------------------------------------------
    def _take_fault(self, spec: FunctionSpec) -> HandlerFault | None:
        with self._lock:
            self.invocations[spec.name] = self.invocations.get(spec.name, 0) + 1
            fault = self.faults.get(spec.name)
            if fault is None:
                return None
            fault.count -= 1
            if fault.count <= 0:
                del self.faults[spec.name]
            return fault

    def _acquire(self, spec: FunctionSpec) -> Worker | None:
        """A warm worker of ``spec``, or a new one started; None when the invocation is throttled."""
        evicted: list[Worker] = []
        name = spec.name
        try:
            with self._lock:
                if self._stop.is_set():
                    raise _Stopping
                reserved = reserved_concurrency(spec)
                if reserved is not None and self._busy.get(name, 0) >= reserved:
                    self._throttled(spec)
                    return None
                self._busy[name] = self._busy.get(name, 0) + 1  # in flight from here on (waiting or running)
                try:
                    worker = self._warm_or_wait(spec, evicted)
                    if worker is None:
                        if len(self._workers) >= self.max_workers and not self._evict_one(evicted):
                            self._throttled(spec)
                            self._busy[name] -= 1
                            return None
                        worker = Worker(spec, self._log(spec), region=self.region, credentials=self.credentials,
                                        python=self.python)
                        self._workers.add(worker)
                        self.cold_starts[name] = self.cold_starts.get(name, 0) + 1
                except BaseException:
                    self._busy[name] -= 1
                    raise
        finally:
            for old in evicted:
                old.kill()
        if worker.pid is None:
            try:
                worker.start()
            except BaseException:
                self._release(worker)
                raise
            self._start_reaper()
        return worker

    def _warm_or_wait(self, spec: FunctionSpec, dead: list[Worker]) -> Worker | None:
        """An idle worker of ``spec``; while its pool is full and busy, wait (up to ``pool_wait``)
        for one. None: start a new one. Called with ``_lock`` held."""
        deadline: float | None = None
        while True:
            worker = self._warm(spec, dead)
            if worker is not None:
                return worker
            if sum(1 for w in self._workers if w.spec.name == spec.name) < self.pool_size:
                return None
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.pool_wait
                self.waits[spec.name] = self.waits.get(spec.name, 0) + 1
            elif now >= deadline:
                return None  # scale out past the pool rather than wait on
            self._freed.wait(deadline - now)
            if self._stop.is_set():
                raise _Stopping

    def _warm(self, spec: FunctionSpec, dead: list[Worker]) -> Worker | None:
        idle = self._idle.get(spec.name, [])
        while idle:
            worker = idle.pop()
            if worker.alive:
                return worker
            self._workers.discard(worker)  # exited while idle: replaced by a new one
            dead.append(worker)
        return None

    def _evict_one(self, evicted: list[Worker]) -> bool:
        """Make room under the cap by stopping the least recently used idle worker of any function."""
        candidates = [w for ws in self._idle.values() for w in ws]
        if not candidates:
            return False
        oldest = min(candidates, key=lambda w: w.last_used)
        self._idle[oldest.spec.name].remove(oldest)
        self._workers.discard(oldest)
        evicted.append(oldest)
        return True

    def _throttled(self, spec: FunctionSpec) -> None:
        self.throttles[spec.name] = self.throttles.get(spec.name, 0) + 1
        return None

    def _release(self, worker: Worker) -> None:
        with self._lock:
            name = worker.spec.name
            self._busy[name] -= 1
            self._freed.notify_all()
            if worker.alive and not self._stop.is_set():
                worker.last_used = time.monotonic()
                self._idle.setdefault(name, []).append(worker)
                return
            self._workers.discard(worker)
        worker.kill()

    def _log(self, spec: FunctionSpec) -> FunctionLog:
        if spec.name not in self._logs:
            self._logs[spec.name] = FunctionLog(self.log_dir / f"{spec.name}.log")
        return self._logs[spec.name]

    # -- reaping ---------------------------------------------------------------------------------
    def _start_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(target=self._reap_forever, name="lambda-worker-reaper", daemon=True)
        self._reaper.start()

    def _reap_forever(self) -> None:
        interval = min(max(self.idle_timeout / 4, 0.05), 5.0)
        while not self._stop.wait(interval):
            self.reap()

    def reap(self) -> int:
        """Stop the workers idle for ``idle_timeout`` seconds or more; answer how many."""
        now = time.monotonic()
        with self._lock:
            stale = [w for ws in self._idle.values() for w in ws if now - w.last_used >= self.idle_timeout]
            for worker in stale:
                self._idle[worker.spec.name].remove(worker)  # no invocation can take it now
        for worker in stale:
            worker.kill()
        with self._lock:  # listed by workers() until its process is gone
            self._workers.difference_update(stale)
            self._freed.notify_all()
        return len(stale)
