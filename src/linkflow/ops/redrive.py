"""RedriveExecution for one execution or every failed one: same ARN, resumes at the failed state.

Executions DescribeExecution calls ``NOT_REDRIVABLE`` are skipped with AWS's reason; throttling
is retried with capped exponential backoff and full jitter; every other refusal is a failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .executions import ExecutionSummary

THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
REDRIVEN, SKIPPED, FAILED, WOULD_REDRIVE = "redriven", "skipped", "failed", "would_redrive"


@dataclass
class Backoff:
    base_s: float = 0.25
    cap_s: float = 8.0
    attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * 2**attempt) * self.jitter()


@dataclass
class Outcome:
    arn: str
    name: str
    machine: str
    result: str  # redriven | skipped | failed | would_redrive
    reason: str | None = None
    redrive_count: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"execution_arn": self.arn, "name": self.name, "machine": self.machine, "result": self.result,
                "reason": self.reason, "redrive_count": self.redrive_count}


@dataclass
class RedriveReport:
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    throttled_retries: int = 0

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "summary": {r: self.count(r) for r in (REDRIVEN, SKIPPED, FAILED, WOULD_REDRIVE)},
            "throttled_retries": self.throttled_retries,
            "executions": [o.to_json() for o in self.outcomes],
        }


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def check(sfn: Any, execution: ExecutionSummary) -> Outcome | None:
    """A ``skipped`` outcome if DescribeExecution says the execution cannot be redriven, else None."""
    desc = sfn.describe_execution(executionArn=execution.arn)
    if desc.get("redriveStatus") == "NOT_REDRIVABLE":
        reason = desc.get("redriveStatusReason") or f"execution is {desc.get('status')}"
        return Outcome(execution.arn, execution.name, execution.machine, SKIPPED, reason,
                       int(desc.get("redriveCount") or 0))
    return None


def redrive(sfn: Any, execution: ExecutionSummary, backoff: Backoff, report: RedriveReport) -> Outcome:
    """RedriveExecution, backing off while throttled; never raises for an AWS refusal."""
    for attempt in range(backoff.attempts):
        try:
            sfn.redrive_execution(executionArn=execution.arn)
        except ClientError as exc:
            code, message = _error(exc)
            if code in THROTTLING_CODES and attempt + 1 < backoff.attempts:
                report.throttled_retries += 1
                backoff.sleep(backoff.delay(attempt))
                continue
            result = SKIPPED if code == "ExecutionNotRedrivable" else FAILED
            return Outcome(execution.arn, execution.name, execution.machine, result, f"{code}: {message}")
        return Outcome(execution.arn, execution.name, execution.machine, REDRIVEN,
                       redrive_count=execution.redrive_count + 1)
    raise AssertionError("unreachable: the last attempt returns")


def redrive_many(
    sfn: Any, redrive_client: Any, executions: list[ExecutionSummary], *, dry_run: bool = False,
    backoff: Backoff | None = None, on_done: Callable[[Outcome], None] = lambda _o: None,
) -> RedriveReport:
    """Redrive each execution (oldest first); ``redrive_client`` should not retry throttling itself."""
    backoff = backoff or Backoff()
    report = RedriveReport(dry_run=dry_run)
    for execution in sorted(executions, key=lambda e: e.start):
        outcome = check(sfn, execution)
        if outcome is None:
            outcome = (Outcome(execution.arn, execution.name, execution.machine, WOULD_REDRIVE) if dry_run
                       else redrive(redrive_client, execution, backoff, report))
        report.outcomes.append(outcome)
        on_done(outcome)
    return report
