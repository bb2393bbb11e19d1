"""One worker's Lambda Runtime API endpoint: the HTTP server its runtime interface client polls.

awslambdaric asks ``GET /2018-06-01/runtime/invocation/next`` for work (the answer waits until
an invocation is assigned), then posts the handler's result to ``.../invocation/<id>/response``
or its failure to ``.../invocation/<id>/error``; an import that fails posts ``.../init/error``
and the process exits. The ``next`` answer must carry every header below: without
``Lambda-Runtime-Trace-Id`` the native client dies with SIGSEGV.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

PREFIX = "/2018-06-01/runtime"
_RESULT_PATH = re.compile(rf"{PREFIX}/invocation/([^/]+)/(response|error)")

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


class RuntimeApi:
    """Hands one invocation at a time to one worker and collects what it answers."""

    def __init__(self, on_handover: Callable[[Invocation], None]) -> None:
        self._on_handover = on_handover
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
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
                if invocation.outcome is not None:
                    return "done"
                if self.init_error is not None:
                    return "init_error"
                if self.exit_code is not None:
                    return "exited"
                end: WaitEnd
                if invocation.deadline is not None:
                    limit, end = invocation.deadline, "timeout"
                elif self.ready_at is None:  # still in its init phase
                    limit, end = init_deadline, "init_timeout"
                    invocation.waits_for_init = True
                else:  # warm: about to take it (a worker spawned long ago is no init timeout)
                    limit, end = invocation.submitted_at + invocation.timeout, "timeout"
                left = limit - time.monotonic()
                if left <= 0:
                    return end
                self._cond.wait(left)

    def exited(self, code: int) -> None:
        with self._cond:
            self.exit_code = code
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
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
                self._cond.notify_all()
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
            self._cond.notify_all()
            return True

    def fail_init(self, body: bytes) -> None:
        with self._cond:
            self.init_error = body
            self._cond.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a worker killed mid-request (timeout, reaping) leaves a broken connection: expected


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        invocation = self.server.api.next_invocation()
        if invocation is None:  # the worker is being stopped
            self.close_connection = True
            return self._reply(500, {"errorType": "Runtime.Stopped", "errorMessage": "worker stopped"})
        assert invocation.deadline is not None
        deadline_ms = int((time.time() + (invocation.deadline - time.monotonic())) * 1000)
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn)
        self.send_header("Lambda-Runtime-Trace-Id", _trace_id())
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(invocation.payload)))
        self.end_headers()
        self.wfile.write(invocation.payload)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == f"{PREFIX}/init/error":
            self.server.api.fail_init(body)
            return self._reply(202, {"status": "OK"})
        match = _RESULT_PATH.fullmatch(self.path)
        if match is None:
            return self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        if not self.server.api.answer(match[1], body, errored=match[2] == "error"):
            return self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"})
        self._reply(202, {"status": "OK"})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
