"""Turn a Step Functions execution history into a per-state timeline an operator can read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_FAILED_TYPES = {"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut",
                 "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed", "TaskStartFailed", "TaskSubmitFailed"}
_SCHEDULED_TYPES = {"LambdaFunctionScheduled", "TaskScheduled"}


@dataclass
class Attempt:
    started: datetime
    error: str | None = None
    cause: str | None = None


@dataclass
class StateRun:
    name: str
    entered: datetime
    input: Any = None
    exited: datetime | None = None
    output: Any = None
    attempts: list[Attempt] = field(default_factory=list)
    status: str = "running"  # running | succeeded | failed | caught
    error: str | None = None
    cause: str | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.exited is None:
            return None
        return (self.exited - self.entered).total_seconds() * 1000

    @property
    def is_compensation(self) -> bool:
        return self.name.startswith(("Compensate", "Rollback", "Undo"))

    def to_json(self, with_io: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.name, "status": self.status, "entered": self.entered.isoformat(),
            "duration_ms": None if self.duration_ms is None else round(self.duration_ms, 1),
            "attempts": len(self.attempts) or (1 if self.status != "running" else 0),
            "retries": [{"error": a.error, "cause": a.cause} for a in self.attempts if a.error],
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

    @property
    def failed_state(self) -> str | None:
        failed = [s for s in self.states if s.status in ("failed", "running")]
        return failed[-1].name if failed else None

    @property
    def compensations(self) -> list[str]:
        return [s.name for s in self.states if s.is_compensation]


def _parse(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def build_timeline(events: list[dict[str, Any]]) -> Timeline:
    states: list[StateRun] = []
    open_runs: dict[str, StateRun] = {}
    execution_events: list[dict[str, Any]] = []
    current: StateRun | None = None
    for event in events:
        kind: str = event["type"]
        ts: datetime = event["timestamp"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            current = StateRun(name=details["name"], entered=ts, input=_parse(details.get("input")))
            open_runs[current.name] = current
            states.append(current)
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            run = open_runs.pop(details["name"], None)
            if run is not None:
                run.exited, run.output = ts, _parse(details.get("output"))
                if run.status == "running":
                    run.status = "caught" if run.attempts and run.attempts[-1].error else "succeeded"
        elif kind in _SCHEDULED_TYPES and current is not None:
            current.attempts.append(Attempt(started=ts))
        elif kind in _FAILED_TYPES and current is not None:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            if not current.attempts:
                current.attempts.append(Attempt(started=ts))
            current.attempts[-1].error = details.get("error")
            current.attempts[-1].cause = details.get("cause")
        elif kind.startswith("Execution"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            execution_events.append({"type": kind, "timestamp": ts, **{k: v for k, v in details.items()
                                                                         if k in ("error", "cause", "redriveCount")}})
            if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
                for run in open_runs.values():
                    run.status, run.exited = "failed", ts
                    last = run.attempts[-1] if run.attempts else None
                    run.error = details.get("error") or (last.error if last else None)
                    run.cause = details.get("cause") or (last.cause if last else None)
                open_runs.clear()
    return Timeline(states=states, events=execution_events)
