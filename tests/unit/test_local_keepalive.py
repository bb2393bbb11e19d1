"""The local AWS endpoint keeps connections open (``aws_server.KeepAliveRequestHandler``)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from linkflow.local.aws_server import KeepAliveRequestHandler, bind, close_connections
from linkflow.local.process import free_port


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = stream.read() if environ.get("wsgi.input_terminated") else stream.read(length)
    if path == "/boom":
        raise RuntimeError("handler failed")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (b"one ", b"two ", b"three"))
    payload = f"{environ['REMOTE_PORT']}|{len(body)}|{body.decode()}".encode()
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))])
    return [payload]


@pytest.fixture
def server() -> Iterator[Any]:
    port = free_port()
    served = bind("127.0.0.1", port, app, KeepAliveRequestHandler)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()
    close_connections(served)


def test_requests_share_one_connection(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    ports = set()
    for body in (b"first", b"", b"x" * 70_000):
        conn.request("POST", "/echo", body=body)
        answer = conn.getresponse()
        text = answer.read().decode()
        assert answer.status == 201
        assert answer.getheader("Connection") is None  # kept open
        port, length, echoed = text.split("|", 2)
        assert int(length) == len(body) and echoed == body.decode()
        ports.add(port)
    assert len(ports) == 1  # every request arrived on the same client socket
    conn.close()


def test_a_stream_ends_with_its_connection(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/stream")
    answer = conn.getresponse()
    assert answer.getheader("Connection") == "close"
    assert answer.read() == b"one two three"


def test_a_client_asking_to_close_is_closed(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"\r\nConnection: close\r\n" in received


def test_a_failing_application_answers_500_and_closes(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/boom")
    answer = conn.getresponse()
    assert answer.status == 500
    assert answer.getheader("Connection") == "close"
    answer.read()


def test_a_chunked_request_takes_werkzeugs_way(server: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    answer = conn.getresponse()
    assert answer.status == 201
    assert answer.read().decode().split("|", 1)[1] == "4|abcd"
    assert answer.getheader("Connection") == "close"


def test_stopping_ends_idle_connections(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 201")
        close_connections(server)
        assert sock.recv(65536) == b""  # the server ended the connection
