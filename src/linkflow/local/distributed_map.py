"""Distributed Map for moto's Step Functions engine, with the Map Run semantics AWS has.

moto 5.2.5 runs a Distributed Map's items but lets every child fail silently (the Map succeeds with
``null`` outputs), writes a ResultWriter manifest that lists no result file, and forgets its Map
Runs when an execution is redriven. The local stack replaces three of its methods:

- ``DistributedIterationComponent._eval_body``: a Map Run keeps one child per item (name, input,
  status, output, error, dates, redrive count). When the failed children exceed the tolerated
  threshold (``ToleratedFailureCount`` / ``ToleratedFailurePercentage``, none declared: one failure)
  no further child starts (those started at once, as many as ``MaxConcurrency`` allows, all run,
  whichever fails first) and the Map Run fails with ``States.ExceededToleratedFailureThreshold``.
  In a redrive (``redrive.py`` arms the failed Map Runs) the same Map Run (same ARN) runs again
  only its children that did not succeed; the succeeded children's outputs are kept.
- ``DistributedItemProcessorWorker._eval_job``: runs one child and records its outcome.
- the ResultWriter's ``s3:putObject``: writes ``SUCCEEDED_0.json``, ``FAILED_0.json`` and
  ``PENDING_0.json`` (AWS's entry shape) next to ``manifest.json``, which lists them.

``DescribeMapRun`` counts items and child executions from the children (``redriveCount`` and
``redriveDate`` added), so a progress bar reads the truth.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, cast

from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    MapRunFailedEventDetails,
    MapRunRedrivenEventDetails,
    MapRunStartedEventDetails,
    MapRunStatus,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as _component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as _worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.map_run_record import (
    MapRunRecord,
    MapRunRecordPoolManager,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as _result_writer,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

THRESHOLD_ERROR = "States.ExceededToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")
_RUN = "linkflow_map_run"  # the attribute a MapRunRecord carries its LocalMapRun in
_installed = False


class _StatesError(ErrorName):
    """An error name of the ``States.`` family moto's enum lacks."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


