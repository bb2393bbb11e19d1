"""Run the template's Lambda handlers in-process, each function isolated.

moto's Lambda needs Docker to invoke; the local stack replaces that one seam
(``LambdaFunction._invoke_lambda``) with a call into the real handler, loaded from the
function's CodeUri under a module name of its own (every function has an ``app.py``: they must
not collide in ``sys.modules``) and run with the function's environment (see ``environ``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from . import environ


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


@dataclass
class HandlerFault:
    """The next ``count`` invocations raise ``error`` (an exception class name) with ``message``."""

    count: int
    error: str = "InjectedFault"
    message: str = "fault injected by the local stack"


class LambdaContext:
    """The attributes of AWS's Lambda context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, deadline: float) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InjectedFault(Exception):
    pass


_in_handler = threading.local()


@contextmanager
def _handler_output() -> Iterator[None]:
    previous = getattr(_in_handler, "active", False)
    _in_handler.active = True
    try:
        yield
    finally:
        _in_handler.active = previous


@dataclass
class LambdaRuntime:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)  # by function name
    faults: dict[str, HandlerFault] = field(default_factory=dict)
    invocations: dict[str, int] = field(default_factory=dict)
    _modules: dict[str, ModuleType] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, spec: FunctionSpec) -> None:
        app_path = spec.code_dir / f"{spec.handler.rsplit('.', 1)[0]}.py"
        if not app_path.is_file():
            raise FileNotFoundError(f"{spec.logical_id}: handler file {app_path} does not exist")
        self.functions[spec.name] = spec

    def find(self, name_or_arn: str) -> FunctionSpec:
        for spec in self.functions.values():
            if name_or_arn in (spec.name, spec.arn, spec.logical_id):
                return spec
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        if name in self.functions:
            return self.functions[name]
        raise KeyError(f"function {name_or_arn} is not provisioned by the local stack")

    def inject(self, function: str, fault: HandlerFault) -> None:
        spec = self.find(function)
        with self._lock:
            self.faults[spec.name] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def load(self, spec: FunctionSpec) -> Any:
        module_file, func_name = spec.handler.rsplit(".", 1)
        with self._lock:
            module = self._modules.get(spec.name)
            if module is None:
                for layer in spec.layer_dirs:
                    if str(layer) not in sys.path:
                        sys.path.insert(0, str(layer))
                path = spec.code_dir / f"{module_file}.py"
                module_name = f"linkflow_local_fn.{spec.logical_id}.{module_file}"
                module_spec = importlib.util.spec_from_file_location(module_name, path)
                assert module_spec and module_spec.loader
                module = importlib.util.module_from_spec(module_spec)
                with environ.overlay(spec.environment), _handler_output():
                    module_spec.loader.exec_module(module)
                sys.modules[module_name] = module
                self._modules[spec.name] = module
        return getattr(module, func_name)

    def _take_fault(self, spec: FunctionSpec) -> HandlerFault | None:
        with self._lock:
            self.invocations[spec.name] = self.invocations.get(spec.name, 0) + 1
            fault = self.faults.get(spec.name)
            if fault is None:
                return None
            fault.count -= 1
            if fault.count <= 0:
                del self.faults[spec.name]
            return fault

    def invoke(self, name_or_arn: str, event: Any) -> tuple[Any, bool]:
        """Run the handler; answer ``(result, errored)`` with Lambda's error payload on failure."""
        spec = self.find(name_or_arn)
        fault = self._take_fault(spec)
        if fault is not None:
            return {"errorType": fault.error, "errorMessage": fault.message}, True
        handler = self.load(spec)
        context = LambdaContext(spec, time.monotonic() + spec.timeout)
        try:
            with environ.overlay(spec.environment), _handler_output():
                return handler(event, context), False
        except Exception as exc:  # the handler's failure is the invocation's result, as on AWS
            return {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }, True


class RoutedStream(io.TextIOBase):
    """``sys.stdout`` stand-in: what a handler prints goes to the Lambda log file, the rest passes.

    On AWS a function's prints and Powertools log lines land in CloudWatch Logs; locally they
    would drown the operator's console, so ``local up`` and the demo send them to a file.
    """

    def __init__(self, console: TextIO, sink: TextIO):
        self.console = console
        self.sink = sink
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if getattr(_in_handler, "active", False):
            with self._lock:
                self.sink.write(text)
                self.sink.flush()
            return len(text)
        return self.console.write(text)

    def flush(self) -> None:
        self.console.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.console, "isatty", lambda: False)())


def route_output(path: Path) -> RoutedStream:
    """Send what handlers print to ``path`` (from now on, process-wide)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stdout.console if isinstance(sys.stdout, RoutedStream) else sys.stdout
    stream = RoutedStream(console, path.open("a", encoding="utf-8"))
    sys.stdout = stream
    return stream


_runtime: LambdaRuntime | None = None


def install(runtime: LambdaRuntime) -> None:
    """Route moto's Lambda invocations to ``runtime`` (process-wide)."""
    global _runtime
    _runtime = runtime
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        assert _runtime is not None
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        result, errored = _runtime.invoke(self.function_name, payload)
        buf = io.StringIO()
        return json.dumps(result, default=str), errored, buf.getvalue()

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
