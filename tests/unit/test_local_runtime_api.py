"""A worker's Runtime API endpoint, spoken to as a runtime client speaks to it (http.client, and raw
bytes for what a client should not send): the answers, their headers, and the connection kept
open or closed as HTTP/1.1 says."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from linkflow.local.runtime._runtime_api import PREFIX, Invocation, RuntimeApi

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:linkflow-echo"


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    handed: list[str] = []
    runtime_api = RuntimeApi(on_handover=lambda invocation: handed.append(invocation.request_id))
    yield runtime_api
    runtime_api.close()


def _connect(api: RuntimeApi) -> http.client.HTTPConnection:
    host, port = api.address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def _submitted(api: RuntimeApi, request_id: str = "req-1", payload: bytes = b'{"say": "hi"}') -> Invocation:
    invocation = Invocation(request_id, payload, timeout=3.0, function_arn=ARN)
    api.submit(invocation)
    return invocation


def _raw(api: RuntimeApi, request: bytes) -> bytes:
    """What the endpoint answers to ``request`` until it closes the connection."""
    host, port = api.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_next_hands_the_invocation_with_lambdas_headers_and_the_result_is_taken_on_the_same_connection(
        api: RuntimeApi) -> None:
    invocation = _submitted(api)
    conn = _connect(api)
    before = time.time()
    conn.request("GET", f"{PREFIX}/invocation/next")
    answer = conn.getresponse()
    assert answer.status == 200 and answer.read() == b'{"say": "hi"}'
    assert answer.getheader("Lambda-Runtime-Aws-Request-Id") == "req-1"
    assert answer.getheader("Lambda-Runtime-Invoked-Function-Arn") == ARN
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
                        answer.getheader("Lambda-Runtime-Trace-Id") or "")
    deadline_ms = int(answer.getheader("Lambda-Runtime-Deadline-Ms") or 0)
    assert before * 1000 + 2500 < deadline_ms <= time.time() * 1000 + 3000
    assert answer.getheader("Content-Type") == "application/json" and answer.getheader("Date")
    assert answer.getheader("Content-Length") == str(len(b'{"say": "hi"}'))
    assert invocation.handed_at is not None and api.ready_at is not None

    conn.request("POST", f"{PREFIX}/invocation/req-1/response", body=b'{"ok": true}',
                 headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    assert (answer.status, json.loads(answer.read())) == (202, {"status": "OK"})
    assert api.wait(invocation, init_deadline=time.monotonic() + 5) == "done"
    assert invocation.outcome is not None and (invocation.outcome.body, invocation.outcome.errored) == (
        b'{"ok": true}', False)

    second = _submitted(api, "req-2", b"{}")  # the same connection once more: kept open
    conn.request("GET", f"{PREFIX}/invocation/next")
    answer = conn.getresponse()
    assert answer.getheader("Lambda-Runtime-Aws-Request-Id") == "req-2" and answer.read() == b"{}"
    conn.request("POST", f"{PREFIX}/invocation/req-2/error", body=b'{"errorType": "Boom"}')
    assert conn.getresponse().status == 202
    assert second.outcome is not None and second.outcome.errored
    conn.close()


def test_a_chunked_body_after_expect_100_continue_is_read_whole(api: RuntimeApi) -> None:
    invocation = _submitted(api)
    conn = _connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    conn.getresponse().read()
    answer = _raw(api, b"POST " + f"{PREFIX}/invocation/req-1/response".encode() + b" HTTP/1.1\r\n"
                  b"Host: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  b"5\r\n{\"a\":\r\n4;ext=1\r\n 12}\r\n0\r\nTrailer: t\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n")
    assert b"\r\nConnection: close\r\n" in answer and answer.endswith(b'{"status": "OK"}')
    assert invocation.outcome is not None and invocation.outcome.body == b'{"a": 12}'
    conn.close()


def test_an_init_error_is_recorded(api: RuntimeApi) -> None:
    conn = _connect(api)
    conn.request("POST", f"{PREFIX}/init/error", body=b'{"errorType": "Runtime.ImportModuleError"}')
    assert conn.getresponse().status == 202
    assert api.init_error == b'{"errorType": "Runtime.ImportModuleError"}'
    conn.close()


def test_unknown_paths_and_request_ids_are_refused_and_the_connection_kept(api: RuntimeApi) -> None:
    conn = _connect(api)
    for method, path, status, error in [
        ("GET", f"{PREFIX}/invocation/nxt", 404, {"errorType": "NotFound", "errorMessage": f"{PREFIX}/invocation/nxt"}),
        ("POST", f"{PREFIX}/invocation/nobody/response", 400,
         {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"}),
        ("POST", f"{PREFIX}/invocation/nobody/else", 404,
         {"errorType": "NotFound", "errorMessage": f"{PREFIX}/invocation/nobody/else"}),
    ]:
        conn.request(method, path, body=b"{}" if method == "POST" else None)
        answer = conn.getresponse()
        assert (answer.status, json.loads(answer.read())) == (status, error)
        assert answer.getheader("Connection") is None
    conn.close()


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET /x SPDY/3\r\n\r\n", 400),
    (b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /x HTTP/1.1\r\nLong: " + b"x" * 70000 + b"\r\n\r\n", 431),
    (b"GET /x HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
    (b"PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 501),
    (b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", 404),
    (b"GET /x HTTP/1.0\r\n\r\n", 404),
], ids=["no target", "header without colon", "not http", "line too long", "header too long", "too many headers", "PUT",
        "connection close", "http/1.0"])
def test_what_ends_the_connection(api: RuntimeApi, request_bytes: bytes, status: int) -> None:
    answer = _raw(api, request_bytes + b"GET /never-read HTTP/1.1\r\n\r\n")
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert answer.count(b"HTTP/1.1 ") == 1 and b"\r\nConnection: close\r\n" in answer  # then closed


def test_a_worker_waiting_for_work_is_told_to_stop_when_the_endpoint_closes(api: RuntimeApi) -> None:
    answers: list[tuple[int, bytes, str | None]] = []

    def wait_for_work() -> None:
        conn = _connect(api)
        conn.request("GET", f"{PREFIX}/invocation/next")
        answer = conn.getresponse()
        answers.append((answer.status, answer.read(), answer.getheader("Connection")))

    waiter = threading.Thread(target=wait_for_work)
    waiter.start()
    for _ in range(500):
        if api.ready_at is not None:
            break
        time.sleep(0.01)
    api.close()
    waiter.join(timeout=10)
    assert answers == [(500, b'{"errorType": "Runtime.Stopped", "errorMessage": "worker stopped"}', "close")]
