"""``RedriveExecution`` for moto's Step Functions engine, with AWS's semantics.

Same execution ARN; the run resumes at the state that failed, with the input that state was
entered with; states that succeeded are not re-run; retry counters start again; an
``ExecutionRedriven`` event follows the earlier events in the one history; ``redriveCount`` and
``redriveStatus`` appear on DescribeExecution; succeeded or running executions are
``ExecutionNotRedrivable``. A failed Distributed Map is redriven as AWS redrives its Map Run: the
same Map Run runs again only its children that did not succeed (``distributed_map.py``).
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, cast

from moto.core.exceptions import AWSError
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS

from . import distributed_map

REDRIVABLE = {ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}
_lock = threading.Lock()


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


def redrive_status(execution: Execution) -> tuple[str, str | None]:
    status = execution.exec_status
    if status in REDRIVABLE:
        return "REDRIVABLE", None
    if status == ExecutionStatus.SUCCEEDED:
        return "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"
    return "NOT_REDRIVABLE", f"Execution is {status.value if status else 'PENDING'} and cannot be redriven"


def failed_state(events: Sequence[Mapping[str, Any]]) -> tuple[str | None, Any]:
    """The top-level state that was entered and never exited, with the input it was entered with."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered") and "stateEnteredEventDetails" in event:
            details = event["stateEnteredEventDetails"]
            open_states[details["name"]] = details.get("input")
            order.append(details["name"])
        elif kind.endswith("StateExited") and "stateExitedEventDetails" in event:
            open_states.pop(event["stateExitedEventDetails"]["name"], None)
    for name in reversed(order):
        if name in open_states:
            raw = open_states[name]
            return name, json.loads(raw) if isinstance(raw, str) else raw
    return None, None


class RedriveWorker(ExecutionWorker):
    """Runs the program from ``state_name`` on the history of the earlier run."""

    def __init__(self, base: ExecutionWorker, state_name: str | None, state_input: Any, count: int):
        super().__init__(
            evaluation_details=base._evaluation_details,
            exec_comm=base._execution_communication,
            cloud_watch_logging_session=base._cloud_watch_logging_session,
            activity_store=base._activity_store,
        )
        self._previous_env = base.env
        self._state_name = state_name
        self._state_input = state_input
        self._count = count
        self._prepare()

    def _prepare(self) -> None:
        # Built before start() so GetExecutionHistory never sees an empty history mid-redrive.
        program = copy.copy(self._get_evaluation_entrypoint())  # shared by every execution: never changed
        if self._state_name is not None:
            program.start_at = StartAt(self._state_name)  # type: ignore[attr-defined]  # a Program, typed as its base
        env = self._get_evaluation_environment()
        previous = self._previous_env
        if previous is not None:
            env.event_manager = previous.event_manager
            history = previous.event_manager.get_event_history()
            last_id = history[-1]["id"] if history else 0
            # Final in moto: a redrive continues the earlier history instead of starting one.
            env.event_history_context = EventHistoryContext(previous_event_id=last_id)  # type: ignore[misc]
            # The Map Runs stay the execution's (ListMapRuns, DescribeMapRun); the failed ones resume.
            env.map_run_record_pool_manager = previous.map_run_record_pool_manager
            distributed_map.arm_redrive(env.map_run_record_pool_manager)
        if self._state_name is not None:
            env.states.reset(self._state_input)
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            # moto's EventDetails does not list this key; the history serializes it as AWS does.
            event_details=cast(EventDetails, {
                "executionRedrivenEventDetails": ExecutionRedrivenEventDetails(redriveCount=self._count)}),
        )
        self._program = program
        self.env = env

    def _execution_logic(self) -> None:
        assert self.env is not None  # set by _prepare
        self._program.eval(self.env)
        self._execution_communication.terminated()

    def start(self) -> None:
        thread = threading.Thread(target=self._execution_logic, daemon=True)
        TMP_THREADS.append(thread)
        thread.start()


def redrive(execution: Execution) -> datetime.datetime:
    with _lock:
        status, reason = redrive_status(execution)
        if status != "REDRIVABLE":
            raise ExecutionNotRedrivable(f"Execution {execution.exec_arn}: {reason}")
        worker = execution.exec_worker
        assert worker is not None, "a redrivable execution has run"
        events = worker.env.event_manager.get_event_history() if worker and worker.env else []
        state_name, state_input = failed_state(events)
        count = getattr(execution, "redrive_count", 0) + 1
        now = datetime.datetime.now(tz=datetime.UTC)
        execution.redrive_count = count  # type: ignore[attr-defined]
        execution.redrive_date = now  # type: ignore[attr-defined]
        execution.exec_status = ExecutionStatus.RUNNING
        execution.stop_date = None
        execution.error = None
        execution.cause = None
        new_worker = RedriveWorker(worker, state_name, state_input, count)
        execution.exec_worker = new_worker
        new_worker.start()
        return now
