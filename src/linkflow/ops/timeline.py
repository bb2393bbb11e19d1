"""Turn a Step Functions execution history into a per-state timeline an operator can read.

One :class:`StateRun` per time a state was entered: when, how long, every attempt of its task
(retries with their errors), how it ended (``succeeded``, ``caught`` when a Catch routed the error
elsewhere, ``failed``, ``aborted``, ``running``), and which run of the execution it belongs to
(0 = the first run, 1 = after the first redrive, ...). Execution-level events (started, redriven,
failed, succeeded) are kept in order next to the states.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_FAILED_TYPES = {"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut",
                 "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed", "TaskStartFailed", "TaskSubmitFailed",
                 "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed"}
_SCHEDULED_TYPES = {"LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled"}
_SUCCEEDED_TYPES = {"LambdaFunctionSucceeded", "TaskSucceeded", "ActivitySucceeded"}
_EXECUTION_STATUS = {
    "ExecutionStarted": "RUNNING",
    "ExecutionRedriven": "RUNNING",
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
FAILED_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}
_EVENT_FIELDS = {"error": "error", "cause": "cause", "redriveCount": "redrive_count"}
COMPENSATION_PREFIXES = ("Compensate", "Rollback", "Undo")


def iso(ts: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a ``Z``: how every timestamp is printed."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Attempt:
    started: datetime
    error: str | None = None
    cause: str | None = None
    ended: datetime | None = None


@dataclass
class StateRun:
    name: str
    entered: datetime
    input: Any = None
    exited: datetime | None = None
    output: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    status: str = "running"  # running | succeeded | failed | caught | aborted
    error: str | None = None
    cause: str | None = None
    type: str = ""  # Task, Choice, Pass, Fail, ... (from the history event type)
    run: int = 0  # 0 = first run, n = after the n-th redrive

    @property
    def duration_ms(self) -> float | None:
        if self.exited is None:
            return None
        return (self.exited - self.entered).total_seconds() * 1000

    @property
    def is_compensation(self) -> bool:
        return self.name.startswith(COMPENSATION_PREFIXES)

    @property
    def retries(self) -> list[Attempt]:
        """Attempts that failed and were tried again (the last attempt is not a retry)."""
        return [a for a in self.attempts[:-1] if a.error]

    def to_json(self, with_io: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.name, "type": self.type, "status": self.status, "run": self.run,
            "entered": iso(self.entered), "exited": iso(self.exited),
            "duration_ms": None if self.duration_ms is None else round(self.duration_ms, 1),
            "attempts": len(self.attempts),
            "retries": [{"at": iso(a.started), "error": a.error, "cause": a.cause} for a in self.retries],
            "error": self.error, "cause": self.cause, "compensation": self.is_compensation,
        }
        if with_io:
            out["input"] = self.input
            out["output"] = self.output
        return out


@dataclass
class Timeline:
    states: list[StateRun]
    events: list[dict[str, Any]]  # execution-level: started, redriven, failed, succeeded
    event_count: int = 0

    @property
    def status(self) -> str:
        """The execution status the history ends in (RUNNING until a closing event)."""
        for event in reversed(self.events):
            if event["type"] in _EXECUTION_STATUS:
                return _EXECUTION_STATUS[event["type"]]
        return "RUNNING"

    @property
    def redrive_count(self) -> int:
        return sum(1 for e in self.events if e["type"] == "ExecutionRedriven")

    @property
    def failed_state(self) -> str | None:
        """Where a failed execution stopped (a redrive resumes there); None unless it failed."""
        if self.status not in FAILED_STATUSES:
            return None
        failed = [s for s in self.states if s.status in ("failed", "aborted") and s.run == self.redrive_count]
        return failed[-1].name if failed else None

    @property
    def current_state(self) -> str | None:
        running = [s for s in self.states if s.status == "running"]
        return running[-1].name if running else None

    @property
    def compensations(self) -> list[str]:
        return [s.name for s in self.states if s.is_compensation]

    def to_json(self, with_io: bool = False) -> dict[str, Any]:
        return {
            "status": self.status,
            "failed_state": self.failed_state,
            "current_state": self.current_state,
            "compensations": self.compensations,
            "history_events": self.event_count,
            "states": [s.to_json(with_io) for s in self.states],
            "execution_events": [{**e, "timestamp": iso(e["timestamp"])} for e in self.events],
        }


def _parse(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def event_details(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``...EventDetails`` of a history event, whichever kind it is ({} if it has none)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {}) or {}


class _Builder:
    def __init__(self) -> None:
        self.states: list[StateRun] = []
        self.open_runs: list[StateRun] = []
        self.execution_events: list[dict[str, Any]] = []
        self.run = 0

    def _find_open(self, name: str) -> StateRun | None:
        return next((r for r in reversed(self.open_runs) if r.name == name), None)

    def _task_run(self) -> StateRun | None:
        # Task events belong to the innermost state still open (Parallel/Map branches nest).
        return self.open_runs[-1] if self.open_runs else None

    def entered(self, kind: str, ts: datetime, details: dict[str, Any]) -> None:
        run = StateRun(name=details["name"], entered=ts, input=_parse(details.get("input")),
                       type=kind[: -len("StateEntered")], run=self.run)
        self.open_runs.append(run)
        self.states.append(run)

    def exited(self, ts: datetime, details: dict[str, Any]) -> None:
        run = self._find_open(details["name"])
        if run is None:
            return
        self.open_runs.remove(run)
        run.exited, run.output = ts, _parse(details.get("output"))
        last = run.attempts[-1] if run.attempts else None
        if last is not None and last.error:
            run.status, run.error, run.cause = "caught", last.error, last.cause
        else:
            run.status = "succeeded"

    def aborted(self, ts: datetime, details: dict[str, Any]) -> None:
        run = self._find_open(details.get("name", "")) or self._task_run()
        if run is not None:
            self.open_runs.remove(run)
            run.status, run.exited = "aborted", ts

    def task_event(self, kind: str, ts: datetime, details: dict[str, Any]) -> None:
        run = self._task_run()
        if run is None:
            return
        if kind in _SCHEDULED_TYPES:
            run.attempts.append(Attempt(started=ts))
            return
        if not run.attempts:
            run.attempts.append(Attempt(started=ts))
        attempt = run.attempts[-1]
        attempt.ended = ts
        if kind in _FAILED_TYPES:
            attempt.error, attempt.cause = details.get("error"), details.get("cause")

    def execution_event(self, kind: str, ts: datetime, details: dict[str, Any]) -> None:
        kept = {_EVENT_FIELDS[k]: v for k, v in details.items() if k in _EVENT_FIELDS}
        self.execution_events.append({"type": kind, "timestamp": ts, **kept})
        if kind == "ExecutionRedriven":
            self.run += 1
        if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            for run in self.open_runs:
                last = run.attempts[-1] if run.attempts else None
                run.status, run.exited = ("aborted" if kind == "ExecutionAborted" else "failed"), ts
                run.error = (last.error if last and last.error else None) or details.get("error")
                run.cause = (last.cause if last and last.error else None) or details.get("cause")
            self.open_runs.clear()


def build_timeline(events: Sequence[Mapping[str, Any]]) -> Timeline:
    """The timeline of a complete history (every page of GetExecutionHistory, oldest first)."""
    builder = _Builder()
    for event in events:
        kind: str = event["type"]
        ts: datetime = event["timestamp"]
        details = event_details(event)
        if kind.endswith("StateEntered"):
            builder.entered(kind, ts, event.get("stateEnteredEventDetails") or details)
        elif kind.endswith("StateExited"):
            builder.exited(ts, event.get("stateExitedEventDetails") or details)
        elif kind.endswith("StateAborted"):
            builder.aborted(ts, details)
        elif kind in _SCHEDULED_TYPES or kind in _FAILED_TYPES or kind in _SUCCEEDED_TYPES:
            builder.task_event(kind, ts, details)
        elif kind.startswith("Execution"):
            builder.execution_event(kind, ts, details)
    return Timeline(states=builder.states, events=builder.execution_events, event_count=len(events))


def event_line(event: Mapping[str, Any]) -> str | None:
    """One readable line for a history event (``--follow``); None for events not worth a line."""
    kind: str = event["type"]
    details = event_details(event)
    if kind.endswith("StateEntered"):
        return f"entered  {details.get('name')}"
    if kind.endswith("StateExited"):
        return f"exited   {details.get('name')}"
    if kind in _FAILED_TYPES:
        return f"  error  {details.get('error')}: {details.get('cause') or ''}".rstrip(": ")
    if kind in _SCHEDULED_TYPES:
        return "  attempt"
    if kind.startswith("Execution"):
        extra = f" {details.get('error')}" if details.get("error") else ""
        return f"{kind}{extra}"
    return None
