"""Fault injection for AWS calls made to the local stack.

A fault matches a service operation (``{"service": "dynamodb", "operation": "PutItem",
"resource": "UserProfiles"}``) and answers the next ``count`` matching calls with an AWS error
(``ProvisionedThroughputExceededException`` by default for DynamoDB), before moto sees them.
``"latency_ms"`` delays the matching calls first; with ``"error": null`` they are only delayed, then
served (a slow dependency: what holds a handler's concurrency, or runs it past its ``Timeout``).
``{"service": "lambda", "function": "WriteProfileFunction", "count": 2, "error": "..."}`` makes
the handler itself raise instead (see ``ProcessRuntime.inject``).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

_JSON_TARGET_PREFIXES = {
    "dynamodb": "DynamoDB_20120810",
    "cognito-idp": "AWSCognitoIdentityProviderService",
    "stepfunctions": "AWSStepFunctions",
    "secretsmanager": "secretsmanager",
    "ssm": "AmazonSSM",
    "sqs": "AmazonSQS",
}
_DEFAULT_ERRORS = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "lambda": ("ServiceException", 500),
    "stepfunctions": ("ThrottlingException", 400),
    "cognito-idp": ("TooManyRequestsException", 400),
    "secretsmanager": ("InternalServiceError", 500),
    "ssm": ("ThrottlingException", 400),
    "sqs": ("InternalError", 500),
}
_RESOURCE_KEYS = ("TableName", "FunctionName", "stateMachineArn", "executionArn", "UserPoolId", "SecretId", "Name",
                  "QueueUrl")


class FaultSpecError(ValueError):
    pass


@dataclass
class ApiFault:
    id: str
    service: str
    operation: str | None
    resource: str | None
    error: str | None  # None: the call is only delayed, then served
    status: int
    message: str
    count: int
    latency_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class FaultRegistry:
    faults: list[ApiFault] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, spec: dict[str, Any]) -> ApiFault:
        service = spec.get("service")
        if service not in _DEFAULT_ERRORS:
            raise FaultSpecError(f"service must be one of {sorted(_DEFAULT_ERRORS)}, got {service!r}")
        count = int(spec.get("count", 1))
        if count < 1:
            raise FaultSpecError("count must be >= 1")
        default_error, default_status = _DEFAULT_ERRORS[service]
        latency_ms = float(spec.get("latency_ms") or 0)
        if latency_ms < 0:
            raise FaultSpecError("latency_ms must be >= 0")
        if "error" in spec and spec["error"] is None and not latency_ms:
            raise FaultSpecError("a fault with no error needs a latency_ms")
        fault = ApiFault(
            id=f"fault_{next(self._ids)}",
            service=service,
            operation=spec.get("operation"),
            resource=spec.get("resource"),
            error=spec.get("error", default_error),
            status=int(spec.get("status", default_status)),
            message=spec.get("message", "fault injected by the local stack"),
            count=count,
            latency_ms=latency_ms,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def active(self) -> bool:
        return bool(self.faults)

    def take(self, service: str, operation: str, resource: str | None) -> ApiFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.service != service:
                    continue
                if fault.operation and fault.operation != operation:
                    continue
                if fault.resource and (resource is None or not _same_resource(fault.resource, resource)):
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None


def _same_resource(wanted: str, given: str) -> bool:
    return given == wanted or given.endswith(f":{wanted}") or given.endswith(f"/{wanted}")


def classify(environ: dict[str, Any], body: bytes) -> tuple[str, str, str | None] | None:
    """``(service, operation, resource)`` of an AWS request, for the services faults apply to."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target and "." in target:
        prefix, operation = target.rsplit(".", 1)
        service = next((s for s, p in _JSON_TARGET_PREFIXES.items() if p == prefix), None)
        if service is None:
            return None
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        resource = next((str(params[k]) for k in _RESOURCE_KEYS if k in params), None)
        return service, operation, resource
    path = environ.get("PATH_INFO", "")
    if path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"):
        return "lambda", "Invoke", path.split("/")[3]
    return None


def error_response(service: str, fault: ApiFault) -> tuple[str, list[tuple[str, str]], bytes]:
    assert fault.error is not None, "a latency-only fault is served by moto"
    status = f"{fault.status} {'Bad Request' if fault.status < 500 else 'Internal Server Error'}"
    if service == "lambda":
        body = json.dumps({"Type": "Service", "Message": fault.message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", fault.error)]
    else:
        body = json.dumps({"__type": f"com.amazonaws.{service}#{fault.error}", "message": fault.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", fault.error)]
    return status, headers, body
