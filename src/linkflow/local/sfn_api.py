"""Step Functions API additions for moto: RedriveExecution, redrive fields, paginated history."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses

from . import distributed_map
from . import redrive as _redrive

_installed = False


def _execution(response: Any, arn: str) -> Any:
    return response.stepfunction_backend.describe_execution(arn)


def _fields(result: ActionResult) -> dict[str, Any]:
    """The answer's fields (moto's Step Functions responses answer with a dict)."""
    fields = result.result
    assert isinstance(fields, dict), type(fields)
    return fields


def redrive_execution(self: Any) -> ActionResult:
    execution = _execution(self, self._get_param("executionArn"))
    when = _redrive.redrive(execution)
    return ActionResult({"redriveDate": when})


def _with_redrive_fields(original: Any) -> Any:
    def describe_execution(self: Any) -> ActionResult:
        result: ActionResult = original(self)
        execution = _execution(self, self._get_param("executionArn"))
        status, reason = _redrive.redrive_status(execution)
        extra: dict[str, Any] = {"redriveCount": getattr(execution, "redrive_count", 0), "redriveStatus": status}
        if reason:
            extra["redriveStatusReason"] = reason
        if getattr(execution, "redrive_date", None):
            extra["redriveDate"] = execution.redrive_date
        _fields(result).update(extra)
        return result

    return describe_execution


def _list_with_redrive_fields(original: Any) -> Any:
    def list_executions(self: Any) -> ActionResult:
        backend = self.stepfunction_backend
        map_run_arn = self._get_param("mapRunArn")
        if map_run_arn:
            return _map_run_children(backend, map_run_arn, self._get_param("statusFilter"))
        result: ActionResult = original(self)
        redrive_filter = self._get_param("redriveFilter")
        items = []
        for item in _fields(result)["executions"]:
            execution = backend.describe_execution(item["executionArn"])
            count = getattr(execution, "redrive_count", 0)
            if count:
                item["redriveCount"] = count
                item["redriveDate"] = execution.redrive_date
            if redrive_filter == "REDRIVEN" and not count:
                continue
            if redrive_filter == "NOT_REDRIVEN" and count:
                continue
            if item.get("status") != "RUNNING" and execution.stop_date:
                item["stopDate"] = execution.stop_date
            items.append(item)
        _fields(result)["executions"] = items
        return result

    return list_executions


def _map_run_children(backend: Any, map_run_arn: str, status_filter: str | None) -> ActionResult:
    """ListExecutions with ``mapRunArn``: the Map Run's child executions (one page)."""
    from moto.stepfunctions.exceptions import ResourceNotFound

    run = distributed_map.find_run(backend, map_run_arn)
    if run is None:
        raise ResourceNotFound(map_run_arn)
    items = []
    for child in run.children:
        if child.start is None or (status_filter and child.status != status_filter):
            continue
        item: dict[str, Any] = {"executionArn": child.arn, "stateMachineArn": run.record.map_state_machine_arn,
                                "name": child.arn.rsplit(":", 1)[1], "status": child.status,
                                "startDate": child.start, "mapRunArn": map_run_arn,
                                "redriveCount": child.redrive_count}
        if child.stop is not None:
            item["stopDate"] = child.stop
        items.append(item)
    return ActionResult({"executions": items})


def get_execution_history(self: Any) -> ActionResult:
    """AWS pages history (maxResults up to 1000, default 100, nextToken, reverseOrder)."""
    arn = self._get_param("executionArn")
    events = list(self.stepfunction_backend.get_execution_history(arn)["events"])
    if self._get_param("reverseOrder"):
        events.reverse()
    max_results = int(self._get_param("maxResults") or 100)
    max_results = max(1, min(max_results, 1000))
    token = self._get_param("nextToken")
    start = int(json.loads(base64.b64decode(token))["offset"]) if token else 0
    page = events[start : start + max_results]
    out: dict[str, Any] = {"events": page}
    if start + max_results < len(events):
        out["nextToken"] = base64.b64encode(json.dumps({"offset": start + max_results}).encode()).decode()
    return ActionResult(out)


_client_cache: dict[tuple[str, str], Any] = {}
_client_lock = threading.Lock()


def install() -> None:
    """Patch moto's Step Functions responses (process-wide, idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    cls = sfn_responses.StepFunctionResponse
    cls.redrive_execution = redrive_execution  # type: ignore[attr-defined]
    cls.describe_execution = _with_redrive_fields(cls.describe_execution)  # type: ignore[method-assign]
    cls.list_executions = _list_with_redrive_fields(cls.list_executions)  # type: ignore[method-assign]
    cls.get_execution_history = get_execution_history  # type: ignore[method-assign]
    distributed_map.install()
    _cache_engine_clients()
    _list_map_runs_of_a_starting_execution()


def _list_map_runs_of_a_starting_execution() -> None:
    """ListMapRuns of an execution whose worker thread has not built its environment yet answers
    no Map Run (as AWS answers before the Map state starts), not moto's AttributeError (a 500 that
    the reconcile CLI's progress polling met right after StartExecution)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.list_map_runs

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        execution = self.describe_execution(execution_arn=execution_arn)
        worker = getattr(execution, "exec_worker", None)
        if worker is None or getattr(worker, "env", None) is None:
            return {"mapRuns": []}
        result: dict[str, Any] = original(self, execution_arn)
        return result

    StepFunctionsParserBackend.list_map_runs = list_map_runs  # type: ignore[method-assign]


def _cache_engine_clients() -> None:
    """The engine builds a new boto3 client for every task; building one costs more than the call."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        with _client_lock:
            client = _client_cache.get(key)
            if client is None:
                client = _client_cache[key] = original(region, service, state_credentials)
        return client

    boto_client.boto_client_for = boto_client_for
    import sys

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
