"""A function's log file, written as CloudWatch Logs would show it, and read back (``--follow``)."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

_STATUS_READ = 16384  # /proc/<pid>/status is about 1.5 KB; VmHWM is in its first half


class FunctionLog:
    """One file per function; its workers write their stdout and stderr to it directly.

    The file is opened with ``O_APPEND`` by the runtime and (inherited) by every worker, so a
    line the runtime writes after a worker answered lands after everything the handler printed
    before answering: ``START`` / the handler's output / ``END`` / ``REPORT`` stay in order.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()  # a closed descriptor's number may be reused: never write to it

    def fileno(self) -> int:
        return self._fd

    def write(self, *lines: str) -> None:
        with self._lock:
            if self._fd >= 0:  # an invocation ending while the stack stops has nowhere to report
                os.write(self._fd, "".join(f"{line}\n" for line in lines).encode())

    def start(self, request_id: str) -> None:
        self.write(f"START RequestId: {request_id} Version: $LATEST")

    def end(self, request_id: str, *, duration_ms: float, memory_size: int, max_memory_mb: int | None,
            init_ms: float | None = None, status: str | None = None, error_type: str | None = None) -> None:
        billed = math.ceil(duration_ms + (init_ms or 0.0))  # the INIT phase is billed (since 2025-08)
        report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms"
                  f"\tMemory Size: {memory_size} MB\tMax Memory Used: {max_memory_mb or 0} MB")
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if status is not None:
            report += f"\tStatus: {status}"
        if error_type is not None:
            report += f"\tError Type: {error_type}"
        self.write(f"END RequestId: {request_id}", report)

    def init_report(self, *, init_ms: float, status: str, error_type: str) -> None:
        self.write(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
                   f"\tError Type: {error_type}")

    def timed_out(self, request_id: str, timeout: float) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.write(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_log(path: Path, *, follow: bool = False, stop: threading.Event | None = None,
             poll_interval: float = 0.25) -> Iterator[str]:
    """The lines of a function's log (without their newline); with ``follow``, then the new ones.

    Following ends when ``stop`` is set (or never); a file that does not exist yet is waited for.
    """
    stop = stop or threading.Event()
    while not path.exists():
        if not follow or stop.wait(poll_interval):
            return
    with path.open(encoding="utf-8", errors="replace") as stream:
        partial = ""
        while True:
            chunk = stream.readline()
            if chunk.endswith("\n"):
                yield partial + chunk[:-1]
                partial = ""
            elif chunk:
                partial += chunk  # a line still being written: wait for its end
            elif not follow or stop.wait(poll_interval):
                if partial and not follow:
                    yield partial
                return


class PeakMemory:
    """A process's peak resident set (``VmHWM``) in MB, as Lambda's ``Max Memory Used``.

    ``/proc/<pid>/status`` is opened once and read with one ``pread`` each time (the kernel writes
    the file afresh for a read from its start): a third of the cost of opening it by path on every
    invocation. The descriptor names the process, never a later one given the same pid.
    """

    def __init__(self, pid: int) -> None:
        self._lock = threading.Lock()  # closing while an invocation reports: never read a reused descriptor
        try:
            self._fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        except OSError:
            self._fd = -1

    def mb(self) -> int | None:
        with self._lock:
            if self._fd < 0:
                return None
            try:
                status = os.pread(self._fd, _STATUS_READ, 0)
            except OSError:  # the process is gone
                return None
        start = status.find(b"\nVmHWM:")  # absent once the process has exited
        if start < 0:
            return None
        end = status.find(b"\n", start + 1)
        return math.ceil(int(status[start + len(b"\nVmHWM:"):end].split()[0]) / 1024)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def monotonic_ms(start: float, end: float | None = None) -> float:
    return ((time.monotonic() if end is None else end) - start) * 1000
