"""Bulk redrive against a fake Step Functions client: backoff, skips with reasons, the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from linkflow.ops.executions import ExecutionSummary
from linkflow.ops.redrive import Backoff, redrive_many

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
