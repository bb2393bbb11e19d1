"""The one client of a running local stack: its endpoints, boto3 clients on them, and the admin API
of the local AWS endpoint (``/_linkflow/...``, see ``admin.py``) and of the Stripe emulator
(``/_emulator/...``, see ``linkflow.stripe_emulator.admin``).

Built from ``local.json`` (``LocalStackClient.from_state_dir(".linkflow")``), from its content
(``from_info``) or from the endpoints alone. Tests, the demo, the benchmarks and the CLI use it::

    stack = LocalStackClient.from_state_dir(Path(".linkflow"))
    stack.add_fault({"service": "dynamodb", "operation": "PutItem", "count": 1})
    stack.add_stripe_fault({"method": "POST", "path": "/v1/customers", "status": 500, "count": 3})
    stack.wait_for_webhooks(timeout=20)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, Required, TypedDict, cast

import boto3
from botocore.config import Config

from .admin import ADMIN_PREFIX, PING_PATH

REGION = "us-east-1"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
EMULATOR_PREFIX = "/_emulator/"
_BOTO_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50)


# --- local.json -------------------------------------------------------------------------------


class EndpointsInfo(TypedDict):
    aws: str
    stripe: str
    api: str


class StripeInfo(TypedDict):
    api_key: str
    webhook_secret: str
    prices: NotRequired[list[str]]  # the app's allowed price lookup keys, seeded at start


class CognitoInfo(TypedDict):
    user_pool_id: str | None  # None: the template declares no user pool
    client_id: str | None


class ScheduleTarget(TypedDict):
    arn: str
    input: str


class ResourceInfo(TypedDict):
    type: str
    name: str
    arn: str
    url: NotRequired[str]  # queues: their URL (what ``Ref`` gives)
    expression: NotRequired[str]  # schedules: rate(), cron() or at()
    state: NotRequired[str]  # schedules: ENABLED or DISABLED
    target: NotRequired[ScheduleTarget]  # schedules: what they start, with which input


class LocalInfo(TypedDict, total=False):
    """``<state-dir>/local.json``, as ``linkflow local up`` writes it."""

    region: str
    stack: str
    endpoints: EndpointsInfo
    stripe: StripeInfo
    cognito: CognitoInfo
    wait_time_scale: float
    schedules: bool  # the schedules fire on their own (``linkflow local up --schedules``)
    pid: int
    logs: str  # the directory of the functions' logs, one ``<function name>.log`` each
    outputs: dict[str, str]
    resources: dict[str, ResourceInfo]


# --- what the admin calls take and answer ------------------------------------------------------


class AwsFault(TypedDict, total=False):
    """``POST /_linkflow/faults``: the next ``count`` matching AWS calls answer an AWS error (after
    ``latency_ms``; ``error: None`` only delays them); with ``service: lambda`` and ``function``,
    that function's handler raises ``error`` instead."""

    service: Required[str]
    operation: str
    resource: str
    function: str
    error: str | None
    message: str
    status: int
    count: int
    latency_ms: float


class StripeFault(TypedDict, total=False):
    """``POST /_emulator/faults`` (``linkflow.stripe_emulator.faults``)."""

    path: str
    method: str
    status: int
    count: int
    until: float
    probability: float
    latency_ms: float
    jitter: str
    sigma: float


class StripeRequest(TypedDict):
    method: str
    path: str
    status: int
    idempotency_key: str | None
    time: float


class WebhookDelivery(TypedDict, total=False):
    event_id: Required[str]
    event_type: Required[str]


class WebhookWait(TypedDict):
    idle: bool
    pending: int


class FederatedUser(TypedDict):
    username: str
    sub: str
    linked: bool
    new_user: bool


class VerificationCode(TypedDict):
    username: str
    attribute: str
    code: str
    pending_value: str | None  # the new value the code confirms; None: it verifies the current one


class AdminReply(NamedTuple):
    status: int
    body: Any


class StackNotRunning(FileNotFoundError):
    """No ``local.json`` where the stack was looked for."""


class StackUnreachable(ConnectionError):
    """The stack's endpoint did not answer."""


class AdminCallFailed(RuntimeError):
    """An admin call answered an error status."""

    def __init__(self, url: str, status: int, body: Any) -> None:
        self.url, self.status, self.body = url, status, body
        super().__init__(f"{url} answered {status}: {self.message}")

    @property
    def message(self) -> str:
        """What the answer says went wrong (``message``, else ``error``), else the status."""
        body = self.body if isinstance(self.body, dict) else {}
        error = body.get("error")
        if isinstance(error, dict):  # the emulator answers Stripe-shaped errors
            body, error = error, None
        return str(body.get("message") or error or f"HTTP {self.status}")


