"""The admin API under ``/_emulator`` (JSON, no auth), for tests and benchmarks.

- ``POST /_emulator/faults``: a fault (see ``faults.py``) → ``{"id": "fault_1"}``;
  ``GET`` lists them, ``DELETE`` clears them all.
- ``POST /_emulator/webhooks``: ``{"duplicate_probability", "reorder_window", "delay_ms",
  "max_attempts", "retry_backoff_ms", "timeout_seconds"}`` → the resulting settings.
- ``GET /_emulator/webhooks/pending`` → ``{"pending": n}`` (queued, in flight or awaiting a retry);
  ``POST /_emulator/webhooks/wait`` ``{"timeout": 10}`` → ``{"idle": bool, "pending": n}`` once
  idle or timed out; ``GET /_emulator/webhooks/deliveries`` → ``{"data": [{"event_id",
  "event_type", "endpoint_id", "url", "attempt", "status", "error", "ok", "duplicate", "time"}]}``.
- ``POST /_emulator/search``: ``{"lag_seconds": 60}``.
- ``GET /_emulator/requests`` → ``{"data": [{"method", "path", "status", "idempotency_key",
  "time", "request_id", "replayed"}...]}``, every ``/v1`` request, oldest first.
- ``POST /_emulator/clock``: ``{"advance_seconds": n}`` moves emulator time (not test clocks)
  forward and runs the renewals that fall due; ``GET`` → ``{"now", "offset"}``.
- ``POST /_emulator/billing``: ``{"retry_days": [3, 5, 7], "final_action": "cancel" | "unpaid" |
  "past_due", "incomplete_expiry_hours": 23, "upcoming_days": 3}`` (``retry_days``: days after each
  failed attempt until the next, default ``[1, 1, 2, 2, 2, 3, 3]``, Smart Retries' recommended 8 tries
  within 2 weeks, see ``state.py``; ``upcoming_days``: when ``invoice.upcoming`` is sent before a
  renewal; ``null``: never).
- ``POST /_emulator/checkout/sessions/{id}/complete``: ``{"payment_method": "pm_card_visa"}`` →
  the completed session.
- ``GET /_emulator/endpoints`` → ``{"data": [{"method", "path", "params"}...]}``: every ``/v1``
  endpoint and the parameters it accepts (bracket notation, ``[]`` for each array element).
- ``POST /_emulator/reset``: empties every store, fault, log and setting.
- ``GET /_emulator/health`` → ``{"ok": true}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .call import Call
from .errors import StripeError
from .params import accepted
from .resources import checkout, test_clocks
from .routing import ROUTER
from .state import EmulatorState

MAX_WAIT_SECONDS = 120.0


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body).encode("utf-8"), status, media_type="application/json")


def _bad(message: str) -> Response:
    return _json({"error": {"type": "invalid_request_error", "message": message}}, 400)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


Handler = Callable[[Request, EmulatorState, dict[str, Any]], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request) if request.method == "POST" else {}
            return await handler(request, _state(request), body)
        except ValueError as exc:  # includes json.JSONDecodeError
            return _bad(str(exc))
        except StripeError as err:
            return _json(err.body(), err.status)

    return endpoint


async def add_fault(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"id": state.faults.add(body).id})


async def list_faults(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"data": state.faults.describe()})


async def clear_faults(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    state.faults.clear()
    return _json({"data": []})


async def webhook_settings(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    state.webhooks.config.update(body)
    return _json(vars(state.webhooks.config))


async def webhooks_pending(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"pending": state.webhooks.pending()})


async def webhooks_wait(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    timeout = min(float(body.get("timeout", 10.0)), MAX_WAIT_SECONDS)
    idle = await anyio.to_thread.run_sync(state.wait_idle, timeout)
    return _json({"idle": idle, "pending": state.webhooks.pending()})


async def webhook_deliveries(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"data": state.webhooks.deliveries()})


async def search_settings(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    lag = body.get("lag_seconds", 0)
    if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
        raise ValueError("lag_seconds must be a number >= 0")
    with state.lock:
        state.search.lag_seconds = float(lag)
    return _json({"lag_seconds": state.search.lag_seconds})


async def requests_log(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"data": state.requests()})


async def advance_clock(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    seconds = body.get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("advance_seconds must be a number >= 0")
    with state.lock:
        steps = test_clocks.advance_emulator_time(state, seconds)
    return _json({"now": state.clock.now(), "offset": state.clock.offset, "steps": steps})


async def read_clock(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"now": state.clock.now(), "offset": state.clock.offset})


async def billing_settings(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    with state.lock:
        state.billing.update(body)
    return _json(vars(state.billing))


async def complete_checkout(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    params = {k: str(v) for k, v in body.items()}
    accepted(checkout.complete).check(params)
    with state.lock:
        session = checkout.complete(Call(state=state, params=params), request.path_params["id"])
    return _json(session)


async def endpoints(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"data": ROUTER.endpoints()})


async def reset(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    state.reset()
    return _json({"reset": True})


async def health(request: Request, state: EmulatorState, body: dict[str, Any]) -> Response:
    return _json({"ok": True})


def routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/_emulator/faults", add_fault),
        ("GET", "/_emulator/faults", list_faults),
        ("DELETE", "/_emulator/faults", clear_faults),
        ("POST", "/_emulator/webhooks", webhook_settings),
        ("GET", "/_emulator/webhooks/pending", webhooks_pending),
        ("POST", "/_emulator/webhooks/wait", webhooks_wait),
        ("GET", "/_emulator/webhooks/deliveries", webhook_deliveries),
        ("POST", "/_emulator/search", search_settings),
        ("GET", "/_emulator/requests", requests_log),
        ("POST", "/_emulator/clock", advance_clock),
        ("GET", "/_emulator/clock", read_clock),
        ("POST", "/_emulator/billing", billing_settings),
        ("POST", "/_emulator/checkout/sessions/{id}/complete", complete_checkout),
        ("GET", "/_emulator/endpoints", endpoints),
        ("POST", "/_emulator/reset", reset),
        ("GET", "/_emulator/health", health),
    ]
    return [Route(path, _endpoint(handler), methods=[method]) for method, path, handler in table]
