"""A local stack started by ``LocalStackProcess`` (a test session, the bench) does not outlive it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from linkflow.local.process import pid_alive

ROOT = Path(__file__).resolve().parents[2]



def test_a_killed_parent_takes_its_stack_and_emulator_with_it(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import subprocess, time
        from pathlib import Path
        from linkflow.local.process import LocalStackProcess, ProcessConfig, free_port
        config = ProcessConfig(template=Path({str(ROOT / "template.yaml")!r}), state_dir=Path({str(tmp_path)!r}),
                               aws_port=free_port(), stripe_port=free_port(), api_port=free_port(),
                               wait_time_scale=0.01)
        stack = LocalStackProcess(config).start()
        emulator = subprocess.run(["pgrep", "-f", f"linkflow.stripe_emulator.*--port {{config.stripe_port}}"],
                                  capture_output=True, text=True).stdout.split()
        print(stack.pid, *emulator, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2, pids  # the stack, and its emulator
        parent.send_signal(signal.SIGKILL)  # no teardown runs: the stack is on its own
        parent.wait()
        deadline = time.monotonic() + 60
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [p for p in pids if pid_alive(p)] == []
        assert not (tmp_path / "local.json").exists()  # stopped cleanly: it removed its state file
    finally:
        if parent.poll() is None:
            parent.kill()
