"""``json_answers`` writes what moto's shape serializer writes: every answer of real Cognito, Step
Functions, SQS and DynamoDB operations on an in-process moto is written both ways and compared byte
for byte (status, headers, body); results generated from the services' output shapes too. The fast
path is taken where it should be, errors stay moto's, and the patch comes off."""

from __future__ import annotations

import enum
import json
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.model import ServiceModel
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import JSONSerializer
from moto.core.utils import get_service_model

from linkflow.local import json_answers

REGION = "us-east-1"
PASSWORD = "Corr3ct-Horse-Battery!"


@dataclass
class Answer:
    operation: str
    ours: Any
    moto: Any
    fast: bool  # written without moto's serializer


@pytest.fixture
def answers() -> Iterator[list[Answer]]:
    """json_answers installed; each answer also written by moto's serializer and recorded."""
    from moto.core.responses import ActionResult as Result

    original = Result.execute_result
    json_answers.install()
    installed = Result.execute_result
    moto_serializer = json_answers._moto
    seen: list[Answer] = []

    def recording(self: Any, context: Any) -> Any:
        moto_calls = []

        def counted(result: Any, ctx: Any) -> Any:
            moto_calls.append(1)
            return moto_serializer(result, ctx)

        json_answers._moto = counted
        try:
            ours = installed(self, context)
        finally:
            json_answers._moto = moto_serializer
        status, headers, body = ours  # moto adds its own headers to the answer's afterwards
        seen.append(Answer(context.operation_model.name, (status, dict(headers), body),
                           moto_serializer(self, context), not moto_calls))
        return ours

    Result.execute_result = recording
    try:
        yield seen
    finally:
        Result.execute_result = installed
        json_answers.uninstall()
        assert Result.execute_result is original


def _check(seen: list[Answer]) -> dict[str, list[Answer]]:
    by_operation: dict[str, list[Answer]] = {}
    for answer in seen:
        assert answer.ours == answer.moto, answer.operation
        assert isinstance(answer.ours[2], str)
        by_operation.setdefault(answer.operation, []).append(answer)
    return by_operation


def _fast(by_operation: dict[str, list[Answer]], *operations: str) -> None:
    for operation in operations:
        assert by_operation[operation], operation
        assert all(a.fast for a in by_operation[operation]), operation


# --- Cognito ---------------------------------------------------------------------------------------


