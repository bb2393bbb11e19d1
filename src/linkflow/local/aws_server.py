"""The local AWS endpoint: moto's server app behind a thin WSGI layer.

The layer answers injected faults before moto sees a request, hands the local stack's admin
calls under ``/_linkflow/`` to ``admin.py``, serves a user pool's keys under
``/<pool id>/.well-known/`` (``cognito_keys.py``), and counts the JSON-protocol operations it serves by
``X-Amz-Target`` (``GET /_linkflow/requests``).
"""

from __future__ import annotations

import errno
import io
import json
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError
from flask import Response
from moto.core.request import normalize_request
from moto.core.utils import convert_to_flask_response
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import (
    BackendRequest,
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import BaseWSGIServer, make_server

from . import cognito_keys
from . import faults as _faults
from .admin import ADMIN_PREFIX, AdminCalls

_DYNAMODB_WRITES = {f"DynamoDB_20120810.{op}" for op in (
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")}


class PortInUseError(OSError):
    pass


class QuietRequestHandler(MotoRequestHandler):
    """One line per request on the console is noise at hundreds of requests per second."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class KeepAliveRequestHandler(QuietRequestHandler):
    """werkzeug's handler with HTTP/1.1 keep-alive, as AWS's endpoints keep connections open.

    werkzeug's development server answers every request with ``Connection: close`` (it cannot
    drain an unread body before the next request line): every SDK call paid a new TCP connection
    and a new server thread, and the server a drain loop, all on the stack's one GIL. This handler
    reads the whole body before the application runs (``Content-Length``: the SDKs frame these
    services' requests no other way), so the connection is always at a request boundary, and
    writes status line, headers and body in one ``sendall``. A request framed otherwise
    (``Transfer-Encoding``, ``Expect``) takes werkzeug's way and closes; so does an answer without
    a ``Content-Length`` (a stream ends with its connection).
    """

    # An idle connection holds its thread: one a client dropped without closing (an SDK client
    # not yet collected) is released after this long.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        _connections(self.server).add(self.connection)

    def finish(self) -> None:
        _connections(self.server).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers:
            super().run_wsgi()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        started: list[Any] = []
        answered = False
        early: list[bytes] = []  # the WSGI write() callable's output, before the iterable's

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return early.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks = iter(result)
                first = next(chunks, b"")
                status, headers = started
                answered = True  # from here on the status line is on its way
                if any(k.lower() == "content-length" for k, _ in headers):
                    self._answer(status, headers, b"".join([*early, first, *chunks]))
                else:
                    self._stream(status, headers, [*early, first], chunks)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away: nobody to answer
        except Exception:
            self.close_connection = True
            self.log("error", "Error on request %s %s:\n%s", self.command, self.path, traceback.format_exc())
            if not answered:
                self._answer("500 Internal Server Error", [("Content-Length", "0")], b"")

    def _head(self, status: str, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"{self.protocol_version} {status}", *(f"{k}: {v}" for k, v in headers)]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _answer(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.wfile.write(self._head(status, headers) + payload)

    def _stream(self, status: str, headers: list[tuple[str, str]], first: list[bytes], rest: Iterator[bytes]) -> None:
        self.close_connection = True
        self.wfile.write(self._head(status, headers) + b"".join(first))
        for chunk in rest:
            self.wfile.write(chunk)


def _connections(server: Any) -> set[Any]:
    """The connections ``server`` holds open (the set ``bind`` gave it)."""
    return server.linkflow_connections  # type: ignore[no-any-return]


def close_connections(server: Any) -> None:
    """End every kept-alive connection of ``server``: a stopped stack answers no one, and a client
    holding a connection learns it at once instead of at its next request."""
    import socket

    for connection in list(_connections(server)):
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed meanwhile


def ensure_free(host: str, port: int) -> None:
    """Raise PortInUseError naming the port if something already listens there."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                errno.EADDRINUSE, f"port {port} on {host} is already in use (is another local stack running?)"
            ) from exc


def bind(host: str, port: int, app: Any, request_handler: Any = None) -> BaseWSGIServer:
    # werkzeug prints its own message and exits the process when the port is taken: check first.
    ensure_free(host, port)
    server = make_server(host, port, app, threaded=True, request_handler=request_handler)
    server.linkflow_connections = set()  # type: ignore[attr-defined]  # KeepAliveRequestHandler's
    return server


def _remember_moto_dispatch(dispatcher: DomainDispatcherApplication) -> None:
    """Remember two answers moto works out again for every request, under one process-wide lock.

    - Which backend serves a host: ``get_backend_for_host`` lists moto's package directory (a
      ``stat`` per service, about 150) and tries every service's URL patterns; the answer for a host
      never changes while the stack runs.
    - Which actions a response class has: ``method_names_from_class`` runs ``inspect.getmembers``
      over the class. The answer is kept per class and the size of its namespaces, so a method
      patched in later (``sfn_api``) is seen.

    Before: about 10% of the stack's CPU during the throughput bench, and the lock's holder stalled
    every other request thread.
    """
    from moto.core import responses as moto_responses
    from moto.core import utils as moto_utils

    find_backend = dispatcher.get_backend_for_host
    backends: dict[str | None, Any] = {}

    def get_backend_for_host(host: str | None) -> Any:
        if host not in backends:
            backends[host] = find_backend(host)
        return backends[host]

    dispatcher.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]

    list_methods = moto_utils.method_names_from_class
    if getattr(vars(moto_responses)["method_names_from_class"], "remembered", False):
        return
    methods: dict[tuple[type, int], frozenset[str]] = {}

    def method_names_from_class(clazz: type) -> frozenset[str]:
        key = (clazz, sum(len(vars(k)) for k in clazz.__mro__))
        names = methods.get(key)
        if names is None:
            names = methods[key] = frozenset(list_methods(clazz))
        return names

    method_names_from_class.remembered = True  # type: ignore[attr-defined]
    moto_responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined,assignment]


