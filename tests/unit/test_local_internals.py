"""Pure pieces of the local stack: intrinsic resolution, wait scaling, history parsing, env overlay."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from linkflow.local import environ, wait_scale
from linkflow.local.redrive import failed_state
from linkflow.local.template import Resolver, Template, TemplateError, load_template


def _resolver(params=None):
    t = Template(path=Path("t.yaml"), body={"Resources": {"Fn": {"Type": "AWS::Serverless::Function"}}},
                 parameters=params or {"Stage": "local"})
    return Resolver(t, pseudo={"AWS::Region": "us-east-1"}, ref=lambda n: f"name-of-{n}",
                    get_att=lambda n, a: f"{a}-of-{n}")


def test_resolver_handles_ref_sub_getatt_join():
    r = _resolver()
    assert r.resolve({"Ref": "Stage"}) == "local"
    assert r.resolve({"Fn::Sub": "x-${Stage}-${AWS::Region}-${Fn.Arn}"}) == "x-local-us-east-1-Arn-of-Fn"
    assert r.resolve({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Fn"}}]}) == "name-of-Fn/local"
    assert r.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "Arn-of-Fn"
    assert r.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-local"


def test_resolver_rejects_unsupported_intrinsics_naming_where():
    with pytest.raises(TemplateError, match="Resources.X.*Fn::If"):
        _resolver().resolve({"Fn::If": ["c", 1, 2]}, "Resources.X")


def test_load_template_requires_defaults_or_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("Parameters:\n  A: {Type: String}\nResources: {}\n")
    with pytest.raises(TemplateError, match="A has no Default"):
        load_template(path)
    assert load_template(path, {"A": "x"}).parameters == {"A": "x"}
    with pytest.raises(TemplateError, match="undeclared"):
        load_template(path, {"A": "x", "B": "y"})


def test_wait_scale_shortens_retrier_sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(wait_scale.time, "sleep", slept.append)
    previous = wait_scale.current()
    wait_scale.install(0.01)
    try:
        wait_scale._ScaledTime.sleep(4)
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        retrier_decl.time.sleep(2)
    finally:
        wait_scale._scale = previous
    assert slept == [pytest.approx(0.04), pytest.approx(0.02)]


def test_wait_scale_rejects_non_positive():
    with pytest.raises(ValueError):
        wait_scale.install(0)


def test_failed_state_is_the_last_state_entered_and_not_exited():
    events = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A", "input": '{"a": 1}'}},
        {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "A", "output": "{}"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "B", "input": '{"b": 2}'}},
        {"type": "ExecutionFailed"},
    ]
    assert failed_state(events) == ("B", {"b": 2})
    assert failed_state(events[:3]) == (None, None)


def test_env_overlay_is_per_thread():
    environ.install()
    os.environ["LINKFLOW_PROBE"] = "process"
    seen = {}
    with environ.overlay({"LINKFLOW_PROBE": "fn"}):
        seen["here"] = os.environ["LINKFLOW_PROBE"]
        t = threading.Thread(target=lambda: seen.setdefault("other", os.environ["LINKFLOW_PROBE"]))
        t.start()
        t.join()
    seen["after"] = os.environ["LINKFLOW_PROBE"]
    del os.environ["LINKFLOW_PROBE"]
    assert seen == {"here": "fn", "other": "process", "after": "process"}


def test_admin_calls_answer_unknown_routes_and_bad_bodies_without_raising():
    from linkflow.local.admin import AdminCalls
    from linkflow.local.faults import FaultRegistry
    from linkflow.local.lambda_runtime import LambdaRuntime

    calls = AdminCalls(FaultRegistry(), LambdaRuntime(), "us-east-1", lambda: None)
    assert calls.answer("GET", "health", b"") == (200, {"status": "ok"})
    assert calls.answer("GET", "nosuch", b"")[0] == 404
    assert calls.answer("POST", "faults", b"not json")[0] == 400
    status, body = calls.answer("POST", "faults", b'{"service": "dynamodb", "operation": "PutItem", "count": 1}')
    assert status == 200 and calls.answer("GET", "faults", b"")[1]["data"][0]["id"] == body["id"]
    assert calls.answer("DELETE", "faults/", b"") == (200, {"cleared": True})
    assert calls.answer("POST", "federated-signin", b'{"provider": "Google", "email": "a@example.com"}')[0] == 400


def test_admin_call_failed_says_what_the_answer_says():
    from linkflow.local.client import AdminCallFailed, execution_arn

    assert AdminCallFailed("u", 400, {"error": "unknown service"}).message == "unknown service"
    assert AdminCallFailed("u", 400, {"error": "X", "message": "why"}).message == "why"
    assert AdminCallFailed("u", 400, {"error": {"type": "invalid_request_error", "message": "bad"}}).message == "bad"
    assert AdminCallFailed("u", 502, None).message == "HTTP 502"
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:onboarding"
    assert execution_arn(machine, "sub") == "arn:aws:states:us-east-1:123456789012:execution:onboarding:sub"


# --- the SQS event source mapping -----------------------------------------------------------------

def _received(message_id: str, receive_count: str = "1") -> dict:
    """A message as boto3's ReceiveMessage answers it (AttributeNames/MessageAttributeNames All)."""
    return {"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": '{"x": 1}', "MD5OfBody": "md5",
            "Attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1"},
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "start"},
                                  "blob": {"DataType": "Binary", "BinaryValue": b"\x01"}}}


