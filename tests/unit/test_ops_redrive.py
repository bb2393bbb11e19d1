"""Bulk redrive against a fake Step Functions client: backoff, skips with reasons, the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from linkflow.ops.executions import ExecutionSummary
from linkflow.ops.redrive import DEFAULT_MAX, DEFAULT_RATE, Backoff, TokenBucket, pacing, redrive_many, select

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "RedriveExecution")


class FakeSfn:
    def __init__(self, not_redrivable=(), throttle=0, refuse=None):
        self.not_redrivable = set(not_redrivable)
        self.throttle = throttle
        self.refuse = refuse or {}
        self.redriven: list[str] = []

    def describe_execution(self, executionArn):
        if executionArn in self.not_redrivable:
            return {"status": "SUCCEEDED", "redriveStatus": "NOT_REDRIVABLE",
                    "redriveStatusReason": "Execution is SUCCEEDED and cannot be redriven", "redriveCount": 1}
        return {"status": "FAILED", "redriveStatus": "REDRIVABLE", "redriveCount": 0}

    def redrive_execution(self, executionArn):
        if self.throttle:
            self.throttle -= 1
            raise _error("ThrottlingException", "Rate exceeded")
        if executionArn in self.refuse:
            raise _error(*self.refuse[executionArn])
        self.redriven.append(executionArn)
        return {"redriveDate": T0}


def _executions(*names: str) -> list[ExecutionSummary]:
    return [ExecutionSummary(arn=f"arn:{n}", name=n, machine="onboarding", status="FAILED",
                             start=T0 + timedelta(seconds=i)) for i, n in enumerate(names)]


def _no_wait(sleeps: list[float]) -> Backoff:
    return Backoff(base_s=0.5, cap_s=4, attempts=5, sleep=sleeps.append, jitter=lambda: 1.0)


def test_throttling_backs_off_exponentially_then_succeeds():
    sleeps: list[float] = []
    sfn = FakeSfn(throttle=3)
    report = redrive_many(sfn, sfn, _executions("a", "b"), backoff=_no_wait(sleeps))
    assert sleeps == [0.5, 1.0, 2.0]
    assert report.throttled_retries == 3
    assert sfn.redriven == ["arn:a", "arn:b"]
    assert report.to_json()["summary"] == {"redriven": 2, "skipped": 0, "failed": 0, "would_redrive": 0}
    assert report.ok


def test_throttled_past_the_last_attempt_is_a_failure_not_a_crash():
    sfn = FakeSfn(throttle=100)
    report = redrive_many(sfn, sfn, _executions("a"), backoff=_no_wait([]))
    assert [o.result for o in report.outcomes] == ["failed"]
    assert report.outcomes[0].reason.startswith("ThrottlingException")
    assert not report.ok


def test_not_redrivable_is_skipped_with_the_reason_and_others_go_on():
    sfn = FakeSfn(not_redrivable={"arn:b"}, refuse={"arn:c": ("ExecutionLimitExceeded", "too many")})
    report = redrive_many(sfn, sfn, _executions("a", "b", "c"), backoff=_no_wait([]))
    doc = report.to_json()
    assert [(e["name"], e["result"]) for e in doc["executions"]] == [("a", "redriven"), ("b", "skipped"),
                                                                      ("c", "failed")]
    assert doc["executions"][1]["reason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert doc["executions"][2]["reason"] == "ExecutionLimitExceeded: too many"
    assert doc["summary"] == {"redriven": 1, "skipped": 1, "failed": 1, "would_redrive": 0}


def test_dry_run_redrives_nothing_and_oldest_go_first():
    sfn = FakeSfn(not_redrivable={"arn:old"})
    executions = _executions("old", "new")[::-1]
    done: list[str] = []
    report = redrive_many(sfn, sfn, executions, dry_run=True, on_done=lambda o: done.append(o.name))
    assert sfn.redriven == []
    assert done == ["old", "new"]
    assert report.to_json()["summary"] == {"redriven": 0, "skipped": 1, "failed": 0, "would_redrive": 1}
    assert report.to_json()["dry_run"] is True


# --- pacing, the cap and the 14-day window -------------------------------------------------------


class FakeClock:
    """time.monotonic and time.sleep in one: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class TimedSfn(FakeSfn):
    def __init__(self, clock: FakeClock, **kw):
        super().__init__(**kw)
        self.clock = clock
        self.calls: list[tuple[str, float]] = []

    def describe_execution(self, executionArn):
        self.calls.append(("describe", self.clock()))
        return super().describe_execution(executionArn)

    def redrive_execution(self, executionArn):
        self.calls.append(("redrive", self.clock()))
        return super().redrive_execution(executionArn)