def _cognito_calls(idp: Any) -> None:
    pool = idp.create_user_pool(
        PoolName="p", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "plan", "AttributeDataType": "String", "Mutable": True},
                {"Name": "seats", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "1"}}],
        LambdaConfig={"PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:pre"},
        UserPoolTags={"team": "growth"})["UserPool"]
    pool_id = pool["Id"]
    idp.describe_user_pool(UserPoolId=pool_id)
    idp.list_user_pools(MaxResults=10)
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True},
                                 MfaConfiguration="OPTIONAL")
    idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    client = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    idp.create_user_pool_client(UserPoolId=pool_id, ClientName="server", GenerateSecret=True)
    idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client["ClientId"])
    idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)
    first = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=1)
    idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=1, NextToken=first["NextToken"])
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain="linkflow-test")
    idp.describe_user_pool_domain(Domain="linkflow-test")

    subs = []
    for i in range(4):
        user = idp.admin_create_user(
            UserPoolId=pool_id, Username=f"u{i}@example.com", MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": f"u{i}@example.com"},
                            {"Name": "email_verified", "Value": "true"}, {"Name": "custom:plan", "Value": "pro"},
                            {"Name": "name", "Value": f"Ünïcode “{i}”"}])["User"]
        subs.append(user["Username"])
    idp.admin_get_user(UserPoolId=pool_id, Username=subs[0])
    idp.admin_get_user(UserPoolId=pool_id, Username="u1@example.com")
    idp.admin_set_user_mfa_preference(UserPoolId=pool_id, Username=subs[1],
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    idp.admin_get_user(UserPoolId=pool_id, Username=subs[1])
    idp.admin_disable_user(UserPoolId=pool_id, Username=subs[2])
    idp.admin_get_user(UserPoolId=pool_id, Username=subs[2])
    idp.admin_enable_user(UserPoolId=pool_id, Username=subs[2])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=subs[3], Password=PASSWORD, Permanent=True)
    idp.admin_get_user(UserPoolId=pool_id, Username=subs[3])

    idp.list_users(UserPoolId=pool_id)
    idp.list_users(UserPoolId=pool_id, Filter='email = "u2@example.com"')
    idp.list_users(UserPoolId=pool_id, Filter='email ^= "u"', AttributesToGet=["email"])
    page = idp.list_users(UserPoolId=pool_id, Limit=2)
    idp.list_users(UserPoolId=pool_id, Limit=2, PaginationToken=page["PaginationToken"])

    signed_up = idp.sign_up(ClientId=client["ClientId"], Username="new@example.com", Password=PASSWORD,
                            UserAttributes=[{"Name": "email", "Value": "new@example.com"}])
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=signed_up["UserSub"])
    tokens = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "new@example.com", "PASSWORD": PASSWORD})
    idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "u3@example.com", "PASSWORD": PASSWORD})
    idp.get_user(AccessToken=tokens["AuthenticationResult"]["AccessToken"])
    idp.admin_update_user_attributes(UserPoolId=pool_id, Username=subs[0],
                                     UserAttributes=[{"Name": "custom:plan", "Value": "team"}])

    idp.create_group(GroupName="admins", UserPoolId=pool_id, Description="Admins", Precedence=1)
    idp.create_group(GroupName="staff", UserPoolId=pool_id)
    idp.get_group(GroupName="admins", UserPoolId=pool_id)
    idp.list_groups(UserPoolId=pool_id)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=subs[0], GroupName="admins")
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=subs[0], GroupName="staff")
    idp.admin_list_groups_for_user(UserPoolId=pool_id, Username=subs[0])
    idp.list_users_in_group(UserPoolId=pool_id, GroupName="admins")
    idp.admin_delete_user(UserPoolId=pool_id, Username=subs[3])


def test_cognito_answers_are_moto_s_byte_for_byte(answers: list[Answer]) -> None:
    with mock_aws():
        _cognito_calls(boto3.client("cognito-idp", region_name=REGION))
    by_operation = _check(answers)
    _fast(by_operation, "AdminGetUser", "ListUsers", "SignUp", "AdminConfirmSignUp", "CreateUserPool",
          "DescribeUserPool", "AdminCreateUser", "InitiateAuth", "ListUserPoolClients", "CreateGroup",
          "AdminListGroupsForUser", "AdminDeleteUser")
    assert len(by_operation["AdminGetUser"]) == 5
    mfa = json.loads(by_operation["AdminGetUser"][2].ours[2])
    assert mfa["MFAOptions"] == [] and mfa["UserMFASettingList"] == ["SMS_MFA"]
    assert json.loads(by_operation["AdminGetUser"][3].ours[2])["Enabled"] is False


