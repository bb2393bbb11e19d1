"""The local stack's speed patches of moto keep moto's answers: a user found by username or email
from the index (not by reading every user of the pool), DynamoDB item reads written by
``json.dumps`` byte for byte as the shape serializer wrote them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from moto import mock_aws

from linkflow.local import cognito_index, dynamodb_json

REGION = "us-east-1"


class NoFullReads(dict):  # type: ignore[type-arg]
    """A pool's ``users`` that fails the test when a lookup reads every user."""

    def values(self) -> Any:
        raise AssertionError("the lookup read every user of the pool")

    def items(self) -> Any:
        raise AssertionError("the lookup read every user of the pool")

    def __iter__(self) -> Any:
        raise AssertionError("the lookup read every user of the pool")


@pytest.fixture
def pool() -> Any:
    cognito_index.install()
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool_id = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
        yield idp, pool_id


def _create(idp: Any, pool_id: str, email: str) -> str:
    user = idp.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                                 UserAttributes=[{"Name": "email", "Value": email}])["User"]
    return str(user["Username"])


def _backend_pool(pool_id: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends["123456789012"][REGION].user_pools[pool_id]


def test_a_user_is_found_by_username_and_by_email_without_reading_the_pool(pool):
    idp, pool_id = pool
    subs = [_create(idp, pool_id, f"u{i}@example.com") for i in range(5)]
    backend_pool = _backend_pool(pool_id)
    backend_pool.users = NoFullReads(backend_pool.users)

    assert idp.admin_get_user(UserPoolId=pool_id, Username=subs[3])["Username"] == subs[3]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="u2@example.com")["Username"] == subs[2]
    idp.admin_set_user_password(UserPoolId=pool_id, Username=subs[1], Password="Corr3ct-Horse-Battery!",
                                Permanent=True)
    assert idp.admin_get_user(UserPoolId=pool_id, Username=subs[1])["UserStatus"] == "CONFIRMED"
    with pytest.raises(idp.exceptions.UsernameExistsException):
        _create(idp, pool_id, "u4@example.com")
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool_id, Username="nobody@example.com")


def test_the_email_lookup_follows_changes_and_deletions(pool):
    idp, pool_id = pool
    sub = _create(idp, pool_id, "old@example.com")
    other = _create(idp, pool_id, "gone@example.com")
    idp.admin_update_user_attributes(UserPoolId=pool_id, Username=sub, UserAttributes=[
        {"Name": "email", "Value": "new@example.com"}, {"Name": "email_verified", "Value": "true"}])
    idp.admin_delete_user(UserPoolId=pool_id, Username=other)

    assert idp.admin_get_user(UserPoolId=pool_id, Username="new@example.com")["Username"] == sub
    for gone in ("old@example.com", "gone@example.com", other):
        with pytest.raises(idp.exceptions.UserNotFoundException):
            idp.admin_get_user(UserPoolId=pool_id, Username=gone)
    # the address is free again: a new user may take it, and is the one found
    newcomer = _create(idp, pool_id, "old@example.com")
    assert idp.admin_get_user(UserPoolId=pool_id, Username="old@example.com")["Username"] == newcomer


def _listings(idp: Any, pool_id: str) -> list[Any]:
    pages = []
    for kwargs in ({"Limit": 3}, {"Limit": 60}, {"Filter": 'email = "u1@example.com"'},
                   {"Filter": 'email ^= "u"', "Limit": 2}, {"AttributesToGet": ["email"]}, {"Limit": 4}):
        answer = idp.list_users(UserPoolId=pool_id, **kwargs)
        pages.append({k: v for k, v in answer.items() if k != "ResponseMetadata"})
        if "PaginationToken" in answer:
            answer = idp.list_users(UserPoolId=pool_id, PaginationToken=answer["PaginationToken"], **kwargs)
            pages.append({k: v for k, v in answer.items() if k != "ResponseMetadata"})
    return pages


def test_list_users_answers_what_the_serializer_answered(pool, monkeypatch):
    from moto.cognitoidp import responses

    idp, pool_id = pool
    subs = [_create(idp, pool_id, f"u{i}@example.com") for i in range(7)]
    idp.admin_set_user_password(UserPoolId=pool_id, Username=subs[2], Password="Corr3ct-Horse-Battery!",
                                Permanent=True)
    idp.admin_disable_user(UserPoolId=pool_id, Username=subs[3])
    fast = _listings(idp, pool_id)
    monkeypatch.setattr(responses.CognitoIdpResponse, "list_users", cognito_index._moto_list_users_response)
    assert _listings(idp, pool_id) == fast
    assert [len(page["Users"]) for page in fast] == [3, 3, 7, 1, 2, 2, 7, 4, 3]
    assert {u["UserStatus"] for u in fast[2]["Users"]} == {"CONFIRMED", "FORCE_CHANGE_PASSWORD"}


ITEM = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\x01"}, "ss": {"SS": ["q", "p"]},
        "bs": {"BS": [b"1", b"2"]}, "l": {"L": [{"M": {"x": {"BOOL": True}}}, {"NULL": True}, {"NS": ["2", "1"]}]}}


