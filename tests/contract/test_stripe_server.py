"""Running the emulator: background server, port conflicts, clean stop, the blocking ``run``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stripe
from conftest import WAIT_SECONDS, make_client

from linkflow.stripe_emulator import EmulatorServer, PortInUseError

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_port_in_use_is_a_clear_oserror(emulator: EmulatorServer) -> None:
    with pytest.raises(PortInUseError) as caught:
        EmulatorServer(port=emulator.port).start()
    assert isinstance(caught.value, OSError)
    assert str(emulator.port) in str(caught.value) and "in use" in str(caught.value)


def test_context_manager_starts_ready_and_stops_cleanly(receiver) -> None:  # noqa: ANN001
    with EmulatorServer(port=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}" and _accepts(server.port)
        client = make_client(server.url)
        client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": ["*"]})
        client.v1.customers.create(params={"email": "own@example.com"})
        assert server.state.wait_idle(WAIT_SECONDS)
        assert server.state.webhooks.running
        assert len(receiver.accepted()) == 1
    assert not _accepts(server.port)
    assert not server.state.webhooks.running


def test_latency_option_delays_every_answer() -> None:
    with EmulatorServer(port=0, latency_ms=60) as server:
        client = make_client(server.url)
        started = time.monotonic()
        client.v1.customers.list()
        assert time.monotonic() - started >= 0.06


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_serves_until_a_signal(sig: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-c", f"from linkflow.stripe_emulator import run; run('127.0.0.1', {port})"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the port is bound
        assert f"http://127.0.0.1:{port}" in line, process.stderr.read() if process.stderr else line
        client = stripe.StripeClient("sk_test_run", base_addresses={"api": f"http://127.0.0.1:{port}"},
                                     max_network_retries=5)
        assert client.v1.customers.create(params={"email": "cli@example.com"}).id.startswith("cus_")
        process.send_signal(sig)
        assert process.wait(WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT_SECONDS)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert not _accepts(port)