@dataclass(frozen=True)
class Endpoints:
    aws: str
    stripe: str
    api: str

    @classmethod
    def on(cls, host: str, aws_port: int, stripe_port: int, api_port: int) -> Endpoints:
        return cls(f"http://{host}:{aws_port}", f"http://{host}:{stripe_port}", f"http://{host}:{api_port}")


def aws_client(service: str, endpoint_url: str, region: str = REGION) -> Any:
    """A boto3 client on a local AWS endpoint (test credentials, two attempts, a large pool)."""
    make: Callable[..., Any] = boto3.client  # the stubs' overloads want a literal service name
    return make(service, endpoint_url=endpoint_url, region_name=region, aws_access_key_id="testing",
                aws_secret_access_key="testing", config=_BOTO_CONFIG)


def execution_arn(machine_arn: str, name: str) -> str:
    """The ARN of execution ``name`` of the state machine ``machine_arn``."""
    return machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def wait_for_execution(sfn: Any, arn: str, timeout: float = 30.0, poll: float = 0.02) -> dict[str, Any]:
    """``DescribeExecution`` once the execution has closed (not started yet counts as running)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            desc = {"status": "not started"}
        if desc["status"] in TERMINAL:
            return desc
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still {desc['status']} after {timeout}s")
        time.sleep(poll)


def _request(method: str, url: str, body: object, timeout: float) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, bytes(exc.read() or b"")
    except OSError as exc:
        raise StackUnreachable(f"cannot reach the local stack at {url}: {exc}") from exc


class LocalStackClient:
    """A running local stack, as any client sees it."""

    def __init__(self, endpoints: Endpoints, region: str = REGION, timeout: float = 30.0) -> None:
        self.endpoints = endpoints
        self.region = region
        self.timeout = timeout

    @classmethod
    def from_info(cls, info: LocalInfo) -> LocalStackClient:
        e = info["endpoints"]
        return cls(Endpoints(e["aws"], e["stripe"], e["api"]), info.get("region", REGION))

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> LocalStackClient:
        return cls.from_info(read_info(state_dir))

    def aws_client(self, service: str) -> Any:
        return aws_client(service, self.endpoints.aws, self.region)

    # --- the local AWS endpoint: /_linkflow/... ---------------------------------------------------
    def aws_admin(self, method: str, name: str, body: object = None) -> AdminReply:
        """``method /_linkflow/<name>``: the status and JSON body, whatever the status."""
        status, raw = _request(method, f"{self.endpoints.aws}{ADMIN_PREFIX}{name}", body, self.timeout)
        return AdminReply(status, json.loads(raw or b"{}"))

    def _aws_ok(self, method: str, name: str, body: object = None) -> Any:
        reply = self.aws_admin(method, name, body)
        if reply.status != 200:
            raise AdminCallFailed(f"{method} {ADMIN_PREFIX}{name}", reply.status, reply.body)
        return reply.body

    def add_fault(self, fault: AwsFault) -> str:
        """Inject an AWS fault; answers its id (``AdminCallFailed`` with the reason if refused)."""
        return str(self._aws_ok("POST", "faults", fault)["id"])

    def faults(self) -> dict[str, Any]:
        """``{"data": [AWS faults left], "handlers": {function: handler fault}}``."""
        return cast(dict[str, Any], self._aws_ok("GET", "faults"))

    def clear_faults(self) -> None:
        """Remove every AWS and handler fault."""
        self._aws_ok("DELETE", "faults")

    def operation_counts(self) -> dict[str, int]:
        """AWS JSON-protocol operations served so far, by ``X-Amz-Target``."""
        return cast(dict[str, int], self._aws_ok("GET", "requests")["data"])

    def invocation_counts(self) -> dict[str, int]:
        """Lambda invocations so far, by function name."""
        return cast(dict[str, int], self._aws_ok("GET", "invocations")["data"])

    def workers(self) -> dict[str, Any]:
        """The handlers' worker processes now (``data``: function, pid, busy), cold starts and
        throttles so far, by function name."""
        return cast(dict[str, Any], self._aws_ok("GET", "workers"))

    def federated_signin(self, provider: str, email: str, *, email_verified: bool = True,
                         provider_user_id: str | None = None) -> FederatedUser:
        """A first sign-in through ``provider`` (PreSignUp_ExternalProvider, then PostConfirmation)."""
        return cast(FederatedUser, self._aws_ok("POST", "federated-signin", {
            "provider": provider, "email": email, "email_verified": email_verified,
            "provider_user_id": provider_user_id}))

    def verification_code(self, username: str, attribute: str = "email") -> VerificationCode:
        """The last code the local Cognito sent for ``attribute`` of ``username`` (the mailbox's copy)."""
        return cast(VerificationCode, self._aws_ok("POST", "verification-code",
                                                   {"username": username, "attribute": attribute}))

    def schedules(self) -> list[dict[str, Any]]:
        """The template's schedules: expression, target, input, whether they fire on their own."""
        return cast(list[dict[str, Any]], self._aws_ok("GET", "schedules")["data"])

    def fire_schedule(self, name: str) -> dict[str, str]:
        """Start schedule ``name`` (its name, logical id or ARN) now: ``{"schedule", "executionArn", ...}``."""
        return cast(dict[str, str], self._aws_ok("POST", "schedules/fire", {"name": name}))

    # --- the API server ---------------------------------------------------------------------------
    @property
    def ping_url(self) -> str:
        """``POST`` here answers 200 with no Lambda call (the benchmarks' floor)."""
        return f"{self.endpoints.api}{PING_PATH}"

    def ping(self) -> bool:
        return _request("POST", self.ping_url, {}, self.timeout)[0] == 200

    # --- the Stripe emulator: /_emulator/... ------------------------------------------------------
    def emulator(self, method: str, path: str, body: object = None, timeout: float | None = None) -> Any:
        """``method /_emulator/<path>``: the JSON answer (None if empty); ``AdminCallFailed`` on an error."""
        url = f"{self.endpoints.stripe}{EMULATOR_PREFIX}{path}"
        status, raw = _request(method, url, body, timeout or self.timeout)
        answer = json.loads(raw) if raw else None
        if status >= 400:
            raise AdminCallFailed(f"{method} {EMULATOR_PREFIX}{path}", status, answer)
        return answer

    def add_stripe_fault(self, fault: StripeFault) -> str:
        return str(self.emulator("POST", "faults", fault)["id"])

    def stripe_faults(self) -> list[dict[str, Any]]:
        """The emulator's faults still armed."""
        return cast(list[dict[str, Any]], self.emulator("GET", "faults")["data"])

    def clear_stripe_faults(self) -> None:
        """Remove every emulator fault (and cut short every latency being served)."""
        self.emulator("DELETE", "faults")

    def stripe_requests(self) -> list[StripeRequest]:
        """Every ``/v1`` request the emulator served, oldest first."""
        return cast(list[StripeRequest], self.emulator("GET", "requests")["data"])

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery the emulator attempted, oldest first."""
        return cast(list[WebhookDelivery], self.emulator("GET", "webhooks/deliveries")["data"])

    def webhooks_pending(self) -> int:
        """Webhooks queued, in flight or awaiting a retry."""
        return int(self.emulator("GET", "webhooks/pending")["pending"])

    def wait_for_webhooks(self, timeout: float) -> WebhookWait:
        """Until webhook delivery is idle or ``timeout`` seconds passed."""
        return cast(WebhookWait, self.emulator("POST", "webhooks/wait", {"timeout": timeout},
                                               timeout=max(self.timeout, timeout + 10)))

    def advance_emulator_clock(self, seconds: float) -> Any:
        """Move the emulator's time (renewals, trial ends, retries fall due as they would)."""
        return self.emulator("POST", "clock", {"advance_seconds": seconds})


def read_info(state_dir: Path) -> LocalInfo:
    """``<state_dir>/local.json`` of a running stack (``StackNotRunning`` if there is none)."""
    path = Path(state_dir) / "local.json"
    if not path.is_file():
        raise StackNotRunning(f"no running local stack: {path} not found (start one with `linkflow local up`)")
    return cast(LocalInfo, json.loads(path.read_text()))


class StackHandle:
    """What the in-process stack and the child-process stack both offer: their endpoints, boto3
    clients on them, and ``admin``, the client of their admin API."""

    admin: LocalStackClient

    @property
    def aws_url(self) -> str:
        return self.admin.endpoints.aws

    @property
    def stripe_url(self) -> str:
        return self.admin.endpoints.stripe

    @property
    def api_url(self) -> str:
        return self.admin.endpoints.api

    def client(self, service: str) -> Any:
        return self.admin.aws_client(service)


__all__ = [
    "AdminCallFailed", "AdminReply", "AwsFault", "Endpoints", "FederatedUser", "LocalInfo", "LocalStackClient",
    "ScheduleTarget", "StackHandle", "StackNotRunning", "StackUnreachable", "StripeFault", "StripeRequest",
    "VerificationCode", "WebhookDelivery",
    "aws_client", "execution_arn", "read_info", "wait_for_execution",
]