@dataclass
class Child:
    """One item's child execution."""

    index: int
    item: Any
    arn: str
    status: str = "PENDING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start: datetime.datetime | None = None
    stop: datetime.datetime | None = None
    redrive_count: int = 0

    def result_entry(self, state_machine_arn: str, run_input: Any) -> dict[str, Any]:
        """The child as a ResultWriter file lists it (AWS's shape)."""
        entry: dict[str, Any] = {
            "ExecutionArn": self.arn, "Name": self.arn.rsplit(":", 1)[1], "StateMachineArn": state_machine_arn,
            "Status": self.status, "Input": to_json_str(run_input), "InputDetails": {"Included": True},
            "RedriveCount": self.redrive_count,
        }
        if self.start:
            entry["StartDate"] = iso_8601_datetime_with_milliseconds(self.start)
        if self.stop:
            entry["StopDate"] = iso_8601_datetime_with_milliseconds(self.stop)
        if self.status == "SUCCEEDED":
            entry.update(Output=to_json_str(self.output), OutputDetails={"Included": True},
                         RedriveStatus="NOT_REDRIVABLE",
                         RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven")
        elif self.status in UNSUCCESSFUL:
            entry.update(Error=self.error, Cause=self.cause, RedriveStatus="REDRIVABLE")
        return entry


@dataclass
class LocalMapRun:
    """A Map Run's children and redrive state, kept on moto's MapRunRecord."""

    record: MapRunRecord
    state_name: str
    children: list[Child]
    redrive_count: int = 0
    redrive_date: datetime.datetime | None = None
    armed: bool = False  # a redrive of the execution will run the unsuccessful children again
    halted: bool = False  # the threshold was exceeded: no further child starts
    # the children started at once when the Map Run began (as many as MaxConcurrency allows): a
    # failure among them cannot keep the others from starting, as on AWS, whichever thread is first
    started_together: frozenset[int] = frozenset()
    results_written: int = 0
    item_inputs: dict[int, Any] = field(default_factory=dict)  # the child's input after ItemSelector
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, record: MapRunRecord) -> LocalMapRun | None:
        run: LocalMapRun | None = getattr(record, _RUN, None)
        return run

    def attach(self) -> None:
        setattr(self.record, _RUN, self)

    def to_run(self) -> list[Child]:
        return [c for c in self.children if c.status != "SUCCEEDED"]

    def begin_redrive(self) -> None:
        with self.lock:
            self.redrive_count += 1
            self.redrive_date = _now()
            self.armed = self.halted = False
            for child in self.to_run():
                if child.status != "PENDING":
                    child.redrive_count += 1
                child.status, child.error, child.cause, child.stop = "PENDING", None, None, None
            self.record.status = MapRunStatus.RUNNING
            self.record.stop_date = None

    def threshold_exceeded(self) -> bool:
        failed = sum(1 for c in self.children if c.status in UNSUCCESSFUL)
        if not failed:
            return False
        count = int(self.record.tolerated_failure_count or 0)
        percentage = float(self.record.tolerated_failure_percentage or 0)
        if not count and not percentage:
            return True
        return bool((count and failed > count) or (percentage and failed * 100 / len(self.children) > percentage))

    def counts(self) -> dict[str, int]:
        by_status = {s: 0 for s in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")}
        for child in self.children:
            by_status[child.status] += 1
        return {
            "pending": by_status["PENDING"], "running": by_status["RUNNING"], "succeeded": by_status["SUCCEEDED"],
            "failed": by_status["FAILED"], "timedOut": by_status["TIMED_OUT"], "aborted": by_status["ABORTED"],
            "total": len(self.children), "resultsWritten": self.results_written,
            "failuresNotRedrivable": 0,
            "pendingRedrive": sum(1 for c in self.children if c.status == "PENDING" and c.redrive_count),
        }


def arm_redrive(pool: MapRunRecordPoolManager) -> None:
    """Called by a redrive: every failed Map Run of the execution runs its unsuccessful children again."""
    for record in pool.get_all():
        run = LocalMapRun.of(record)
        if run is not None and record.status != MapRunStatus.SUCCEEDED:
            run.armed = True


def _armed_run(pool: MapRunRecordPoolManager, state_name: str) -> LocalMapRun | None:
    for record in pool.get_all():
        run = LocalMapRun.of(record)
        if run is not None and run.armed and run.state_name == state_name:
            return run
    return None


def _new_run(record: MapRunRecord, state_name: str, items: list[Any]) -> LocalMapRun:
    prefix = record.map_state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    children = [Child(index=i, item=item, arn=f"{prefix}:{uuid.uuid4()}") for i, item in enumerate(items)]
    run = LocalMapRun(record=record, state_name=state_name, children=children)
    run.attach()
    return run


# --- the patched methods --------------------------------------------------------------------------


def _eval_body(self: Any, env: Any) -> None:
    eval_input = env.stack.pop()
    pool: MapRunRecordPoolManager = env.map_run_record_pool_manager
    fresh: MapRunRecord = eval_input.map_run_record
    run = _armed_run(pool, eval_input.state_name)
    if run is not None:  # a redrive: the same Map Run goes on, the state's new record is dropped
        pool._pool.pop(fresh.map_run_arn, None)
        # the ResultWriter writes the last Map Run of the pool
        cast(OrderedDict[str, MapRunRecord], pool._pool).move_to_end(run.record.map_run_arn)
        run.begin_redrive()
        eval_input.map_run_record = run.record
        env.event_manager.add_event(
            context=env.event_history_context, event_type=HistoryEventType.MapRunRedriven,
            # moto's EventDetails does not list this key; the history serializes it as AWS does.
            event_details=cast(EventDetails, {"mapRunRedrivenEventDetails": MapRunRedrivenEventDetails(
                mapRunArn=run.record.map_run_arn, redriveCount=run.redrive_count)}),
        )
    else:
        env.event_manager.add_event(
            context=env.event_history_context, event_type=HistoryEventType.MapRunStarted,
            event_details=cast(EventDetails, {"mapRunStartedEventDetails": MapRunStartedEventDetails(
                mapRunArn=fresh.map_run_arn)}),
        )
    record: MapRunRecord = eval_input.map_run_record
    parent_event_manager = env.event_manager
    try:
        if run is None:
            if eval_input.item_reader:
                eval_input.item_reader.eval(env=env)
                items = env.stack.pop()
            else:
                items = eval_input.input_items
            run = _new_run(record, eval_input.state_name, list(items))
        env.event_manager = EventManager()  # the children's events are not the parent's
        _run_children(self, env, eval_input, run)
        if run.threshold_exceeded():
            details = MapRunFailedEventDetails(error=THRESHOLD_ERROR, cause=THRESHOLD_CAUSE)
            raise FailureEventException(FailureEvent(
                env=env, error_name=_StatesError(THRESHOLD_ERROR), event_type=HistoryEventType.MapRunFailed,
                event_details=cast(EventDetails, {"mapRunFailedEventDetails": details})))
    except Exception as exc:
        env.event_manager = parent_event_manager
        details = MapRunFailedEventDetails()
        pair = exc.extract_error_cause_pair() if isinstance(exc, FailureEventException) else None
        if pair:
            error, cause = pair
            if error:
                details["error"] = error
            if cause:
                details["cause"] = cause
        env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.MapRunFailed,
                                    event_details=cast(EventDetails, {"mapRunFailedEventDetails": details}))
        record.set_stop(status=MapRunStatus.FAILED)
        raise
    finally:
        env.event_manager = parent_event_manager
    env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.MapRunSucceeded)
    record.set_stop(status=MapRunStatus.SUCCEEDED)


