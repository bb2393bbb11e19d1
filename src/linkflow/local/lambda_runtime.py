"""What the local stack knows of a Lambda function, and the one seam through which moto invokes it.

moto's Lambda needs Docker to invoke; the local stack replaces that one seam
(``LambdaFunction._invoke_lambda``) with a call into its runtime, ``runtime.ProcessRuntime``:
each handler runs in a worker process under the runtime interface client, as on Lambda. Every
other caller of a handler (the Cognito triggers, the SQS pollers, the HTTP API) calls the same
runtime's ``invoke``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .runtime import WorkerInfo

THROTTLED_ERROR = "Lambda.TooManyRequestsException"  # what Step Functions sees when Lambda throttles


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: list[Path]
    timeout: int = 3
    memory_size: int = 128
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions; None: unreserved


@dataclass
class HandlerFault:
    """The next ``count`` invocations raise ``error`` (an exception class name) with ``message``."""

    count: int
    error: str = "InjectedFault"
    message: str = "fault injected by the local stack"


class Runtime(Protocol):
    """What the stack's parts need of a Lambda runtime: invoke by name or ARN, faults, counts."""

    functions: dict[str, FunctionSpec]
    faults: dict[str, HandlerFault]
    invocations: dict[str, int]
    cold_starts: dict[str, int]
    throttles: dict[str, int]

    def register(self, spec: FunctionSpec) -> None: ...

    def find(self, name_or_arn: str) -> FunctionSpec: ...

    def inject(self, function: str, fault: HandlerFault) -> None: ...

    def clear_faults(self) -> None: ...

    def invoke(self, name_or_arn: str, event: Any) -> tuple[Any, bool]: ...

    def workers(self, function: str | None = None) -> list[WorkerInfo]: ...


def is_throttle(result: Any, errored: bool) -> bool:
    """Whether an invocation's answer is Lambda refusing it for concurrency (no handler ran)."""
    return errored and isinstance(result, dict) and result.get("errorType") == THROTTLED_ERROR


_runtime: Runtime | None = None


def install(runtime: Runtime) -> None:
    """Route moto's Lambda invocations to ``runtime`` (process-wide)."""
    global _runtime
    _runtime = runtime
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        assert _runtime is not None
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        result, errored = _runtime.invoke(self.function_name, payload)
        return json.dumps(result, default=str), errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
