"""The Stripe webhook ingress: check the request, start one events execution per event, answer fast.

What it checks, in order, each failure answered 4xx with ``{"error": code, "message": ...}`` and
nothing started: POST only (405), body at most 256 KiB (413), a ``Stripe-Signature`` whose ``v1``
HMAC matches the raw body under the current or the previous webhook secret (400), its timestamp
within 300 s of now either way (400), a JSON event (400), not from a connected account (400:
Connect events are about another account's customers), ``livemode`` equal to the stack's (400).
Event types the machine does not handle, and events naming no customer, are acknowledged (200)
and ignored. The rest start the subscription-events execution named by the event id, with a small
:class:`EventHint` as input; ``ExecutionAlreadyExists`` is a duplicate delivery, answered 200.
A secret that cannot be read or a StartExecution that fails is answered 5xx so Stripe retries.

No Stripe call and no DynamoDB write happen here. StartExecution is tried once (no SDK retry):
Stripe retries the delivery itself, and the answer stays fast.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stripe as stripe_sdk
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import EventsStartFailed, SecretUnavailable, error_code
from .models import EventHint

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

MAX_BODY_BYTES = 256 * 1024
SIGNATURE_TOLERANCE_SECONDS = 300
HANDLED_EVENT_TYPES = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_failed",
        "checkout.session.completed",
        "customer.deleted",
        "entitlements.active_entitlement_summary.updated",
    }
)
# Step Functions execution names: 1-80 characters, no whitespace or punctuation but - and _.
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class WebhookRequest(BaseModel):
    """The part of an API Gateway HTTP API (payload 2.0) event the ingress reads. Anything API
    Gateway could send parses (a malformed request is answered 4xx below, never a step error)."""

    model_config = ConfigDict(frozen=True)
    method: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""

    @model_validator(mode="before")
    @classmethod
    def _from_api_gateway(cls, event: Any) -> dict[str, Any]:
        if isinstance(event, WebhookRequest):
            return event.model_dump()
        event = event if isinstance(event, dict) else {}
        if "requestContext" not in event and "method" in event:  # already in this model's shape
            return dict(event)
        http = (event.get("requestContext") or {}).get("http") or {}
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                body = b"\xff"  # not base64: rejected below as not UTF-8 JSON
        else:
            body = str(raw).encode("utf-8")
        return {"method": str(http.get("method") or "").upper(), "headers": headers, "body": body}

    @classmethod
    def from_api_gateway(cls, event: Any) -> WebhookRequest:
        return cls.model_validate(event)


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def to_api_gateway(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(self.body),
            "isBase64Encoded": False,
        }


class _Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = WebhookResponse(status, {"error": code, "message": message})


def events_execution_name(event_id: str) -> str:
    """One events execution per Stripe event, named by its id: duplicates cannot start a second."""
    return event_id


def verify_signature(payload: str, header: str | None, secrets: Sequence[str], *, now: float) -> None:
    """Raise :class:`_Rejected` unless ``header`` signs ``payload`` with one of ``secrets``, recently."""
    if not header:
        raise _Rejected(400, "missing_signature", "the Stripe-Signature header is missing")
    matched, last_error = False, "no webhook secret is configured"
    for secret in secrets:
        try:
            stripe_sdk.WebhookSignature.verify_header(  # type: ignore[no-untyped-call]  # unannotated in the SDK
                payload, header, secret, tolerance=None
            )
        except stripe_sdk.SignatureVerificationError as exc:
            last_error = str(exc.user_message or exc)
            continue
        matched = True
        break
    if not matched:
        raise _Rejected(400, "invalid_signature", f"Stripe-Signature does not verify: {last_error}")
    timestamp = int(next(p.split("=", 1)[1] for p in header.split(",") if p.startswith("t=")))
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise _Rejected(
            400,
            "timestamp_outside_tolerance",
            f"the signature timestamp is {int(now - timestamp)} s from now; at most "
            f"{SIGNATURE_TOLERANCE_SECONDS} s is accepted (replayed or delayed request?)",
        )


def _customer_of(event: dict[str, Any]) -> str | None:
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        return None
    customer = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) and customer else None


def parse_event(payload: str, *, livemode: bool) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise _Rejected(400, "invalid_json", f"the body is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id") or not event.get("type"):
        raise _Rejected(400, "not_an_event", "the body is not a Stripe event (object, id and type are required)")
    if not _EXECUTION_NAME.match(str(event["id"])):
        raise _Rejected(400, "invalid_event_id", "the event id is not a valid execution name")
    if event.get("account"):
        raise _Rejected(
            400,
            "connect_event",
            "the event comes from a connected account (Connect); this endpoint serves the platform's own "
            "customers only: point Connect webhooks elsewhere",
        )
    if bool(event.get("livemode")) != livemode:
        raise _Rejected(
            400,
            "livemode_mismatch",
            f"the event has livemode={str(bool(event.get('livemode'))).lower()}; this endpoint serves "
            f"livemode={str(livemode).lower()}",
        )
    return event


def event_hint(event: dict[str, Any]) -> EventHint | None:
    """The execution input for a handled event; None for a type or an object linkflow ignores."""
    customer = _customer_of(event)
    if event["type"] not in HANDLED_EVENT_TYPES or customer is None:
        return None
    obj = (event.get("data") or {}).get("object") or {}
    created = event.get("created")
    return EventHint(
        event_id=str(event["id"]),
        event_type=str(event["type"]),
        customer_id=customer,
        object_id=str(obj["id"]) if obj.get("id") else None,
        created=int(created) if isinstance(created, int) else None,
        livemode=bool(event.get("livemode")),
    )


def stripe_webhook(
    request: WebhookRequest,
    *,
    secrets: Callable[[], Sequence[str]],
    livemode: bool,
    start: Callable[[EventHint], bool],
    now: float | None = None,
) -> WebhookResponse:
    """Check ``request`` and start its execution (``start`` answers False for a duplicate)."""
    try:
        if request.method != "POST":
            raise _Rejected(405, "method_not_allowed", f"{request.method or 'this method'} is not allowed; use POST")
        if len(request.body) > MAX_BODY_BYTES:
            raise _Rejected(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            payload = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Rejected(400, "invalid_json", "the body is not UTF-8 JSON") from None
        if not request.headers.get("stripe-signature"):
            raise _Rejected(400, "missing_signature", "the Stripe-Signature header is missing")
        try:
            keys = [s for s in secrets() if s]
        except SecretUnavailable as exc:
            return WebhookResponse(503, {"error": "secret_unavailable", "message": str(exc)})
        if not keys:
            return WebhookResponse(503, {"error": "secret_unavailable", "message": "no webhook secret is configured"})
        at = time.time() if now is None else now
        verify_signature(payload, request.headers.get("stripe-signature"), keys, now=at)
        event = parse_event(payload, livemode=livemode)
    except _Rejected as rejected:
        return rejected.response
    hint = event_hint(event)
    if hint is None:
        return WebhookResponse(200, {"received": True, "ignored": f"{event['type']} is not handled"})
    try:
        started = start(hint)
    except EventsStartFailed as exc:
        return WebhookResponse(500, {"error": "start_failed", "message": str(exc)})
    name = events_execution_name(hint.event_id)
    return WebhookResponse(200, {"received": True, "execution": name, "duplicate": not started})


def start_events_execution(sfn: SFNClient, state_machine_arn: str, hint: EventHint) -> bool:
    """Start the event's execution; False if it exists and has closed (a duplicate delivery).

    A duplicate arriving while the first execution still runs gets that execution back from Step
    Functions (same name, same input): it is answered like the first, and nothing new starts.
    """
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=events_execution_name(hint.event_id),
            input=json.dumps(hint.dump(), sort_keys=True),  # same event, same input: idempotent
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise EventsStartFailed(f"StartExecution failed ({error_code(exc)})") from exc
    except BotoCoreError as exc:
        raise EventsStartFailed(f"Step Functions could not be reached: {type(exc).__name__}") from exc
    return True

