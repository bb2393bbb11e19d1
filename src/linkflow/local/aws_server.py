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
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
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
    return make_server(host, port, app, threaded=True, request_handler=request_handler)


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


class AwsApp:
    def __init__(self, registry: _faults.FaultRegistry, admin: AdminCalls):
        self.moto = DomainDispatcherApplication(create_backend_app)
        _remember_moto_dispatch(self.moto)
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
                return list(self.moto(environ, start_response))
        answer: Iterable[bytes] = self.moto(environ, start_response)
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
        self._server = bind(self.host, self.port, self.app, QuietRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="linkflow-aws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
