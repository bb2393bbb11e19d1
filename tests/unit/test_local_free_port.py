"""``free_port``: ports for a stack of its own, drawn below the kernel's ephemeral range so that no
outgoing connection can take one between the pick and the stack's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from linkflow.local import process
from linkflow.local.process import HOST, free_port


def test_ports_are_below_the_ephemeral_range_distinct_and_bindable():
    low = process._ephemeral_low()
    if low is None:
        pytest.skip("this machine has no /proc/sys/net/ipv4/ip_local_port_range to read the ephemeral range from")
    ports = [free_port() for _ in range(60)]
    assert len(set(ports)) == len(ports)
    assert all(process._FIRST_PORT <= port < low for port in ports), (low, ports)
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind((HOST, port))  # nothing listens there


def test_a_port_in_use_or_handed_out_before_is_not_handed_out(monkeypatch):
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        free = probe.getsockname()[1]
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        draws = iter([taken, 7, free])  # in use, handed out before, free
        monkeypatch.setattr(process, "_ephemeral_low", lambda: 65000)
        monkeypatch.setattr(process, "_handed_out", {7})
        monkeypatch.setattr(process.random, "randint", lambda a, b: next(draws))
        assert free_port() == free
        assert free in process._handed_out


def test_without_a_known_range_the_kernel_picks(monkeypatch, tmp_path: Path):
    assert process._ephemeral_low(tmp_path / "missing") is None
    monkeypatch.setattr(process, "_ephemeral_low", lambda: None)
    port = free_port()
    with socket.socket() as sock:
        sock.bind((HOST, port))
