"""``Max Memory Used`` in a worker's REPORT line: the process's peak resident set (``VmHWM``),
read through a descriptor opened once per worker, as fresh as reading ``/proc/<pid>/status``."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

from linkflow.local.lambda_runtime import FunctionSpec
from linkflow.local.runtime import ProcessRuntime
from linkflow.local.runtime._logs import PeakMemory

MB = 1024 * 1024

GROWING = """
import os

kept = []

def handler(event, context):
    kept.append(b"x" * (event["mb"] * 1024 * 1024))  # written, so resident
    return {"pid": os.getpid()}
"""


def _peak_by_path(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return math.ceil(int(line.split()[1]) / 1024)
    raise AssertionError(f"no VmHWM for {pid}")


def test_the_peak_is_read_afresh_each_time_and_not_once_closed() -> None:
    grower = subprocess.Popen(  # keeps what it is told to allocate, so its peak is what it holds
        [sys.executable, "-c", "import sys\nkept = []\nfor line in sys.stdin:\n"
         "    kept.append(b'x' * (int(line) * 1024 * 1024))\n    print('ok', flush=True)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert grower.stdin is not None and grower.stdout is not None
    memory = PeakMemory(grower.pid)
    try:
        before = memory.mb()
        assert before == _peak_by_path(grower.pid)
        grower.stdin.write("64\n")
        grower.stdin.flush()
        assert grower.stdout.readline() == "ok\n"
        after = memory.mb()
        assert after is not None and before is not None and after >= before + 64
        assert after == _peak_by_path(grower.pid)
    finally:
        memory.close()
        grower.kill()
        grower.wait()
    assert memory.mb() is None
    memory.close()  # idempotent


def test_a_process_that_is_gone_has_no_peak() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    memory = PeakMemory(proc.pid)
    try:
        assert (memory.mb() or 0) > 0
        proc.kill()
        proc.wait()
        assert memory.mb() is None
    finally:
        memory.close()
    assert PeakMemory(proc.pid).mb() is None  # no such process any more: nothing opened


def test_each_report_carries_the_workers_peak_at_its_end(tmp_path: Path) -> None:
    code = tmp_path / "grow"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(GROWING))
    spec = FunctionSpec(logical_id="GrowFunction", name="linkflow-grow",
                        arn="arn:aws:lambda:eu-west-1:123456789012:function:linkflow-grow", code_dir=code,
                        handler="app.handler", environment={}, layer_dirs=[], memory_size=512)
    runtime = ProcessRuntime(tmp_path / "logs", region="eu-west-1")
    try:
        runtime.register(spec)
        peaks = []
        for mb in (1, 48, 48):
            result, errored = runtime.invoke(spec.name, {"mb": mb})
            assert not errored
            peaks.append(_peak_by_path(result["pid"]))  # the worker is idle: its peak stays put
        reports = [line for line in runtime.log_lines(spec.name) if line.startswith("REPORT ")]
        used = [int(dict(f.split(": ", 1) for f in line.split("\t"))["Max Memory Used"].removesuffix(" MB"))
                for line in reports]
        assert used == peaks
        assert used[1] >= used[0] + 48 and used[2] >= used[1] + 48
    finally:
        runtime.close()
