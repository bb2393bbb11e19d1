"""The one factory for boto3 clients and DynamoDB tables.

Honours ``AWS_ENDPOINT_URL`` (the local stack, moto) and ``AWS_REGION``; explicit arguments beat
both. Clients are cached per (service, profile, endpoint, region) and shared across threads
(boto3 clients are thread-safe); resources are not thread-safe, so tables are cached per thread.

Three timeout profiles, each one attempt per call (no SDK retry: the caller's own policy retries,
so one policy decides and a call's worst case is short and known, :func:`worst_call_seconds`):
``task`` for state machine steps (their ASL Retry backs off), ``trigger`` for Cognito triggers,
which must answer within 5 s (PreSignUp fails open, PostConfirmation queues the start), and
``ingress`` for the webhook (Stripe retries the delivery itself). Each step's calls times its
profile's worst case fit the function's ``Timeout``, which fits the state's ``TimeoutSeconds``:
tests/unit/test_time_budgets.py holds that arithmetic.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

Profile = Literal["task", "trigger", "ingress"]


@dataclass(frozen=True)
class Timeouts:
    """A profile's timeouts (seconds) and attempts per call (botocore's standard retry mode)."""

    connect: float
    read: float
    attempts: int = 1

    def config(self) -> Config:
        return Config(connect_timeout=self.connect, read_timeout=self.read,
                      retries={"mode": "standard", "total_max_attempts": self.attempts})

    def worst_call_seconds(self) -> float:
        """Every attempt connecting and reading up to its timeouts, plus botocore's longest backoff
        between attempts (up to 2 ** (retry - 1) s, at most 20 s)."""
        backoff = sum(min(2.0 ** (retry - 1), 20.0) for retry in range(1, self.attempts))
        return self.attempts * (self.connect + self.read) + backoff


TIMEOUTS: dict[str, Timeouts] = {
    "task": Timeouts(connect=1, read=2),
    "trigger": Timeouts(connect=0.5, read=1),
    "ingress": Timeouts(connect=1, read=3),
}
PROFILES: dict[str, Config] = {name: timeouts.config() for name, timeouts in TIMEOUTS.items()}


def worst_call_seconds(profile: Profile) -> float:
    """The longest one AWS call of ``profile`` can take."""
    return TIMEOUTS[profile].worst_call_seconds()


_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None, str | None], Any] = {}
_thread = threading.local()


def _where(endpoint_url: str | None, region_name: str | None) -> tuple[str | None, str | None]:
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    region = region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return endpoint, region


def client(
    service: str, *, profile: Profile = "task", endpoint_url: str | None = None, region_name: str | None = None
) -> Any:
    """A cached boto3 client for ``service``."""
    endpoint, region = _where(endpoint_url, region_name)
    key = (service, profile, endpoint, region)
    with _lock:
        cached = _clients.get(key)
        if cached is None:
            cached = _session().client(  # type: ignore[call-overload]  # service is a runtime string
                service, endpoint_url=endpoint, region_name=region, config=PROFILES[profile]
            )
            _clients[key] = cached
    return cached


def cognito(profile: Profile = "task") -> CognitoIdentityProviderClient:
    return cast("CognitoIdentityProviderClient", client("cognito-idp", profile=profile))


def stepfunctions(profile: Profile = "task") -> SFNClient:
    return cast("SFNClient", client("stepfunctions", profile=profile))


def s3(profile: Profile = "task") -> S3Client:
    return cast("S3Client", client("s3", profile=profile))


def sqs(profile: Profile = "task") -> SQSClient:
    return cast("SQSClient", client("sqs", profile=profile))


def secretsmanager(profile: Profile = "task") -> SecretsManagerClient:
    return cast("SecretsManagerClient", client("secretsmanager", profile=profile))


def dynamodb_table(
    name: str, *, profile: Profile = "task", endpoint_url: str | None = None, region_name: str | None = None
) -> Table:
    """A DynamoDB ``Table`` resource, cached for the calling thread.

    The ``Table`` itself is kept too: building one costs about 0.65 ms of CPU (as much as a warm
    handler's own work), once per warm thread instead of once per invocation.
    """
    endpoint, region = _where(endpoint_url, region_name)
    tables: dict[tuple[str, str, str | None, str | None], Table] = getattr(_thread, "tables", None) or {}
    _thread.tables = tables
    table = tables.get((name, profile, endpoint, region))
    if table is not None:
        return table
    cache: dict[tuple[str, str | None, str | None], DynamoDBServiceResource] = getattr(_thread, "resources", None) or {}
    _thread.resources = cache
    key = (profile, endpoint, region)
    resource = cache.get(key)
    if resource is None:
        # Resources are not thread-safe, sessions are costly (~100 ms of CPU loading botocore's
        # models): one process-wide session, used under the lock, builds each thread's resource.
        with _lock:
            resource = _session().resource("dynamodb", endpoint_url=endpoint, region_name=region,
                                           config=PROFILES[profile])
        cache[key] = resource
    table = tables[(name, profile, endpoint, region)] = resource.Table(name)
    return table


_shared_session: boto3.session.Session | None = None


def _session() -> boto3.session.Session:
    """The process-wide session (call with ``_lock`` held)."""
    global _shared_session
    if _shared_session is None:
        _shared_session = boto3.session.Session()
    return _shared_session


def clear_cache() -> None:
    """Forget every cached client (tests that switch endpoints or credentials)."""
    with _lock:
        _clients.clear()
    _thread.resources = {}
    _thread.tables = {}
