"""One worker's Lambda Runtime API endpoint: the HTTP server its runtime interface client polls.

awslambdaric asks ``GET /2018-06-01/runtime/invocation/next`` for work (the answer waits until
an invocation is assigned), then posts the handler's result to ``.../invocation/<id>/response``
or its failure to ``.../invocation/<id>/error``; an import that fails posts ``.../init/error``
and the process exits. The ``next`` answer must carry every header below: without
``Lambda-Runtime-Trace-Id`` the native client dies with SIGSEGV.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Any, Literal

PREFIX = "/2018-06-01/runtime"
_RESULT_PATH = re.compile(rf"{PREFIX}/invocation/([^/]+)/(response|error)")
_MAX_LINE = 65536  # http.server's limits: a longer line or more headers is refused
_MAX_HEADERS = 100
_REASONS = {status.value: status.phrase for status in HTTPStatus}

WaitEnd = Literal["done", "timeout", "init_error", "init_timeout", "exited"]


@dataclass
class Outcome:
    body: bytes
    errored: bool
    at: float  # time.monotonic() when the worker answered


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    timeout: float
    function_arn: str
    submitted_at: float = field(default_factory=time.monotonic)
    handed_at: float | None = None  # time.monotonic() when the worker took it
    deadline: float | None = None
    outcome: Outcome | None = None
    waits_for_init: bool = False  # the invoking thread waits until the init deadline


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RuntimeApi:
    """Hands one invocation at a time to one worker and collects what it answers."""

    def __init__(self, on_handover: Callable[[Invocation], None]) -> None:
        self._on_handover = on_handover
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._watcher: Callable[[], object] | None = None  # wakes an invocation awaited on an event loop
        self._closed = False
        self.ready_at: float | None = None  # the first `next`: the end of the worker's init
        self.init_error: bytes | None = None
        self.exit_code: int | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"runtime-api-{self.address}", daemon=True)
        self._thread.start()

    # -- the invoking side -----------------------------------------------------------------------
    def submit(self, invocation: Invocation) -> None:
        with self._cond:
            assert self._pending is None and self._current is None, "a worker runs one invocation at a time"
            self._pending = invocation
            self._cond.notify_all()

    def wait(self, invocation: Invocation, init_deadline: float) -> WaitEnd:
        """Block until the invocation is answered or cannot be (timeout, init error, exit)."""
        with self._cond:
            while True:
                end, left = self._state(invocation, init_deadline)
                if left <= 0:
                    return end
                self._cond.wait(left)

    async def wait_async(self, invocation: Invocation, init_deadline: float) -> WaitEnd:
        """``wait`` on an event loop: woken by the thread that answers, not waited for by one."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                changed = loop.create_future()
                with self._cond:
                    end, left = self._state(invocation, init_deadline)
                    if left <= 0:
                        return end
                    self._watcher = functools.partial(loop.call_soon_threadsafe, _resolve, changed)
                timer = loop.call_later(left, _resolve, changed)
                await changed
                timer.cancel()
        finally:
            with self._cond:
                self._watcher = None

    def _state(self, invocation: Invocation, init_deadline: float) -> tuple[WaitEnd, float]:
        """How the wait ends, and the seconds until it does (0: it has). Called with the lock held."""
        if invocation.outcome is not None:
            return "done", 0.0
        if self.init_error is not None:
            return "init_error", 0.0
        if self.exit_code is not None:
            return "exited", 0.0
        end: WaitEnd
        if invocation.deadline is not None:
            limit, end = invocation.deadline, "timeout"
        elif self.ready_at is None:  # still in its init phase
            limit, end = init_deadline, "init_timeout"
            invocation.waits_for_init = True
        else:  # warm: about to take it (a worker spawned long ago is no init timeout)
            limit, end = invocation.submitted_at + invocation.timeout, "timeout"
        return end, limit - time.monotonic()

    def _changed(self) -> None:
        """Wake whoever waits for the invocation (called with the lock held)."""
        self._cond.notify_all()
        if self._watcher is not None:
            try:
                self._watcher()
            except RuntimeError:  # its event loop is closed (the API server stopped): nobody to wake
                self._watcher = None

    def exited(self, code: int) -> None:
        with self._cond:
            self.exit_code = code
            self._changed()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._changed()
        # shutdown() waits for the serve loop's next poll: not on the invoking thread's time
        threading.Thread(target=self._shut_down, name=f"{self._thread.name}-close", daemon=True).start()

    def _shut_down(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the worker's side (request threads) -----------------------------------------------------
    def next_invocation(self) -> Invocation | None:
        with self._cond:
            if self.ready_at is None:
                self.ready_at = time.monotonic()
            while self._pending is None and not self._closed:
                self._cond.wait()
            invocation, self._pending = self._pending, None
            if invocation is None or self._closed:
                return None
            invocation.handed_at = time.monotonic()
            invocation.deadline = invocation.handed_at + invocation.timeout
            self._current = invocation
            if invocation.waits_for_init:  # now until the deadline instead
                self._changed()
            # else it waits until submitted_at + timeout, before the deadline: no wake-up needed
        self._on_handover(invocation)  # before the answer: START precedes the handler's output
        return invocation

    def answer(self, request_id: str, body: bytes, errored: bool) -> bool:
        with self._cond:
            current = self._current
            if current is None or current.request_id != request_id:
                return False
            current.outcome = Outcome(body, errored, time.monotonic())
            self._current = None
            self._changed()
            return True

    def fail_init(self, body: bytes) -> None:
        with self._cond:
            self.init_error = body
            self._changed()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a worker killed mid-request (timeout, reaping) leaves a broken connection: expected


class _Handler(StreamRequestHandler):
    """The HTTP/1.1 a runtime client speaks: a request line, plain ``Name: value`` headers, a body
    by ``Content-Length`` or chunked, the connection kept open. Read and answered here directly:
    ``http.server``'s request parsing and its header-by-header answers cost a fifth of the stack's
    share of an invocation."""

    disable_nagle_algorithm = True
    server: _Server

    def handle(self) -> None:
        while self._handle_one():
            pass

    def _handle_one(self) -> bool:
        """Answer one request; False: the connection ends."""
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.split()
        if len(line) > _MAX_LINE:
            return self._reply(414, {"errorType": "BadRequest", "errorMessage": "request line too long"}, close=True)
        headers = self._headers()
        if isinstance(headers, int):
            return self._reply(headers, {"errorType": "BadRequest", "errorMessage": "malformed headers"}, close=True)
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return self._reply(400, {"errorType": "BadRequest", "errorMessage": "malformed request"}, close=True)
        method, path = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        connection = headers.get("connection", "").lower()
        close = connection == "close" or (parts[2] == b"HTTP/1.0" and connection != "keep-alive")
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if method == "GET":
            return self._next(path, close)
        if method == "POST":
            return self._post(path, self._body(headers), close)
        return self._reply(501, {"errorType": "NotImplemented", "errorMessage": method}, close=True)

    def _headers(self) -> dict[str, str] | int:
        """The header block, names lowercased; else the status refusing it (http.server's)."""
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(line) > _MAX_LINE:
                return 431
            name, colon, value = line.partition(b":")
            if not colon or not name.strip():
                return 400
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        return 431  # more than 100

    def _next(self, path: str, close: bool) -> bool:
        if path != f"{PREFIX}/invocation/next":
            return self._reply(404, {"errorType": "NotFound", "errorMessage": path}, close)
        invocation = self.server.api.next_invocation()
        if invocation is None:  # the worker is being stopped
            return self._reply(500, {"errorType": "Runtime.Stopped", "errorMessage": "worker stopped"}, close=True)
        assert invocation.deadline is not None
        deadline_ms = int((time.time() + (invocation.deadline - time.monotonic())) * 1000)
        return self._send(200, invocation.payload, close, (
            f"Lambda-Runtime-Aws-Request-Id: {invocation.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {invocation.function_arn}\r\n"
            f"Lambda-Runtime-Trace-Id: {_trace_id()}\r\n"))

    def _post(self, path: str, body: bytes, close: bool) -> bool:
        if path == f"{PREFIX}/init/error":
            self.server.api.fail_init(body)
            return self._reply(202, {"status": "OK"}, close)
        match = _RESULT_PATH.fullmatch(path)
        if match is None:
            return self._reply(404, {"errorType": "NotFound", "errorMessage": path}, close)
        if not self.server.api.answer(match[1], body, errored=match[2] == "error"):
            return self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"}, close)
        return self._reply(202, {"status": "OK"}, close)

    def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(headers.get("content-length") or 0))

    def _reply(self, status: int, body: dict[str, str], close: bool = False) -> bool:
        return self._send(status, json.dumps(body).encode(), close)

    def _send(self, status: int, body: bytes, close: bool, headers: str = "") -> bool:
        """The status line, ``headers`` (each ending in CRLF) and the body, in one write; False
        when the connection ends with it."""
        closing = "Connection: close\r\n" if close else ""
        head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\n{headers}Date: {formatdate(usegmt=True)}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{closing}\r\n")
        self.wfile.write(head.encode("latin-1") + body)
        return not close
