"""Index Queries answered from ``dynamodb_index``'s hash maps answer what moto answers, through any
sequence of writes (every write path moves the table's generation, so no map outlives a change)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from linkflow.local import dynamodb_index, dynamodb_json, dynamodb_speed

MOTO, FAST = "us-east-1", "eu-west-1"
CUSTOMERS = ["cus_a", "cus_b", "cus_c", "cus_d"]


@contextmanager
def patched(index: bool) -> Iterator[None]:
    """dynamodb_speed's patches and the sorted listing, with the index maps' tracking or without."""
    originals = [(DynamoHandler, "call_action"), (Table, "put_item"), (Table, "delete_item"),
                 (DynamoDBBackend, "update_item")]
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, replacement in dynamodb_speed.patches():
            patch.setattr(owner, name, replacement)
        patch.setattr(Table, "all_items", dynamodb_json.all_items)
        if index:
            for owner, name, replacement in dynamodb_index.patches():
                patch.setattr(owner, name, replacement)
        else:
            for owner, name in originals:
                patch.setattr(owner, name, dynamodb_index._moto.get(
                    {"call_action": "call_action", "put_item": "put_item", "delete_item": "delete_item",
                     "update_item": "backend_update_item"}[name], getattr(owner, name)))
        yield


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    dynamodb_index.patches()  # keeps moto's own functions before anything patches them
    with mock_aws():
        yield {region: boto3.client("dynamodb", region_name=region) for region in (MOTO, FAST)}


def table(clients: dict[str, Any]) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    for client in clients.values():
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "cus")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "byCustomer",
                                     "KeySchema": [{"AttributeName": "cus", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}])
    return name


def call(client: Any, operation: str, **params: Any) -> Any:
    try:
        answer = getattr(client, operation)(**params)
    except ClientError as error:
        return {"Error": error.response["Error"]["Code"], "Message": error.response["Error"]["Message"]}
    answer.pop("ResponseMetadata", None)
    return answer


def both(clients: dict[str, Any], operation: str, **params: Any) -> Any:
    with patched(index=False):
        original = call(clients[MOTO], operation, **params)
    with patched(index=True):
        fast = call(clients[FAST], operation, **params)
    assert fast == original, (operation, params)
    return fast


def by_customer(clients: dict[str, Any], name: str, customer: str, **params: Any) -> Any:
    return both(clients, "query", TableName=name, IndexName="byCustomer", KeyConditionExpression="cus = :c",
                ExpressionAttributeValues={":c": {"S": customer}}, **params)


def item(pk: str, customer: str | None) -> dict[str, Any]:
    return {"pk": {"S": pk}, **({"cus": {"S": customer}} if customer else {}), "n": {"N": "1"}}


# One write of each path, as hypothesis draws them: (kind, pk number, customer or None).
WRITES = st.tuples(st.sampled_from(["put", "update", "remove", "delete", "batch", "transact", "transact_delete"]),
                   st.integers(0, 7), st.sampled_from([*CUSTOMERS, None]))


def write(clients: dict[str, Any], name: str, kind: str, pk: int, customer: str | None) -> None:
    key = {"pk": {"S": f"p{pk}"}}
    if kind == "put":
        both(clients, "put_item", TableName=name, Item=item(f"p{pk}", customer))
    elif kind == "update" and customer:
        both(clients, "update_item", TableName=name, Key=key, UpdateExpression="SET cus = :c",
             ExpressionAttributeValues={":c": {"S": customer}})
    elif kind in ("update", "remove"):
        both(clients, "update_item", TableName=name, Key=key, UpdateExpression="REMOVE cus")
    elif kind == "delete":
        both(clients, "delete_item", TableName=name, Key=key)
    elif kind == "batch":
        both(clients, "batch_write_item", RequestItems={name: [{"PutRequest": {"Item": item(f"p{pk}", customer)}}]})
    elif kind == "transact":
        both(clients, "transact_write_items", TransactItems=[{"Put": {"TableName": name,
                                                                      "Item": item(f"p{pk}", customer)}}])
    else:
        both(clients, "transact_write_items", TransactItems=[{"Delete": {"TableName": name, "Key": key}}])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(WRITES, st.sampled_from(CUSTOMERS)), min_size=1, max_size=12))
def test_index_queries_follow_every_write(clients: dict[str, Any], steps: list[Any]) -> None:
    name = table(clients)
    for (kind, pk, customer), asked in steps:
        by_customer(clients, name, asked)  # builds (or reuses) the map before the write
        write(clients, name, kind, pk, customer)
        by_customer(clients, name, asked)
        by_customer(clients, name, asked, ScanIndexForward=False, Limit=2)


def test_queries_read_the_map_until_the_table_is_written(clients: dict[str, Any]) -> None:
    name, other = table(clients), table(clients)
    for i in range(6):
        both(clients, "put_item", TableName=name, Item=item(f"p{i}", CUSTOMERS[i % 2]))
    built: list[Any] = []
    original = dynamodb_index.candidates

    def counting(table_: Any, *args: Any) -> Any:
        stamp = dynamodb_index.generation(table_.name)
        maps = table_.__dict__.get(dynamodb_index._ATTRIBUTE)
        if maps is None or maps[0] != stamp:
            built.append(table_.name)
        return original(table_, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dynamodb_index, "candidates", counting)
        assert by_customer(clients, name, "cus_a")["Count"] == 3
        assert by_customer(clients, name, "cus_b")["Count"] == 3
        assert built == [name]  # one map for both queries
        both(clients, "put_item", TableName=other, Item=item("x", "cus_a"))  # another table's write
        assert by_customer(clients, name, "cus_a")["Count"] == 3
        assert built == [name]
        both(clients, "update_item", TableName=name, Key={"pk": {"S": "p0"}}, UpdateExpression="SET cus = :c",
             ExpressionAttributeValues={":c": {"S": "cus_b"}})
        assert by_customer(clients, name, "cus_a")["Count"] == 2
        assert built == [name, name]


def test_a_write_naming_no_table_moves_every_generation() -> None:
    before = dynamodb_index.generation("anything")
    dynamodb_index.written(None)
    assert dynamodb_index.generation("anything") != before
    assert dynamodb_index.tables_named({"TableName": "arn:aws:dynamodb:us-east-1:1:table/t"}) is None
    assert dynamodb_index.tables_named({"RequestItems": {"a": [], "b": []}}) == ["a", "b"]
    assert dynamodb_index.tables_named({"TransactItems": [{"Put": {"TableName": "a"}},
                                                          {"ConditionCheck": {"TableName": "b"}}]}) == ["a", "b"]
    assert dynamodb_index.tables_named({"Statement": "UPDATE t SET a = 1"}) is None


def test_maps_are_used_only_while_tracking() -> None:
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, replacement in dynamodb_index.patches()[:3]:
            patch.setattr(owner, name, replacement)
        assert not dynamodb_index.tracking()  # DynamoDBBackend.update_item unpatched
    dynamodb_index.install()
    try:
        assert dynamodb_index.tracking()
        dynamodb_index.install()
        assert dynamodb_index.tracking()
    finally:
        dynamodb_index.uninstall()
    assert not dynamodb_index.tracking()
    assert DynamoHandler.call_action is dynamodb_index._moto["call_action"]
