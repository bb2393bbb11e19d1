"""Serving the emulator: in a background thread for tests, or blocking for the CLI."""

from __future__ import annotations

import errno
import signal
import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import create_app
from .state import EmulatorState

START_TIMEOUT_SECONDS = 10.0


class PortInUseError(OSError):
    """The emulator's port is already taken by another process."""


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so (else +40 ms per answer).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, f"Stripe emulator: port {port} on {host} is already in use") from exc
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _server(state: EmulatorState, host: str, port: int, latency_ms: float) -> uvicorn.Server:
    if latency_ms:
        state.faults.add({"latency_ms": latency_ms})
    config = uvicorn.Config(create_app(state), host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


class EmulatorServer:
    """The emulator on ``host:port`` (port 0: any free port), served from a background thread.

    ``latency_ms`` adds that delay to every ``/v1`` answer (a permanent latency fault; a reset
    clears it). Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 12111, *, latency_ms: float = 0,
                 state: EmulatorState | None = None) -> None:
        self.host = host
        self.port = port
        self.state = state or EmulatorState()
        self._latency_ms = latency_ms
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Start serving; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the Stripe emulator is already running")
        self._socket = _bind(self.host, self.port)
        self.state.open()
        self.port = self._socket.getsockname()[1]
        self._server = _server(self.state, self.host, self.port, self._latency_ms)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"stripe-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Stripe emulator did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and stop webhook delivery."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.state.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run(host: str = "127.0.0.1", port: int = 12111, *, parent_pid: int | None = None) -> None:
    """Serve the emulator in the foreground until SIGINT or SIGTERM (or, with ``parent_pid``,
    until that process is gone: the local stack's child never outlives the stack)."""
    state = EmulatorState()
    sock = _bind(host, port)
    server = _server(state, host, port, 0)
    display = f"[{host}]" if ":" in host else host
    print(f"Stripe emulator listening on http://{display}:{sock.getsockname()[1]}", flush=True)

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    if parent_pid is not None:
        threading.Thread(target=_exit_with, args=(parent_pid, server), name="stripe-emulator-parent",
                         daemon=True).start()

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to whatever handler
    # was there before it; ours makes that a clean exit (status 0) instead of a KeyboardInterrupt.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        state.close()


def _exit_with(parent_pid: int, server: uvicorn.Server) -> None:
    """Stop ``server`` once ``parent_pid`` is no longer this process's parent (it exited or died:
    the orphan is re-parented)."""
    import os

    while os.getppid() == parent_pid and not server.should_exit:
        time.sleep(0.5)
    server.should_exit = True
