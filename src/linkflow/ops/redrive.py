"""RedriveExecution for one execution or every failed one: same ARN, resumes at the failed state.

A bulk redrive takes the oldest executions first (the nearest to the end of their 14-day window),
leaves out those whose window has closed, stops at a maximum and paces itself with a token bucket.
Executions DescribeExecution calls ``NOT_REDRIVABLE`` are skipped with AWS's reason; throttling
is retried with capped exponential backoff and full jitter; every other refusal is a failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .executions import ExecutionSummary

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# Step Functions meters RedriveExecution with a token bucket of 800 refilled at 150 a second (1,300
# and 300 in us-east-1, us-west-2 and eu-west-1), but each redrive here also spends a
# DescribeExecution (250 refilled at 10 a second; 300 and 15) and each redriven onboarding calls
# Stripe (25 requests a second in test mode): 5 a second stays under all of them with room to spare
# for the application and other operators.
DEFAULT_RATE = 5.0
DEFAULT_MAX = 100

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
        return min(self.cap_s, self.base_s * 2.0**attempt) * self.jitter()


@dataclass
class TokenBucket:
    """Client-side pacing, metered the way AWS meters its API: ``burst`` calls at once, then
    ``rate`` a second; :meth:`take` sleeps until a token is there."""

    rate: float
    burst: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    waited_s: float = 0.0
    _tokens: float | None = field(default=None, repr=False)
    _last: float = field(default=0.0, repr=False)

    def take(self) -> None:
        now = self.clock()
        tokens = self.burst if self._tokens is None else min(self.burst, self._tokens + (now - self._last) * self.rate)
        if tokens < 1:
            wait = (1 - tokens) / self.rate
            self.sleep(wait)
            self.waited_s += wait
            now, tokens = now + wait, 1.0
        self._tokens, self._last = tokens - 1, now


def pacing(rate: float) -> TokenBucket:
    """The bucket for ``--rate``: one second's worth of burst (at least one call)."""
    return TokenBucket(rate=rate, burst=max(1.0, rate))


@dataclass
class Selection:
    """What a bulk redrive will try, oldest first, and what it leaves out."""

    chosen: list[ExecutionSummary]
    left_out: int = 0  # beyond --max
    window_closed: int = 0  # stopped more than 14 days ago: RedriveExecution would refuse them


def select(executions: list[ExecutionSummary], max_count: int, now: datetime | None = None) -> Selection:
    now = now or datetime.now(UTC)
    open_ = sorted((e for e in executions if e.redrive_deadline is None or e.redrive_deadline > now),
                   key=lambda e: e.start)
    return Selection(chosen=open_[:max_count], left_out=max(0, len(open_) - max_count),
                     window_closed=len(executions) - len(open_))


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
    left_out: int = 0
    window_closed: int = 0
    max_count: int | None = None
    paced_s: float = 0.0

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
            "max": self.max_count,
            "left_out": self.left_out,
            "window_closed": self.window_closed,
            "paced_s": round(self.paced_s, 3),
            "executions": [o.to_json() for o in self.outcomes],
        }


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def check(sfn: SFNClient, execution: ExecutionSummary) -> Outcome | None:
    """A ``skipped`` outcome if DescribeExecution says the execution cannot be redriven, else None."""
    desc = sfn.describe_execution(executionArn=execution.arn)
    if desc.get("redriveStatus") == "NOT_REDRIVABLE":
        reason = desc.get("redriveStatusReason") or f"execution is {desc.get('status')}"
        return Outcome(execution.arn, execution.name, execution.machine, SKIPPED, reason,
                       int(desc.get("redriveCount") or 0))
    return None


def redrive(sfn: SFNClient, execution: ExecutionSummary, backoff: Backoff, report: RedriveReport) -> Outcome:
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
    sfn: SFNClient, redrive_client: SFNClient, executions: list[ExecutionSummary], *, dry_run: bool = False,
    backoff: Backoff | None = None, pace: TokenBucket | None = None,
    on_done: Callable[[Outcome], None] = lambda _o: None,
) -> RedriveReport:
    """Redrive each execution (oldest first), one ``pace`` token each (its DescribeExecution and
    RedriveExecution); ``redrive_client`` should not retry throttling itself."""
    backoff = backoff or Backoff()
    report = RedriveReport(dry_run=dry_run)
    for execution in sorted(executions, key=lambda e: e.start):
        if pace is not None:
            pace.take()
        outcome = check(sfn, execution)
        if outcome is None:
            outcome = (Outcome(execution.arn, execution.name, execution.machine, WOULD_REDRIVE) if dry_run
                       else redrive(redrive_client, execution, backoff, report))
        report.outcomes.append(outcome)
        on_done(outcome)
    report.paced_s = pace.waited_s if pace is not None else 0.0
    return report