def _errors(idp: Any, sfn: Any, sqs: Any) -> list[tuple[str, Any]]:
    pool_id = idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
    calls = [lambda: idp.admin_get_user(UserPoolId=pool_id, Username="nobody"),
             lambda: idp.describe_user_pool(UserPoolId="us-east-1_nothere"),
             lambda: sfn.describe_execution(executionArn="arn:aws:states:us-east-1:123456789012:execution:none:x"),
             lambda: sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:n"),
             lambda: sqs.get_queue_url(QueueName="none"),
             lambda: sqs.get_queue_attributes(QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/none")]
    seen = []
    for call in calls:
        with pytest.raises(ClientError) as raised:
            call()
        response = raised.value.response
        seen.append((response["Error"], response["ResponseMetadata"]["HTTPStatusCode"]))
    return seen


def _clients() -> tuple[Any, Any, Any]:
    return tuple(boto3.client(name, region_name=REGION) for name in ("cognito-idp", "stepfunctions", "sqs"))


def test_errors_stay_moto_s(answers: list[Answer]) -> None:
    with mock_aws():
        patched = _errors(*_clients())
    recording = ActionResult.execute_result
    ActionResult.execute_result = json_answers._moto  # moto's own, for the errors as moto answers them
    try:
        with mock_aws():
            unpatched = _errors(*_clients())
    finally:
        ActionResult.execute_result = recording
    assert patched == unpatched
    assert [status for _, status in patched] == [400] * 6
    by_operation = _check(answers)  # Cognito's and Step Functions' errors are not written by a serializer
    for operation in ("GetQueueUrl", "GetQueueAttributes"):
        (error,) = by_operation[operation]
        assert not error.fast and error.ours[0] == 400 and "QueueDoesNotExist" in error.ours[2]


def test_an_error_result_is_written_by_moto_s_serializer() -> None:
    from moto.sqs.exceptions import QueueDoesNotExist

    operation_model = get_service_model("cognito-idp").operation_model("AdminGetUser")
    context = ActionContext(operation_model.service_model, operation_model, JSONSerializer, types.SimpleNamespace())
    expected = ActionResult(QueueDoesNotExist()).execute_result(context)
    json_answers.install()
    moto_serializer = json_answers._moto
    calls = []
    json_answers._moto = lambda result, ctx: calls.append(1) or moto_serializer(result, ctx)
    try:
        assert ActionResult(QueueDoesNotExist()).execute_result(context) == expected
    finally:
        json_answers._moto = moto_serializer
        json_answers.uninstall()
    assert calls == [1]


# --- Step Functions --------------------------------------------------------------------------------

PASS = {"StartAt": "Shape", "States": {
    "Shape": {"Type": "Pass", "Parameters": {"id.$": "$.id", "name.$": "$$.Execution.Name"}, "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Linkflow.Broken", "Cause": "on purpose"}}}
WAIT = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/sfn"


@pytest.fixture
def executing() -> Iterator[None]:
    from moto.core.config import default_user_config

    before = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        yield
    finally:
        if before is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = before


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def _sfn_calls(sfn: Any) -> None:
    machine = sfn.create_state_machine(name="shape", definition=json.dumps(PASS), roleArn=ROLE,
                                       tags=[{"key": "team", "value": "growth"}])["stateMachineArn"]
    failing = sfn.create_state_machine(name="fail", definition=json.dumps(FAIL), roleArn=ROLE)["stateMachineArn"]
    waiting = sfn.create_state_machine(name="wait", definition=json.dumps(WAIT), roleArn=ROLE)["stateMachineArn"]
    sfn.describe_state_machine(stateMachineArn=machine)
    sfn.list_state_machines()
    page = sfn.list_state_machines(maxResults=1)
    sfn.list_state_machines(maxResults=1, nextToken=page["nextToken"])
    sfn.list_tags_for_resource(resourceArn=machine)

    done = [sfn.start_execution(stateMachineArn=machine, name=f"run-{i}", input=json.dumps({"id": i}))["executionArn"]
            for i in range(3)]
    broken = sfn.start_execution(stateMachineArn=failing)["executionArn"]
    held = sfn.start_execution(stateMachineArn=waiting, input="{}")["executionArn"]
    for arn in [*done, broken]:
        assert _finished(sfn, arn)["status"] in ("SUCCEEDED", "FAILED")
    sfn.describe_execution(executionArn=held)  # running
    sfn.describe_state_machine_for_execution(executionArn=done[0])
    sfn.get_execution_history(executionArn=done[0])
    sfn.get_execution_history(executionArn=broken, reverseOrder=True)
    sfn.get_execution_history(executionArn=done[1], maxResults=2, includeExecutionData=False)
    sfn.list_executions(stateMachineArn=machine)
    sfn.list_executions(stateMachineArn=machine, statusFilter="SUCCEEDED")
    sfn.list_executions(stateMachineArn=waiting, statusFilter="RUNNING")
    page = sfn.list_executions(stateMachineArn=machine, maxResults=2)
    sfn.list_executions(stateMachineArn=machine, maxResults=2, nextToken=page["nextToken"])
    sfn.stop_execution(executionArn=held, error="Linkflow.Stopped", cause="test over")
    _finished(sfn, held)
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(PASS))


def test_step_functions_answers_are_moto_s_byte_for_byte(answers: list[Answer], executing: None) -> None:
    with mock_aws():
        _sfn_calls(boto3.client("stepfunctions", region_name=REGION))
    by_operation = _check(answers)
    _fast(by_operation, "CreateStateMachine", "DescribeStateMachine", "StartExecution", "DescribeExecution",
          "ListExecutions", "GetExecutionHistory", "ListStateMachines", "StopExecution")
    statuses = {json.loads(a.ours[2])["status"] for a in by_operation["DescribeExecution"]}
    assert statuses == {"RUNNING", "SUCCEEDED", "FAILED", "ABORTED"}


# --- other JSON-protocol services ------------------------------------------------------------------


def test_sqs_and_dynamodb_answers_are_moto_s_byte_for_byte(answers: list[Answer]) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "x"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
        sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])
        sqs.list_queues()
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.describe_table(TableName="t")
        ddb.list_tables()
    by_operation = _check(answers)
    _fast(by_operation, "GetQueueAttributes", "ReceiveMessage", "DescribeTable")


