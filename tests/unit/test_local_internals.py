"""Pure pieces of the local stack: intrinsic resolution, wait scaling, history parsing, env overlay."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkflow.local import wait_scale
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


def test_admin_calls_answer_unknown_routes_and_bad_bodies_without_raising(tmp_path):
    from linkflow.local.admin import AdminCalls
    from linkflow.local.faults import FaultRegistry
    from linkflow.local.runtime import ProcessRuntime

    calls = AdminCalls(FaultRegistry(), ProcessRuntime(tmp_path), "us-east-1", lambda: None)
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


# --- Conditions, as CloudFormation evaluates them before it creates anything ------------------

_CONDITIONAL = """
Parameters:
  Stage: {Type: String, Default: dev}
  GoogleClientId: {Type: String, Default: ""}
  TableName: {Type: String, Default: ""}
Conditions:
  HasGoogle: !Not [!Equals [!Ref GoogleClientId, ""]]
  IsProd: !Equals [!Ref Stage, prod]
  ProdWithGoogle: !And [!Condition IsProd, !Condition HasGoogle]
  EitherOne: !Or [!Condition IsProd, !Condition HasGoogle]
  InUsEast1: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !If [IsProd, !Ref TableName, !Sub "linkflow-${Stage}-T"]
      Tags:
        - {Key: a, Value: b}
        - !If [HasGoogle, {Key: google, Value: "yes"}, !Ref AWS::NoValue]
      SSESpecification: !If [ProdWithGoogle, {SSEEnabled: true}, !Ref AWS::NoValue]
  Google:
    Type: AWS::Cognito::UserPoolIdentityProvider
    Condition: HasGoogle
    Properties: {ProviderName: Google}
Outputs:
  GoogleName:
    Condition: HasGoogle
    Value: !Ref Google
  Always:
    Value: !If [EitherOne, one, neither]
"""


def _conditional(tmp_path, **overrides):
    path = tmp_path / "t.yaml"
    path.write_text(_CONDITIONAL)
    return load_template(path, overrides or None)


def test_conditions_evaluate_equals_not_and_or_and_condition_references(tmp_path):
    assert _conditional(tmp_path).conditions == {
        "HasGoogle": False, "IsProd": False, "ProdWithGoogle": False, "EitherOne": False, "InUsEast1": True}
    both = _conditional(tmp_path, Stage="prod", GoogleClientId="g")
    assert both.conditions == {"HasGoogle": True, "IsProd": True, "ProdWithGoogle": True, "EitherOne": True,
                               "InUsEast1": True}
    assert _conditional(tmp_path, GoogleClientId="g").conditions["EitherOne"] is True


def test_false_conditions_drop_resources_outputs_and_novalue_properties(tmp_path):
    t = _conditional(tmp_path)
    assert set(t.resources) == {"Table"}
    props = t.resources["Table"]["Properties"]
    assert props["TableName"] == {"Fn::Sub": "linkflow-${Stage}-T"}
    assert props["Tags"] == [{"Key": "a", "Value": "b"}]  # the NoValue list item is gone
    assert "SSESpecification" not in props  # and so is the NoValue property
    assert t.body["Outputs"] == {"Always": {"Value": "neither"}}


def test_true_conditions_keep_resources_without_their_condition_key(tmp_path):
    t = _conditional(tmp_path, Stage="prod", GoogleClientId="g", TableName="Existing")
    assert t.resources["Google"] == {"Type": "AWS::Cognito::UserPoolIdentityProvider",
                                     "Properties": {"ProviderName": "Google"}}
    props = t.resources["Table"]["Properties"]
    assert props["TableName"] == {"Ref": "TableName"}
    assert props["Tags"][1] == {"Key": "google", "Value": "yes"} and props["SSESpecification"] == {"SSEEnabled": True}
    assert t.body["Outputs"]["GoogleName"] == {"Value": {"Ref": "Google"}}


@pytest.mark.parametrize("bad, wanted", [
    ("  Broken: !Equals [!Ref Nowhere, x]\n", "only reference parameters"),
    ("  Broken: !Condition Missing\n", "unknown condition Missing"),
    ("  Broken: !Not [!Condition Broken]\n", "refers to itself"),
    ("  Broken: {Fn::Contains: [[a], a]}\n", "not a condition function"),
])
def test_bad_conditions_fail_naming_the_condition(tmp_path, bad, wanted):
    path = tmp_path / "t.yaml"
    path.write_text(_CONDITIONAL.replace("Resources:\n", bad + "Resources:\n", 1))
    with pytest.raises(TemplateError, match=wanted) as err:
        load_template(path)
    assert "Broken" in str(err.value)


def test_fn_if_and_resource_conditions_must_name_a_declared_condition(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(_CONDITIONAL.replace("Condition: HasGoogle\n    Properties", "Condition: Nope\n    Properties"))
    with pytest.raises(TemplateError, match="Resources.Google: unknown condition Nope"):
        load_template(path)
    path.write_text(_CONDITIONAL.replace("!If [EitherOne,", "!If [Nope,"))
    with pytest.raises(TemplateError, match="Fn::If names unknown condition Nope"):
        load_template(path)


def test_the_local_stack_provisions_the_template_with_its_conditions_evaluated():
    """template.yaml's identity providers are absent without their parameters; every table gets
    its per-stage name, which is what the functions' environment reads."""
    t = load_template(Path(__file__).resolve().parents[2] / "template.yaml", {"Stage": "local"})
    assert not t.of_type("AWS::Cognito::UserPoolIdentityProvider", "AWS::Cognito::UserPoolDomain")
    assert t.resources["UserPoolClient"]["Properties"]["SupportedIdentityProviders"] == ["COGNITO"]
    r = Resolver(t, pseudo={}, ref=lambda n: f"ref:{n}", get_att=lambda n, a: f"{a}-of-{n}")
    assert r.resolve(t.resources["UserProfilesTable"]["Properties"]["TableName"]) == "linkflow-local-UserProfiles"
    assert "Fn::If" not in str(t.body) and "AWS::NoValue" not in str(t.body)


def test_list_map_runs_of_an_execution_still_starting_answers_none(monkeypatch):
    """The reconcile CLI polls ListMapRuns right after StartExecution: before the execution's worker
    thread has built its environment moto raised AttributeError (a 500); AWS answers no Map Run."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from linkflow.local import sfn_api

    # only this patch, undone after the test (sfn_api.install() would patch moto for the whole session)
    monkeypatch.setattr(StepFunctionsParserBackend, "list_map_runs", StepFunctionsParserBackend.list_map_runs)
    sfn_api._list_map_runs_of_a_starting_execution()
    record = SimpleNamespace(list_item=lambda: {"mapRunArn": "arn:run"})
    started = SimpleNamespace(exec_worker=SimpleNamespace(
        env=SimpleNamespace(map_run_record_pool_manager=SimpleNamespace(get_all=lambda: [record]))))
    for execution, wanted in ((SimpleNamespace(exec_worker=None), []),
                              (SimpleNamespace(exec_worker=SimpleNamespace(env=None)), []),
                              (started, [{"mapRunArn": "arn:run"}])):
        backend = SimpleNamespace(describe_execution=lambda execution_arn, e=execution: e)
        assert StepFunctionsParserBackend.list_map_runs(backend, "arn:x") == {"mapRuns": wanted}