def _bucket(clock: FakeClock, rate: float, burst: float) -> TokenBucket:
    return TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep)


def test_a_bulk_redrive_bursts_then_keeps_to_the_rate():
    clock = FakeClock()
    sfn = TimedSfn(clock)
    report = redrive_many(sfn, sfn, _executions(*"abcdef"), pace=_bucket(clock, rate=2, burst=2))
    redrives = [t for kind, t in sfn.calls if kind == "redrive"]
    assert redrives == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert report.paced_s == 2.0 and report.to_json()["paced_s"] == 2.0
    assert report.count("redriven") == 6


def test_the_bucket_refills_while_the_caller_is_busy_and_never_holds_more_than_its_burst():
    clock = FakeClock()
    bucket = _bucket(clock, rate=1, burst=3)
    for _ in range(3):
        bucket.take()
    assert clock.now == 0.0  # the burst
    clock.now = 10.0  # idle for long: the bucket is full again, not 10 tokens
    for _ in range(4):
        bucket.take()
    assert clock.now == 11.0 and bucket.waited_s == 1.0


def test_a_dry_run_is_paced_too_it_still_describes_every_execution():
    clock = FakeClock()
    sfn = TimedSfn(clock)
    report = redrive_many(sfn, sfn, _executions("a", "b", "c"), dry_run=True, pace=_bucket(clock, rate=4, burst=1))
    assert [t for _, t in sfn.calls] == [0.0, 0.25, 0.5] and sfn.redriven == []
    assert report.count("would_redrive") == 3


def test_the_default_pace_is_five_a_second_with_one_second_of_burst():
    bucket = pacing(DEFAULT_RATE)
    assert (bucket.rate, bucket.burst) == (5.0, 5.0)
    assert pacing(0.5).burst == 1.0  # a slow rate still lets one call through


def _failed(name: str, stopped_days_ago: float, now: datetime) -> ExecutionSummary:
    stop = now - timedelta(days=stopped_days_ago)
    return ExecutionSummary(arn=f"arn:{name}", name=name, machine="onboarding", status="FAILED",
                            start=stop - timedelta(minutes=1), stop=stop)


def test_the_cap_takes_the_oldest_open_executions_and_counts_the_rest():
    now = T0 + timedelta(days=30)
    executions = [_failed(f"open{i}", i, now) for i in range(1, 6)] + [_failed("closed", 20, now),
                                                                       _failed("just-closed", 14.001, now)]
    selection = select(executions, max_count=3, now=now)
    assert [e.name for e in selection.chosen] == ["open5", "open4", "open3"]
    assert (selection.left_out, selection.window_closed) == (2, 2)
    everything = select(executions, max_count=DEFAULT_MAX, now=now)
    assert (len(everything.chosen), everything.left_out) == (5, 0)


def test_days_left_in_the_redrive_window():
    now = T0 + timedelta(days=30)
    assert _failed("a", 13.5, now).redrive_days_left(now) == 0.5
    assert _failed("b", 0.04, now).redrive_days_left(now) == 13.9  # rounded down: never promises too much
    assert _failed("c", 15, now).redrive_days_left(now) == 0.0
    running = ExecutionSummary(arn="arn:r", name="r", machine="onboarding", status="RUNNING", start=now)
    assert running.redrive_days_left(now) is None and running.redrive_deadline is None
    doc = _failed("a", 13.5, now).to_json(now)
    assert doc["redrive_days_left"] == 0.5 and doc["redrive_deadline"] == "2026-12-27T21:00:00.000Z"