# --- the patch -------------------------------------------------------------------------------------


def test_the_fast_path_is_taken_and_moto_s_serializer_is_not(answers: list[Answer], executing: None) -> None:
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        pool_id = idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
        idp.admin_create_user(UserPoolId=pool_id, Username="a", MessageAction="SUPPRESS")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input='{"id": 1}')["executionArn"]
        _finished(sfn, arn)
        answers.clear()
        for _ in range(3):
            idp.admin_get_user(UserPoolId=pool_id, Username="a")
            sfn.describe_execution(executionArn=arn)
    by_operation = _check(answers)
    assert [len(by_operation[op]) for op in ("AdminGetUser", "DescribeExecution")] == [3, 3]
    _fast(by_operation, "AdminGetUser", "DescribeExecution")


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    original = ActionResult.execute_result
    json_answers.install()
    try:
        patched = ActionResult.execute_result
        json_answers.install()
        assert ActionResult.execute_result is patched is not original
    finally:
        json_answers.uninstall()
    assert ActionResult.execute_result is original
    json_answers.uninstall()
    assert ActionResult.execute_result is original


# --- generated results -----------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


def _values(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "string":
        return st.one_of(st.text(max_size=8), st.sampled_from([Colour.RED, 7, "", "ascii"]))
    if kind in ("integer", "long"):
        return st.one_of(st.integers(-2**40, 2**40), st.sampled_from([True, "12", 3.9]))
    if kind in ("float", "double"):
        return st.one_of(st.floats(allow_nan=False), st.integers(-10, 10))
    if kind == "boolean":
        return st.one_of(st.booleans(), st.sampled_from(["true", 0, 1]))
    if kind == "blob":
        return st.one_of(st.binary(max_size=8), st.text(max_size=4))
    if kind == "timestamp":
        naive = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))
        return st.one_of(naive, naive.map(lambda d: d.replace(tzinfo=UTC)),
                         naive.map(lambda d: d.replace(tzinfo=timezone(timedelta(hours=-5)))),
                         st.floats(0, 4e9), st.integers(0, 4_000_000_000),
                         naive.map(lambda d: d.isoformat()))
    if depth > 3:
        return st.none()
    if kind == "list":
        return st.lists(st.one_of(st.none(), _values(shape.member, depth + 1)), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(st.none(), _values(shape.value, depth + 1)),
                               max_size=3)
    if kind == "structure":
        members = {k: st.one_of(st.none(), _values(m, depth + 1)) for k, m in list(shape.members.items())[:12]}
        as_dict = st.fixed_dictionaries({}, optional=members)
        snake = as_dict.map(lambda d: {_snake(k): v for k, v in d.items()})
        namespace = snake.map(lambda d: types.SimpleNamespace(**d))
        return st.one_of(as_dict, snake, namespace,
                         st.tuples(st.sampled_from(MODELS), as_dict).map(lambda c: _model(*c)))
    return st.none()


class User(types.SimpleNamespace):
    pass


class Execution(types.SimpleNamespace):
    pass


class Renamed(types.SimpleNamespace):
    class Meta:
        serialization_aliases = {"Plain": "stored_plain", "Count": "how_many"}


