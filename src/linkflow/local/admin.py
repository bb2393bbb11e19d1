"""Every admin call of the local stack, in one place (``client.py`` is the one client of them).

The local AWS endpoint serves them under ``/_linkflow/`` (never a path an AWS SDK uses); the API
server serves ``ping``. JSON in and out, no auth.

| call | body / answer |
| --- | --- |
| ``GET /_linkflow/health`` | ``{"status": "ok"}`` |
| ``GET /_linkflow/requests`` | ``{"data": {X-Amz-Target: count}}``: JSON-protocol operations served |
| ``POST /_linkflow/faults`` | an AWS fault (``faults.py``), or ``{"service": "lambda", "function", "error",
  "message", "count"}`` to make a handler raise → ``{"id"}`` |
| ``GET /_linkflow/faults`` | ``{"data": [AWS faults], "handlers": {function: handler fault}}`` |
| ``DELETE /_linkflow/faults`` | clears both kinds → ``{"cleared": true}`` |
| ``GET /_linkflow/invocations`` | ``{"data": {function name: count}}`` |
| ``GET /_linkflow/workers`` | ``{"data": [{"function", "pid", "busy"}], "cold_starts": {function name: count},
  "throttles": {function name: count}}``: the worker processes running handlers now |
| ``POST /_linkflow/federated-signin`` | ``{"provider", "email", "email_verified", "provider_user_id",
  "user_pool_id"}``: a first sign-in through an external provider → the user |
| ``POST /_linkflow/verification-code`` | ``{"username", "attribute" (default email), "user_pool_id"}``: the last
  code Cognito sent for the attribute (what the user reads in the mailbox) and the value waiting for it |
| ``GET /_linkflow/schedules`` | ``{"data": [{"logical_id", "name", "arn", "expression", "target_arn", "input",
  "state", "fires_on_its_own", "next_fire"}]}`` |
| ``POST /_linkflow/schedules/fire`` | ``{"name"}`` (name, logical id or ARN): starts its target now with its input →
  ``{"schedule", "logical_id", "executionArn", "why", "time"}`` |
| ``POST /_linkflow/ping`` (API server) | ``{"pong": true}`` with no Lambda call: the floor benchmarks
  compare the webhook ingress with (same server, same HTTP stack, no work) |
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import FaultSpecError

if TYPE_CHECKING:  # the stack's moving parts import moto: a client importing this module does not need them
    from .faults import FaultRegistry
    from .lambda_runtime import Runtime
    from .schedules import Scheduler

ADMIN_PREFIX = "/_linkflow/"
PING_PATH = f"{ADMIN_PREFIX}ping"

Params = dict[str, Any]
Answer = tuple[int, object]
AdminHandler = Callable[[Params], Answer]


class OperationCounts:
    """JSON-protocol operations served, by ``X-Amz-Target`` (benchmarks derive DynamoDB writes per
    sign-up from them)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, target: str) -> None:
        with self._lock:
            self._counts[target] = self._counts.get(target, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class AdminCalls:
    """The ``/_linkflow/`` calls of the local AWS endpoint, over the stack's moving parts."""

    def __init__(self, faults: FaultRegistry, runtime: Runtime, region: str,
                 user_pool_id: Callable[[], str | None]) -> None:
        self.faults = faults
        self.runtime = runtime
        self.region = region
        self.operations = OperationCounts()
        self._user_pool_id = user_pool_id
        self.scheduler: Scheduler | None = None  # set once the stack is provisioned
        self.routes: dict[str, AdminHandler] = {
            "GET health": lambda _p: (200, {"status": "ok"}),
            "GET requests": lambda _p: (200, {"data": self.operations.snapshot()}),
            "POST faults": self._add_fault,
            "GET faults": self._list_faults,
            "DELETE faults": self._clear_faults,
            "GET invocations": lambda _p: (200, {"data": dict(self.runtime.invocations)}),
            "GET workers": self._workers,
            "POST federated-signin": self._federated_signin,
            "POST verification-code": self._verification_code,
            "GET schedules": self._schedules,
            "POST schedules/fire": self._fire_schedule,
        }

    def answer(self, method: str, name: str, raw: bytes) -> Answer:
        """The status and JSON body of ``method /_linkflow/<name>`` with body ``raw``."""
        handler = self.routes.get(f"{method} {name.rstrip('/')}")
        if handler is None:
            return 404, {"error": f"no admin call {method} {ADMIN_PREFIX}{name}"}
        try:
            return handler(json.loads(raw) if raw else {})
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": str(exc)}
        except Exception as exc:  # an admin call failing must answer, not kill the server thread
            return 500, {"error": f"{type(exc).__name__}: {exc}"}

    def _add_fault(self, params: Params) -> Answer:
        from .lambda_runtime import HandlerFault

        try:
            if params.get("service") == "lambda" and params.get("function"):
                fault = HandlerFault(count=int(params.get("count", 1)), error=params.get("error", "InjectedFault"),
                                     message=params.get("message", "fault injected by the local stack"))
                self.runtime.inject(params["function"], fault)
                return 200, {"id": f"handler:{params['function']}"}
            return 200, {"id": self.faults.add(params).id}
        except (FaultSpecError, KeyError) as exc:
            return 400, {"error": str(exc)}

    def _list_faults(self, _params: Params) -> Answer:
        return 200, {"data": [f.to_json() for f in self.faults.faults],
                     "handlers": {k: v.__dict__ for k, v in self.runtime.faults.items()}}

    def _clear_faults(self, _params: Params) -> Answer:
        self.faults.clear()
        self.runtime.clear_faults()
        return 200, {"cleared": True}

    def _workers(self, _params: Params) -> Answer:
        listed = [{"function": w.function, "pid": w.pid, "busy": w.busy} for w in self.runtime.workers()]
        return 200, {"data": listed, "cold_starts": dict(self.runtime.cold_starts),
                     "throttles": dict(self.runtime.throttles)}

    def _federated_signin(self, params: Params) -> Answer:
        from moto.cognitoidp.models import cognitoidp_backends

        from . import cognito
        from .provision import ACCOUNT

        pool_id = params.get("user_pool_id") or self._user_pool_id()
        if not pool_id:
            return 400, {"error": "no user pool: the stack is not provisioned yet"}
        backend = cognitoidp_backends[ACCOUNT][self.region]
        try:
            result = cognito.federated_signin(backend, pool_id, params["provider"], params["email"],
                                              bool(params.get("email_verified", True)), params.get("provider_user_id"))
        except cognito.UserLambdaValidationException as exc:
            return 400, {"error": "UserLambdaValidationException", "message": exc.message}
        return 200, result

    def _verification_code(self, params: Params) -> Answer:
        from moto.cognitoidp.models import cognitoidp_backends
        from moto.core.exceptions import JsonRESTError

        from . import cognito
        from .provision import ACCOUNT

        pool_id = params.get("user_pool_id") or self._user_pool_id()
        if not pool_id:
            return 400, {"error": "no user pool: the stack is not provisioned yet"}
        backend = cognitoidp_backends[ACCOUNT][self.region]
        try:
            return 200, cognito.verification_code(backend, pool_id, params["username"],
                                                  params.get("attribute", "email"))
        except JsonRESTError as exc:
            return 400, {"error": exc.error_type, "message": exc.message}


    def _schedules(self, _params: Params) -> Answer:
        if self.scheduler is None:
            return 400, {"error": "no schedules: the stack is not provisioned yet"}
        return 200, {"data": self.scheduler.describe()}

    def _fire_schedule(self, params: Params) -> Answer:
        from .schedules import ScheduleError

        if self.scheduler is None:
            return 400, {"error": "no schedules: the stack is not provisioned yet"}
        try:
            return 200, self.scheduler.fire(str(params["name"]))
        except KeyError as exc:
            return 404, {"error": str(exc.args[0]) if exc.args else str(exc)}
        except ScheduleError as exc:
            return 400, {"error": str(exc)}


async def ping(request: Request) -> Response:
    """``POST /_linkflow/ping`` on the API server."""
    await request.body()  # read it as a route would, then do nothing
    return JSONResponse({"pong": True})
