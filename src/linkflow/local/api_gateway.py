"""The template's HTTP API routes, served as API Gateway (HTTP API, payload 2.0) calls the Lambdas,
plus the admin ``POST /_linkflow/ping`` (``admin.py``) and, when the stack hands them in, extra
routes such as the example app page (``app_page``).

A route guarded by a JWT authorizer is authorized first (``jwt_authorizer.py``): a refusal is
API Gateway's 401 or 403 and the Lambda never runs. An API with a ``CorsConfiguration`` answers
preflight requests itself and adds the CORS headers to its answers for an allowed origin.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import admin
from .aws_server import PortInUseError
from .jwt_authorizer import Granted, JwtVerifier, Refused, RouteAuth, route_auth
from .lambda_runtime import is_throttle

Invoker = Callable[[str, dict[str, Any]], tuple[Any, bool]]
WarmInvoker = Callable[[str, dict[str, Any]], Awaitable[tuple[Any, bool]] | None]


@dataclass(frozen=True)
class Cors:
    """An HTTP API's ``CorsConfiguration``."""

    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def of(cls, config: Any) -> Cors | None:
        if not isinstance(config, dict):
            return None  # `CorsConfiguration: true` needs SAM's defaults: not emulated, no CORS locally

        def names(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in config.get(key) or [])

        return cls(allow_origins=names("AllowOrigins"), allow_headers=names("AllowHeaders"),
                   allow_methods=names("AllowMethods"), expose_headers=names("ExposeHeaders"),
                   max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
                   allow_credentials=bool(config.get("AllowCredentials", False)))

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def headers(self, origin: str) -> dict[str, str]:
        if not origin or not self.allows(origin):
            return {}
        headers = {"access-control-allow-origin": "*" if "*" in self.allow_origins and not self.allow_credentials
                   else origin}
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self.expose_headers:
            headers["access-control-expose-headers"] = ",".join(self.expose_headers)
        return headers

    def preflight(self, origin: str, method: str) -> dict[str, str]:
        headers = self.headers(origin)
        if not headers or (self.allow_methods and "*" not in self.allow_methods
                           and method.upper() not in {m.upper() for m in self.allow_methods}):
            return {}
        headers["access-control-allow-methods"] = ",".join(self.allow_methods or ["*"])
        if self.allow_headers:
            headers["access-control-allow-headers"] = ",".join(self.allow_headers)
        if self.max_age is not None:
            headers["access-control-max-age"] = str(self.max_age)
        return headers


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function: str  # function name
    auth: RouteAuth | None = None  # the JWT authorizer guarding it
    cors: Cors | None = None  # its API's CorsConfiguration

    @classmethod
    def of_event(cls, event: dict[str, Any], function: str, api: dict[str, Any] | None,
                 resolve: Callable[[Any, str], Any], where: str) -> HttpRoute:
        """The route of a SAM ``HttpApi`` event; ``api`` is the HttpApi resource its ``ApiId``
        names (or SAM's implicit API's ``Globals.HttpApi``)."""
        properties = (api or {}).get("Properties") or {}
        return cls(method=event.get("Method", "ANY").upper(), path=event["Path"], function=function,
                   auth=route_auth(api, event, resolve, where),
                   cors=Cors.of(resolve(properties.get("CorsConfiguration"), where)))


def _event(request: Request, route: HttpRoute, body: bytes, granted: Granted | None = None) -> dict[str, Any]:
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
            **({"authorizer": granted.event_context()} if granted is not None else {}),
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


def _call(route: HttpRoute, invoke: Invoker, verifier: JwtVerifier | None, request: Request,
          body: bytes) -> Response:
    granted = None
    if route.auth is not None:
        assert verifier is not None
        decision = verifier.authorize(request.headers, route.auth)
        if isinstance(decision, Refused):
            return JSONResponse(decision.body, status_code=decision.status, headers=decision.headers)
        granted = decision
    return _answer(*invoke(route.function, _event(request, route, body, granted)))


async def _call_warm(route: HttpRoute, warm: WarmInvoker, verifier: JwtVerifier | None, request: Request,
                     body: bytes) -> Response | None:
    """``_call`` on the event loop, when nothing in it can block: a remembered token (or no
    authorizer) and an idle warm worker. None: ``_call`` it on a thread."""
    granted = None
    if route.auth is not None:
        assert verifier is not None
        decision = verifier.authorize_remembered(request.headers, route.auth)
        if decision is None:
            return None
        if isinstance(decision, Refused):
            return JSONResponse(decision.body, status_code=decision.status, headers=decision.headers)
        granted = decision
    pending = warm(route.function, _event(request, route, body, granted))
    if pending is None:
        return None
    return _answer(*await pending)


def _answer(result: Any, errored: bool) -> Response:
    if is_throttle(result, errored):
        # Lambda refused the call (reserved concurrency): an HTTP API answers 503, no handler ran.
        return JSONResponse({"message": "Service Unavailable"}, status_code=503)
    if errored:
        # API Gateway answers a failed integration with 500 and a generic message.
        return JSONResponse({"message": "Internal Server Error"}, status_code=500)
    return _response(result)


def build_app(routes: list[HttpRoute], invoke: Invoker, verifier: JwtVerifier | None = None,
              extra: list[BaseRoute] | None = None) -> Starlette:
    if verifier is None and any(r.auth is not None for r in routes):
        raise ValueError("routes guarded by a JWT authorizer need a JwtVerifier")

    # A runtime that can run an invocation on the event loop (ProcessRuntime.invoke_warm) spares
    # each request two thread hand-offs (~0.1 ms of the stack's CPU), all else still on a thread.
    warm: WarmInvoker | None = getattr(getattr(invoke, "__self__", None), "invoke_warm", None)

    def endpoint_for(route: HttpRoute) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            import anyio.to_thread

            body = await request.body()
            answer = await _call_warm(route, warm, verifier, request, body) if warm is not None else None
            if answer is None:
                answer = await anyio.to_thread.run_sync(_call, route, invoke, verifier, request, body)
            if route.cors is not None:
                answer.headers.update(route.cors.headers(request.headers.get("origin", "")))
            return answer

        return endpoint

    def preflight_for(cors: Cors) -> Callable[[Request], Any]:
        async def preflight(request: Request) -> Response:
            origin = request.headers.get("origin", "")
            method = request.headers.get("access-control-request-method", "")
            return Response(status_code=204, headers=cors.preflight(origin, method))

        return preflight

    starlette_routes: list[BaseRoute] = [Route(r.path, endpoint_for(r), methods=[r.method]) for r in routes]
    cors_by_path = {r.path: r.cors for r in routes if r.cors is not None}
    starlette_routes += [Route(path, preflight_for(cors), methods=["OPTIONS"]) for path, cors in cors_by_path.items()
                         if not any(r.path == path and r.method == "OPTIONS" for r in routes)]
    starlette_routes.append(Route(admin.PING_PATH, admin.ping, methods=["POST"]))
    starlette_routes += extra or []
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