def test_the_sqs_event_has_lambdas_record_shape():
    from linkflow.local.sqs_poller import SqsEventSource, lambda_event

    source = SqsEventSource(function="fn", queue_url="http://q", queue_arn="arn:aws:sqs:us-east-1:1:q")
    (record,) = lambda_event([_received("m1", "3")], source, "us-east-1")["Records"]
    assert record == {
        "messageId": "m1", "receiptHandle": "rh-m1", "body": '{"x": 1}',
        "attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1"},
        "messageAttributes": {
            "kind": {"stringValue": "start", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": "AQ==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}},
        "md5OfBody": "md5", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }


@pytest.mark.parametrize(("result", "errored", "report", "failed"), [
    ({"errorType": "Boom"}, True, True, {"a", "b"}),  # a function error fails the batch
    (None, False, True, set()),
    ({"batchItemFailures": []}, False, True, set()),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, False, True, {"b"}),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, False, False, set()),  # not reported: ignored
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, False, True, {"a", "b"}),  # empty id: whole batch
    ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, False, True, {"a", "b"}),  # unknown id: whole batch
    ({"batchItemFailures": "b"}, False, True, {"a", "b"}),
    ("not a dict", False, True, {"a", "b"}),
])
def test_the_messages_that_stay_in_the_queue_after_an_invocation(result, errored, report, failed):
    from linkflow.local.sqs_poller import failed_message_ids

    assert failed_message_ids(["a", "b"], result, errored, report) == failed


class _FakeSqs:
    def __init__(self, batches):
        self.batches, self.deleted, self.received = list(batches), [], []

    def receive_message(self, **kwargs):
        self.received.append(kwargs)
        return {"Messages": self.batches.pop(0)} if self.batches else {}

    def delete_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's parameter names
        self.deleted.extend(e["ReceiptHandle"] for e in Entries)

    def get_queue_attributes(self, **_kwargs):
        return {"Attributes": {"VisibilityTimeout": "60"}}


def test_the_poller_deletes_what_succeeded_and_polls_short_while_failures_are_due_back():
    from linkflow.local.sqs_poller import SqsEventSource, SqsPoller

    sqs = _FakeSqs([[_received("a"), _received("b")]])
    calls = []

    def invoke(function, event):
        calls.append((function, [r["messageId"] for r in event["Records"]]))
        return {"batchItemFailures": [{"itemIdentifier": "b"}]}, False

    source = SqsEventSource(function="fn", queue_url="http://q", queue_arn="arn", batch_size=5,
                            report_batch_item_failures=True)
    poller = SqsPoller(source, sqs, invoke, "us-east-1", poll_interval=0.01)
    assert poller.poll_once() == 2
    assert calls == [("fn", ["a", "b"])]
    assert sqs.deleted == ["rh-a"]
    assert sqs.received[0]["MaxNumberOfMessages"] == 5 and sqs.received[0]["WaitTimeSeconds"] == 1
    assert poller.poll_once() == 0
    assert sqs.received[1]["WaitTimeSeconds"] == 0  # "b" is due back within the (scaled) visibility timeout