def _reads() -> list[Any]:
    """Raw bodies of item reads against a fresh mocked table."""
    from moto.dynamodb import responses

    bodies: list[Any] = []
    execute = responses.DynamoResult.execute_result

    def spy(self: Any, context: Any) -> Any:
        answer = execute(self, context)
        if context.operation_model.name in dynamodb_json.FAST_OPERATIONS:
            bodies.append((context.operation_model.name, answer[0], answer[1]["Content-Type"], json.loads(answer[2])))
        return answer

    responses.DynamoResult.execute_result = spy  # type: ignore[method-assign]
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
            ddb.put_item(TableName="t", Item=ITEM)
            for n in range(30):
                ddb.put_item(TableName="t", Item={"pk": {"S": f"k{n}"}, "v": {"N": str(n)}})
            ddb.scan(TableName="t", Limit=5, ReturnConsumedCapacity="TOTAL")
            ddb.scan(TableName="t", Segment=1, TotalSegments=3)
            ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})
            ddb.get_item(TableName="t", Key={"pk": {"S": "none"}})
            ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})
            ddb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "zz"}}]}})
            ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": {"pk": {"S": k}}}}
                                                  for k in ("a", "missing", "k3")], ReturnConsumedCapacity="TOTAL")
            ddb.put_item(TableName="t", Item={**ITEM, "pk": {"S": "w"}})
            ddb.put_item(TableName="t", Item={"pk": {"S": "w"}, "v": {"N": "2"}}, ReturnValues="ALL_OLD",
                         ReturnConsumedCapacity="TOTAL")
            for returned in ("NONE", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW", "ALL_OLD"):
                ddb.update_item(TableName="t", Key={"pk": {"S": "w"}}, ReturnValues=returned,
                                UpdateExpression="SET v = v + :one, b = :b, l = :l REMOVE gone",
                                ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"B": b"\x02"},
                                                           ":l": ITEM["l"]})
            ddb.update_item(TableName="t", Key={"pk": {"S": "new"}}, UpdateExpression="SET v = :v",
                            ExpressionAttributeValues={":v": {"SS": ["a"]}}, ReturnValues="ALL_NEW")
            ddb.delete_item(TableName="t", Key={"pk": {"S": "w"}}, ReturnValues="ALL_OLD")
            ddb.delete_item(TableName="t", Key={"pk": {"S": "never"}}, ReturnValues="ALL_OLD")
            with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
                ddb.put_item(TableName="t", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
            with pytest.raises(ddb.exceptions.ResourceNotFoundException):
                ddb.scan(TableName="missing")
    finally:
        responses.DynamoResult.execute_result = execute  # type: ignore[method-assign]
    return bodies


def test_item_answers_are_what_the_serializer_answered(monkeypatch):
    from moto.dynamodb import responses

    dynamodb_json.install()
    monkeypatch.setattr(responses.DynamoResult, "execute_result", dynamodb_json._serialized)  # moto's own
    before = _reads()
    dynamodb_json.install()
    after = _reads()

    assert [b[0] for b in after] == ["PutItem"] * 31 + [
        "Scan", "Scan", "GetItem", "GetItem", "Query", "BatchGetItem", "TransactGetItems",
        "PutItem", "PutItem", *["UpdateItem"] * 6, "DeleteItem", "DeleteItem"]
    assert after[-3][3]["Attributes"]["v"] == {"SS": ["a"]}  # the item an update created
    assert after[-2][3]["Attributes"]["b"] == {"B": "Ag=="}  # binary, base64 as on the wire
    assert after == before
    scanned = after[31][3]
    assert scanned["Count"] == 5 and "LastEvaluatedKey" in scanned and scanned["ConsumedCapacity"]


def test_item_reads_do_not_go_through_the_shape_serializer(monkeypatch):
    from moto.core import serialize

    dynamodb_json.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="t", Item={"pk": {"S": str(uuid.uuid4())}})
        serialized: list[str] = []
        serialize_result = serialize.ResponseSerializer.serialize

        def spy(self: Any, result: Any) -> Any:
            serialized.append(self.operation_model.name)
            return serialize_result(self, result)

        monkeypatch.setattr(serialize.ResponseSerializer, "serialize", spy)
        assert ddb.scan(TableName="t")["Count"] == 1
        ddb.describe_table(TableName="t")
    assert serialized == ["DescribeTable"]  # every other answer keeps moto's serializer


def _scan_order(ddb: Any, table: str) -> list[Any]:
    items, kwargs = [], {"TableName": table, "Limit": 7}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_a_scan_reads_the_table_in_moto_s_key_order(monkeypatch):
    from moto.dynamodb.models import table

    dynamodb_json.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="n", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "N"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.create_table(TableName="s", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        for n in (10, 9, 100, -3, 2.5, 0):
            for sk in ("b", "a", "B"):
                ddb.put_item(TableName="n", Item={"pk": {"N": str(n)}, "sk": {"S": sk}})
        for _ in range(25):
            ddb.put_item(TableName="s", Item={"pk": {"S": str(uuid.uuid4())}})
        fast = [_scan_order(ddb, "n"), _scan_order(ddb, "s")]
        monkeypatch.setattr(table.Table, "all_items", dynamodb_json._moto_all_items)
        assert [_scan_order(ddb, "n"), _scan_order(ddb, "s")] == fast
    assert [(i["pk"]["N"], i["sk"]["S"]) for i in fast[0][:4]] == [("-3", "B"), ("-3", "a"), ("-3", "b"), ("0", "B")]
    assert len(fast[1]) == 25
