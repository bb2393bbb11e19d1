"""The local stack's Stripe emulator runs in its own process (``linkflow.local.stripe_process``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import stripe

from linkflow.local.process import free_port, pid_alive
from linkflow.local.stripe_process import EmulatorProcess


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False



def test_serves_the_sdk_from_another_process_and_stops(tmp_path: Path) -> None:
    port = free_port()
    emulator = EmulatorProcess("127.0.0.1", port, tmp_path / "stripe-emulator.log").start()
    try:
        assert emulator.pid is not None and emulator.pid != os.getpid()
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": f"http://127.0.0.1:{port}"})
        created = client.v1.customers.create(params={"email": "a@example.com"})
        assert client.v1.customers.retrieve(created.id).email == "a@example.com"
    finally:
        emulator.stop()
    assert not _accepts(port)
    assert "listening on http://127.0.0.1:" in (tmp_path / "stripe-emulator.log").read_text()


def test_a_taken_port_fails_start_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        emulator = EmulatorProcess("127.0.0.1", port, tmp_path / "log")
        # The port accepts (another server has it): start must not take that for the emulator.
        with pytest.raises(RuntimeError, match="already in use"):
            emulator.start()


def test_exits_when_the_process_that_started_it_dies(tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from linkflow.local.stripe_process import EmulatorProcess
        emulator = EmulatorProcess("127.0.0.1", {port}, Path({str(tmp_path / "log")!r})).start()
        print(emulator.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _accepts(port)
    parent.send_signal(signal.SIGKILL)  # no chance to stop its child
    parent.wait()
    deadline = time.monotonic() + 10
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(child)
