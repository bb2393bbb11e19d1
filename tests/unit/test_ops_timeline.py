"""History → timeline, on synthetic histories shaped like GetExecutionHistory's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from linkflow.ops.timeline import build_timeline, event_line

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)


class History:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, after_ms: int = 100, **details) -> History:
        ts = (self.events[-1]["timestamp"] if self.events else T0) + timedelta(milliseconds=after_ms)
        event = {"id": len(self.events) + 1, "previousEventId": len(self.events), "type": kind, "timestamp": ts}
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = details
        elif kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = details
        elif details:
            key = kind[0].lower() + kind[1:] + "EventDetails"
            event[key] = details
        self.events.append(event)
        return self

    def task(self, name: str, *errors: str, caught: bool = False, fails: bool = False) -> History:
        self.add("TaskStateEntered", name=name, input='{"sub": "s"}')
        for error in errors:
            self.add("LambdaFunctionScheduled", resource="arn:fn")
            self.add("LambdaFunctionStarted")
            self.add("LambdaFunctionFailed", error=error, cause=f'{{"errorMessage": "{error} happened"}}')
        if fails:
            return self
        if not caught:
            self.add("LambdaFunctionScheduled", resource="arn:fn")
            self.add("LambdaFunctionStarted")
            self.add("LambdaFunctionSucceeded", output="{}")
        return self.add("TaskStateExited", name=name, output='{"sub": "s", "done": true}')


def test_retries_failure_redrive_and_success():
    h = History().add("ExecutionStarted", input="{}")
    h.task("CheckDuplicateEmail")
    h.add("ChoiceStateEntered", name="RouteByEmailClaim").add("ChoiceStateExited", name="RouteByEmailClaim")
    h.task("CreateStripeCustomer", "StripeUnavailable", "StripeUnavailable", "StripeUnavailable", fails=True)
    h.add("ExecutionFailed", error="StripeUnavailable", cause="Stripe down")
    failed = build_timeline(h.events)
    assert failed.status == "FAILED"
    assert failed.failed_state == "CreateStripeCustomer"
    stripe_run = failed.states[-1]
    assert (stripe_run.status, stripe_run.error, len(stripe_run.attempts)) == ("failed", "StripeUnavailable", 3)
    assert [r.error for r in stripe_run.retries] == ["StripeUnavailable", "StripeUnavailable"]

    h.add("ExecutionRedriven", redriveCount=1)
    h.task("CreateStripeCustomer", "StripeUnavailable")
    h.add("SucceedStateEntered", name="OnboardingComplete").add("SucceedStateExited", name="OnboardingComplete")
    h.add("ExecutionSucceeded", output="{}")
    tl = build_timeline(h.events)
    assert tl.status == "SUCCEEDED"
    assert tl.failed_state is None
    assert tl.redrive_count == 1
    assert [(s.name, s.status, s.run) for s in tl.states] == [
        ("CheckDuplicateEmail", "succeeded", 0), ("RouteByEmailClaim", "succeeded", 0),
        ("CreateStripeCustomer", "failed", 0), ("CreateStripeCustomer", "succeeded", 1),
        ("OnboardingComplete", "succeeded", 1),
    ]
    again = tl.states[3]
    assert len(again.attempts) == 2 and [r.error for r in again.retries] == ["StripeUnavailable"]
    assert again.duration_ms is not None and again.duration_ms > 0
    doc = tl.to_json(with_io=True)
    assert doc["history_events"] == len(h.events)
    assert [e["type"] for e in doc["execution_events"]] == ["ExecutionStarted", "ExecutionFailed",
                                                            "ExecutionRedriven", "ExecutionSucceeded"]
    state = doc["states"][3]
    assert state["attempts"] == 2 and state["retries"][0]["error"] == "StripeUnavailable"
    assert state["input"] == {"sub": "s"} and state["output"] == {"sub": "s", "done": True}
    assert state["entered"].endswith("Z")
    assert "input" not in tl.to_json()["states"][0]


def test_caught_error_then_compensation_then_fail_state():
    h = History().add("ExecutionStarted", input="{}")
    h.task("StoreStripeCustomerId", "CognitoUserNotFound", caught=True)
    h.task("CompensateRollbackOnboarding")
    h.add("FailStateEntered", name="UserDeletedDuringOnboarding")
    h.add("ExecutionFailed", error="UserDeleted", cause="the user was deleted while onboarding")
    tl = build_timeline(h.events)
    caught, compensation, fail = tl.states
    assert (caught.status, caught.error) == ("caught", "CognitoUserNotFound")
    assert caught.retries == []  # the only attempt was caught, not retried
    assert compensation.is_compensation and compensation.status == "succeeded"
    assert tl.compensations == ["CompensateRollbackOnboarding"]
    assert (fail.status, fail.type, fail.error) == ("failed", "Fail", "UserDeleted")
    assert tl.failed_state == "UserDeletedDuringOnboarding"


def test_a_running_execution_has_a_current_state_and_no_failed_one():
    h = History().add("ExecutionStarted", input="{}")
    h.task("WriteProfile")
    h.add("TaskStateEntered", name="CreateStripeCustomer").add("LambdaFunctionScheduled", resource="arn:fn")
    tl = build_timeline(h.events)
    assert tl.status == "RUNNING"
    assert tl.current_state == "CreateStripeCustomer"
    assert tl.failed_state is None
    assert tl.states[-1].duration_ms is None


def test_aborted_and_timed_out_executions():
    h = History().add("ExecutionStarted", input="{}")
    h.add("TaskStateEntered", name="WriteProfile").add("LambdaFunctionScheduled", resource="arn:fn")
    h.add("ExecutionTimedOut", error="States.Timeout")
    tl = build_timeline(h.events)
    assert tl.status == "TIMED_OUT"
    assert tl.failed_state == "WriteProfile"
    assert tl.states[0].error == "States.Timeout"


def test_event_lines_for_follow():
    h = History().add("ExecutionStarted", input="{}").task("WriteProfile", "DynamoDBThrottled")
    lines = [event_line(e) for e in h.events]
    assert lines[0] == "ExecutionStarted"
    assert "entered  WriteProfile" in lines
    assert any(line and line.startswith("  error  DynamoDBThrottled") for line in lines)
    assert event_line({"type": "LambdaFunctionStarted", "timestamp": T0, "id": 9}) is None