def _run_children(self: Any, env: Any, eval_input: Any, run: LocalMapRun) -> None:
    """moto's ``_map_run`` over the children still to run; the outputs of all, in item order."""
    pending = run.to_run()
    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=[c.item for c in pending])
    for job in job_pool._open_jobs:
        job.job_index = pending[job.job_index].index  # type: ignore[misc]  # $$.Map.Item.Index: the item's own
    max_concurrency = run.record.max_concurrency
    workers = len(pending) if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    run.started_together = frozenset(c.index for c in pending[:max(workers, 1)])  # the jobs are taken in order
    for _ in range(max(workers, 1) if pending else 0):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    job_pool.await_jobs()
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    env.stack.append([c.output for c in run.children])


def _eval_job(self: Any, env: Any, job: Any) -> None:
    run = LocalMapRun.of(self._map_run_record)
    assert run is not None, "every local Map Run has its children"
    child = run.children[job.job_index]
    with run.lock:
        if run.halted and child.index not in run.started_together:
            # AWS starts no further child once the Map Run is failing: it stays PENDING
            job.job_output = None
            return
        child.status, child.start, child.output = "RUNNING", _now(), None
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)
        run.item_inputs[child.index] = env.states.get_input()
        job.job_program.eval(env)
        state = env.program_state()
        if isinstance(state, ProgramError):
            failure = state.error or {}
            _finish(run, child, "FAILED", error=failure.get("error"), cause=failure.get("cause"))
        elif isinstance(state, ProgramTimedOut):
            _finish(run, child, "TIMED_OUT", error="States.Timeout")
        elif isinstance(state, ProgramStopped):
            _finish(run, child, "ABORTED", error=state.error, cause=state.cause)
        else:
            _finish(run, child, "SUCCEEDED", output=env.states.get_input())
    except EvalTimeoutError:
        _finish(run, child, "TIMED_OUT", error="States.Timeout")
    except FailureEventException as exc:
        error, cause = exc.extract_error_cause_pair() or (None, None)
        _finish(run, child, "FAILED", error=error, cause=cause)
    except Exception as exc:  # the child fails, as on AWS; the Map Run decides what that means
        _finish(run, child, "FAILED", error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
    finally:
        job.job_output = child.output


def _finish(run: LocalMapRun, child: Child, status: str, *, output: Any = None, error: str | None = None,
            cause: str | None = None) -> None:
    with run.lock:
        child.status, child.output, child.error, child.cause, child.stop = status, output, error, cause, _now()
        if status != "SUCCEEDED" and run.threshold_exceeded():
            run.halted = True


def _put_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """The ResultWriter: every child's entry in SUCCEEDED/FAILED/PENDING files and the manifest."""
    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the files carry them
    s3 = _result_writer.ResourceEvalS3._get_s3_client(resource_runtime_part=resource_runtime_part,
                                                      state_credentials=state_credentials)
    record = env.map_run_record_pool_manager.get_all().pop()
    run = LocalMapRun.of(record)
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{record.map_run_arn.split(':')[-1]}/"
    groups: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in run.children if run else []:
        group = "FAILED" if child.status in UNSUCCESSFUL else child.status if child.status in groups else "PENDING"
        groups[group].append(child.result_entry(record.map_state_machine_arn,
                                                run.item_inputs.get(child.index, child.item) if run else None))
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for group, entries in groups.items():
        if entries:
            body = json.dumps(entries).encode()
            key = f"{base}{group}_0.json"
            s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
            files[group].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": record.map_run_arn, "ResultFiles": files}
    key = f"{base}manifest.json"
    s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest, indent=2).encode())
    if run is not None:
        run.results_written = sum(len(v) for v in groups.values())
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"],
                                                                               "Key": key}})


def _describe(original: Any) -> Any:
    def describe(self: MapRunRecord) -> Any:
        out = original(self)
        run = LocalMapRun.of(self)
        out["redriveCount"] = run.redrive_count if run else 0
        if run is not None:
            out["itemCounts"] = run.counts()
            out["executionCounts"] = run.counts()
            if run.redrive_date:
                out["redriveDate"] = iso_8601_datetime_with_milliseconds(run.redrive_date)
        return out

    return describe


def find_run(backend: Any, map_run_arn: str) -> LocalMapRun | None:
    """The Map Run ``map_run_arn`` of any execution of ``backend``."""
    for execution in backend._get_executions():
        worker = execution.exec_worker
        env = getattr(worker, "env", None) if worker else None
        record = env.map_run_record_pool_manager.get(map_run_arn) if env else None
        if record is not None:
            return LocalMapRun.of(record)
    return None


def install() -> None:
    """Patch moto's Distributed Map (process-wide, idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _component.DistributedIterationComponent._eval_body = _eval_body  # type: ignore[method-assign]
    _worker.DistributedItemProcessorWorker._eval_job = _eval_job  # type: ignore[method-assign]
    _result_writer.ResourceEvalS3._handle_put_object = staticmethod(_put_results)  # type: ignore[method-assign]
    MapRunRecord.describe = _describe(MapRunRecord.describe)  # type: ignore[method-assign]
