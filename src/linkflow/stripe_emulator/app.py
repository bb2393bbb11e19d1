"""The Starlette application: the ``/v1`` request pipeline and the admin API under ``/_emulator``.

Hosted pages (Checkout, the customer portal) are served outside ``/v1``, see ``pages/``.

A ``/v1`` request goes: authenticate → route → decode parameters (refusing undeclared ones, see
``params.py``, and too deep ``expand[]``) → claim the idempotency key (or replay its answer) →
injected latency/fault → handler under the state lock → ``expand[]`` → answer, stored for the
idempotency key and logged for ``GET /_emulator/requests``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import admin, pages
from .auth import api_key
from .call import Call
from .errors import StripeError, unknown_route
from .expand import expand, expansion_paths
from .forms import decode_body, decode_form
from .idempotency import Replay
from .routing import ROUTER
from .state import EmulatorState
from .store import new_id
from .versions import ACCOUNT_VERSION, adapt, check

log = logging.getLogger(__name__)

_METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body).encode("utf-8"), status, headers, media_type="application/json")


def _fingerprint(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


class _Outcome:
    """What one ``/v1`` request produced, and whether its handler ran (only then is it stored)."""

    def __init__(self, request_id: str) -> None:
        self.status = 200
        self.body: Any = None
        self.headers: dict[str, str] = {"Request-Id": request_id}
        self.executed = False
        self.replayed = False
        self.claimed: str | None = None  # the idempotency key this request holds

    def fail(self, error: StripeError, request_id: str) -> None:
        self.status, self.body = error.status, error.body(request_id)
        self.headers.update(error.headers)


async def _params(request: Request) -> dict[str, Any]:
    params = decode_form(request.url.query) if request.url.query else {}
    if request.method == "POST":
        params.update(decode_body(await request.body(), request.headers.get("content-type", "")))
    return params


async def _run(request: Request, state: EmulatorState, out: _Outcome, request_id: str) -> None:
    """Fill ``out`` (raising ``StripeError`` for error answers)."""
    method, path = request.method, request.url.path
    key = api_key(request.headers.get("authorization"))
    version = check(request.headers.get("stripe-version") or ACCOUNT_VERSION)
    handler, args, accepted = ROUTER.match(method, path)
    params = await _params(request)
    # Refused parameters and expansions are validation errors: nothing runs, no idempotent answer is kept.
    accepted.check(params)
    expansions = expansion_paths(params["expand"]) if params.get("expand") else []
    idem_key = request.headers.get("idempotency-key") if method == "POST" else None
    if idem_key:
        out.headers["Idempotency-Key"] = idem_key
        replay = state.idempotency.begin(key, idem_key, method=method, path=path, fingerprint=_fingerprint(params),
                                         now=state.clock.now(), request_id=request_id)
        if replay is not None:
            out.status, out.body, out.replayed = replay.status, replay.body, True
            out.headers.update(replay.headers)
            out.headers.update({"Request-Id": request_id, "Idempotent-Replayed": "true",
                                "Original-Request": replay.request_id})
            return
        out.claimed = idem_key
    delay, fault = state.faults.take(method, path)
    if delay:
        await state.faults.sleep(delay)
    if fault is not None:
        raise fault
    call = Call(state=state, params=params, request_id=request_id, idempotency_key=idem_key,
                origin=pages.request_origin(request), api_version=version)
    out.executed = True
    with state.lock:
        body = adapt(state, handler(call, *args), version)
        if expansions:
            body = expand(state, body, expansions, version)
    out.body = body


async def v1(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    request_id = new_id("req", 14)
    out = _Outcome(request_id)
    out.headers["Stripe-Version"] = request.headers.get("stripe-version") or ACCOUNT_VERSION
    try:
        await _run(request, state, out, request_id)
    except StripeError as err:
        out.fail(err, request_id)
    except Exception:
        log.exception("stripe emulator: internal error on %s %s", request.method, request.url.path)
        out.executed = False
        out.fail(StripeError(500, "api_error", "The Stripe emulator failed on this request (see its log)."),
                 request_id)
    except BaseException:  # the client went away mid-latency: free its key
        if out.claimed:
            state.idempotency.release(api_key(request.headers.get("authorization")), out.claimed, request_id)
        raise
    payload = out.body if out.replayed else json.dumps(out.body).encode("utf-8")
    if out.claimed:
        scope = api_key(request.headers.get("authorization"))
        if out.executed:
            stored = {k: v for k, v in out.headers.items() if k != "Request-Id"}
            state.idempotency.finish(scope, out.claimed, Replay(out.status, payload, stored, request_id))
        else:
            state.idempotency.release(scope, out.claimed, request_id)
    state.log_request({
        "method": request.method, "path": request.url.path, "status": out.status,
        "idempotency_key": request.headers.get("idempotency-key"), "time": time.time(),
        "request_id": request_id, "replayed": out.replayed,
    })
    return Response(payload, out.status, out.headers, media_type="application/json")


async def not_found(request: Request) -> Response:
    err = unknown_route(request.method, request.url.path)
    return json_response(err.body(), err.status)


def create_app(state: EmulatorState | None = None) -> Starlette:
    """The emulator as an ASGI app; ``app.state.emulator`` is its ``EmulatorState``."""
    app = Starlette(routes=[
        Route("/v1/{path:path}", v1, methods=_METHODS),
        *admin.routes(),
        *pages.routes(),
        Route("/{path:path}", not_found, methods=_METHODS),
    ])
    app.state.emulator = state or EmulatorState()
    return app