class JsonDirect:
    """A JSON-protocol call (``POST /`` naming its operation in ``X-Amz-Target``: DynamoDB, Cognito,
    Step Functions) handed straight to the view moto's Flask app would route it to.

    The view (``moto.core.utils.convert_to_flask_response``) only wraps the response class's
    ``dispatch``; Flask around it (request and app contexts, URL matching, CORS, response
    finalizing) cost as much of the stack's GIL as the DynamoDB write it carried, on every one of a
    sign-up's ~20 calls. This does what the view does (normalize the request, record it, call
    ``dispatch``, a ``ClientError`` as 400, the answer as a Flask ``Response``) without the rest.
    Anything else (a REST path such as Lambda's, a browser's ``Origin``, a view that is not the
    plain wrapper) goes through Flask as before.
    """

    def __init__(self, dispatcher: DomainDispatcherApplication) -> None:
        self.dispatcher = dispatcher
        self._views: dict[int, Any] = {}  # id(Flask app) -> its view for POST /, or None
        self._urls: dict[tuple[Any, ...], str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes] | None:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/" or "HTTP_ORIGIN" in environ:
            return None
        app = self.dispatcher.get_application(environ)
        view = self._views.get(id(app), _UNSET)
        if view is _UNSET:
            view = self._views[id(app)] = _root_view(app)
        if view is None:
            return None
        request = normalize_request(BackendRequest(environ))
        _parsed_as_werkzeug_would(request)
        recorder._record_request(request)
        try:
            result = view.callback(request, self._raw_url(request, environ), dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        plain = _plain_answer(status, headers, content, environ)
        if plain is not None:
            start_response(plain[0], plain[1])
            return [plain[2]]
        answer: Iterable[bytes] = Response(response=content, status=status, headers=headers)(environ, start_response)
        return answer

    def _raw_url(self, request: Any, environ: dict[str, Any]) -> str:
        """``request.raw_url`` (werkzeug's host and URL-root rules: ~30 µs a call), remembered by
        the environ values it is made of: the SDKs call a few addresses only."""
        key = tuple(environ.get(k) for k in _URL_ENVIRON)
        url = self._urls.get(key)
        if url is None:
            url = request.raw_url
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[key] = url
        return url


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _parsed_as_werkzeug_would(request: Any) -> None:
    """What werkzeug's form loading does for a body that is not a form (the JSON protocols'),
    without building a form parser that finds nothing to parse: ``form`` and ``files`` empty, the
    body read from werkzeug's own limited ``stream`` (its length checks) and cached as ``get_data``
    caches it. moto's ``setup_class`` reads ``data``, ``form`` and ``files`` on every request; the
    parser's way there cost ~50 µs. A form (urlencoded, multipart) is left to werkzeug."""
    if request.mimetype in _FORM_TYPES or "form" in request.__dict__ or getattr(request, "_cached_data", None):
        return
    request._cached_data = request.stream.read()
    request.__dict__["form"] = request.parameter_storage_class()
    request.__dict__["files"] = request.parameter_storage_class()


# What werkzeug's url_root and moto's raw_path / raw_url read from the environ.
_URL_ENVIRON = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO",
                "RAW_URI", "REQUEST_URI", "QUERY_STRING", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO")
_URL_CACHE_SIZE = 256
_SET_BY_RESPONSE = frozenset({"content-length", "location", "content-location", "transfer-encoding"})


PlainAnswer = tuple[str, list[tuple[str, str]], bytes]


def _plain_answer(status: Any, headers: Any, content: Any, environ: dict[str, Any]) -> PlainAnswer | None:
    """What ``flask.Response(content, status, headers)(environ, start_response)`` answers, for the
    plain case moto's JSON views produce (an int status werkzeug knows, a dict of str headers, a
    str or bytes body, not HEAD): the headers in order, Flask's default ``Content-Type`` when none
    is given, ``Content-Length``. Anything else: None (werkzeug's Response builds it)."""
    if type(status) is not int or status not in HTTP_STATUS_CODES or status < 200 or status in (204, 304, 412):
        return None
    if type(headers) is not dict or environ.get("REQUEST_METHOD") == "HEAD":
        return None
    if isinstance(content, str):
        payload = content.encode()
    elif isinstance(content, bytes):
        payload = content
    else:
        return None
    listed: list[tuple[str, str]] = []
    typed = False
    for name, value in headers.items():
        if type(name) is not str or type(value) is not str or "\n" in value or "\r" in value:
            return None
        lowered = name.lower()
        if lowered in _SET_BY_RESPONSE:
            return None
        typed = typed or lowered == "content-type"
        listed.append((name, value))
    if not typed:
        listed.append(("Content-Type", "text/html; charset=utf-8"))
    listed.append(("Content-Length", str(len(payload))))
    return f"{status} {HTTP_STATUS_CODES[status].upper()}", listed, payload


_UNSET: Any = object()


def _root_view(app: Any) -> Any:
    """The plain moto view serving ``POST /`` in ``app``, or None."""

    try:
        endpoint, _args = app.url_map.bind("localhost").match("/", method="POST")
    except HTTPException:
        return None
    view = app.view_functions.get(endpoint)
    return view if isinstance(view, convert_to_flask_response) else None


class AwsApp:
    def __init__(self, registry: _faults.FaultRegistry, admin: AdminCalls):
        self.moto = DomainDispatcherApplication(create_backend_app)
        _remember_moto_dispatch(self.moto)
        self.direct = JsonDirect(self.moto)
        self.registry = registry
        self.admin = admin
        self._ddb_write_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self._admin(path[len(ADMIN_PREFIX) :], environ, start_response)
        well_known = cognito_keys.answer(environ)  # a pool's JWKS, as Cognito publishes it
        if well_known is not None:
            code, found_headers, found = well_known
            start_response(f"{code} {'OK' if code < 400 else 'Not Found'}",
                           found_headers + [("Content-Length", str(len(found)))])
            return [found]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            self.admin.operations.add(target)
        if self.registry.active():
            body = _read_body(environ)
            kind = _faults.classify(environ, body)
            if kind is not None:
                fault = self.registry.take(*kind)
                if fault is not None and fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)  # this request's thread only
                if fault is not None and fault.error is not None:
                    status, headers, payload = _faults.error_response(kind[0], fault)
                    start_response(status, headers + [("Content-Length", str(len(payload)))])
                    return [payload]
        if target in _DYNAMODB_WRITES:
            # moto evaluates a ConditionExpression and writes in two steps with no lock: two
            # concurrent conditional writes could both succeed. DynamoDB serializes writes to an
            # item; serializing every write here gives the same guarantee.
            with self._ddb_write_lock:
                return list(self._moto(target, environ, start_response))
        return self._moto(target, environ, start_response)

    def _moto(self, target: str, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        answer = self.direct(environ, start_response) if target else None
        if answer is None:
            answer = self.moto(environ, start_response)
        return answer

    def _admin(self, name: str, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, result = self.admin.answer(environ.get("REQUEST_METHOD", "GET"), name, _read_body(environ))
        payload = json.dumps(result, default=str).encode()
        start_response(f"{status} {'OK' if status < 400 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class AwsServer:
    def __init__(self, host: str, port: int, app: AwsApp):
        self.host, self.port, self.app = host, port, app
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = bind(self.host, self.port, self.app, KeepAliveRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="linkflow-aws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            close_connections(self._server)
        if self._thread is not None:
            self._thread.join(timeout=5)