MODELS = [User, Execution, Renamed]


def _model(cls: type, members: dict[str, Any]) -> Any:
    """An object holding its members as a moto model might: under the name less the class's name
    (``User.Status`` for ``UserStatus``) or under its ``Meta.serialization_aliases`` name."""
    aliases = getattr(getattr(cls, "Meta", None), "serialization_aliases", {})
    stored = {}
    for key, value in members.items():
        if key in aliases:
            key = aliases[key]
        elif key.lower().startswith(cls.__name__.lower()) and len(key) > len(cls.__name__):
            key = key[len(cls.__name__):]
        stored[key] = value
    return cls(**stored)


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


OPERATIONS = [("cognito-idp", op) for op in ("AdminGetUser", "ListUsers", "DescribeUserPool", "SignUp",
                                             "InitiateAuth", "DescribeUserPoolClient", "ListGroups")] + \
             [("stepfunctions", op) for op in ("DescribeExecution", "StartExecution", "ListExecutions",
                                               "GetExecutionHistory", "DescribeStateMachine", "ListStateMachines")] + \
             [("synthetic", "Op"), ("synthetic", "Op"), ("synthetic", "Doc")]


SYNTHETIC = ServiceModel({
    "metadata": {"protocol": "json", "jsonVersion": "1.1", "serviceId": "Synthetic", "targetPrefix": "Synthetic"},
    "operations": {"Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/", "responseCode": 201},
                          "output": {"shape": "OpOutput"}},
                   "Doc": {"name": "Doc", "http": {"method": "POST", "requestUri": "/"},
                           "output": {"shape": "DocOutput"}}},
    "shapes": {
        "OpOutput": {"type": "structure", "members": {
            "Plain": {"shape": "Str"}, "Renamed": {"shape": "Str", "locationName": "renamedOnTheWire"},
            "When": {"shape": "Iso"}, "Epoch": {"shape": "Time"}, "Data": {"shape": "Bin"},
            "Count": {"shape": "Int"}, "Ratio": {"shape": "Dbl"}, "Flag": {"shape": "Bool"},
            "OpOutputName": {"shape": "Str"}, "Items": {"shape": "Items", "locationName": "itemsOnTheWire"},
            "Tags": {"shape": "Tags"}, "Next": {"shape": "OpOutput"}}},
        "Item": {"type": "structure", "members": {"ItemId": {"shape": "Str"}, "Id": {"shape": "Int"},
                                                 "At": {"shape": "Time"}}},
        "Items": {"type": "list", "member": {"shape": "Item"}},
        "Tags": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Item"}},
        "DocOutput": {"type": "structure", "members": {"Body": {"shape": "Document"}}},
        "Document": {"type": "structure", "members": {}, "document": True},
        "Str": {"type": "string"}, "Int": {"type": "integer"}, "Dbl": {"type": "double"},
        "Bool": {"type": "boolean"}, "Bin": {"type": "blob"}, "Time": {"type": "timestamp"},
        "Iso": {"type": "timestamp", "timestampFormat": "iso8601"}}}, "synthetic")


def _operation_model(service: str, operation: str) -> Any:
    model = SYNTHETIC if service == "synthetic" else get_service_model(service)
    return model.operation_model(operation)


@st.composite
def _results(draw: st.DrawFn) -> tuple[Any, Any]:
    service, operation = draw(st.sampled_from(OPERATIONS))
    operation_model = _operation_model(service, operation)
    context = ActionContext(operation_model.service_model, operation_model, JSONSerializer, types.SimpleNamespace())
    return context, draw(_values(operation_model.output_shape))


def _outcome(call: Any) -> Any:
    try:
        return call()
    except Exception as error:  # moto's serializer refuses the value: so must the patched one
        return type(error), str(error)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_results())
def test_generated_results_are_written_as_moto_writes_them(case: tuple[Any, Any]) -> None:
    context, result = case
    json_answers.install()
    try:
        ours = _outcome(lambda: ActionResult(result).execute_result(context))
        moto = _outcome(lambda: json_answers._moto(ActionResult(result), context))
    finally:
        json_answers.uninstall()
    assert ours == moto
