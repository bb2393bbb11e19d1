"""Lambda handlers in worker processes under the real runtime interface client (awslambdaric).

``ProcessRuntime`` has ``LambdaRuntime``'s surface (register, find, inject, clear_faults,
invoke, invocations); each invocation runs in a worker process (``python -m awslambdaric
<handler>``) that talks to a Runtime API endpoint of its own, with exactly its function's
environment plus what Lambda sets, its ``Timeout`` and ``ReservedConcurrentExecutions``
enforced and Lambda's ``START``/``END``/``REPORT`` lines in a log file per function.
"""

from ._logs import read_log
from ._process_runtime import THROTTLED, ProcessRuntime, WorkerInfo, reserved_concurrency
from ._worker import lambda_environment

__all__ = ["THROTTLED", "ProcessRuntime", "WorkerInfo", "lambda_environment", "read_log", "reserved_concurrency"]
