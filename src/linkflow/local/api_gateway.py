"""The template's HTTP API routes, served as API Gateway (HTTP API, payload 2.0) calls the Lambdas,
plus the admin ``POST /_linkflow/ping`` (``admin.py``)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import admin
from .aws_server import PortInUseError

Invoker = Callable[[str, dict[str, Any]], tuple[Any, bool]]


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function: str  # function name


def _event(request: Request, route: HttpRoute, body: bytes) -> dict[str, Any]:
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "queryStringParameters": dict(request.query_params) or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.url.hostname,
            "http": {"method": request.method, "path": request.url.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.client.host if request.client else "127.0.0.1",
                     "userAgent": request.headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _response(result: Any) -> Response:
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return Response(raw, status_code=int(result["statusCode"]), headers=result.get("headers") or {})
    return JSONResponse(result)


def build_app(routes: list[HttpRoute], invoke: Invoker) -> Starlette:
    def endpoint_for(route: HttpRoute) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            event = _event(request, route, body)
            import anyio.to_thread

            result, errored = await anyio.to_thread.run_sync(invoke, route.function, event)
            if errored:
                # API Gateway answers a failed integration with 500 and a generic message.
                return JSONResponse({"message": "Internal Server Error"}, status_code=500)
            return _response(result)

        return endpoint

    starlette_routes = [Route(r.path, endpoint_for(r), methods=[r.method]) for r in routes]
    starlette_routes.append(Route(admin.PING_PATH, admin.ping, methods=["POST"]))
    app = Starlette(routes=starlette_routes)
    app.add_exception_handler(404, lambda req, exc: JSONResponse({"message": "Not Found"}, status_code=404))
    app.add_exception_handler(405, lambda req, exc: JSONResponse({"message": "Method Not Allowed"}, status_code=405))
    return app


class ApiServer:
    def __init__(self, host: str, port: int, app: Starlette):
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without TCP_NODELAY every answer on a kept-alive connection waits ~40 ms for the
        # client's delayed ACK (Nagle); uvicorn sets it only on sockets it binds itself.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            message = f"port {self.port} on {self.host} is already in use (is another local stack running?)"
            raise PortInUseError(exc.errno, message) from exc
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="linkflow-api")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError(f"API server on {self.host}:{self.port} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


