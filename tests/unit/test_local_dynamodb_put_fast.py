"""``dynamodb_put`` answers PutItem as moto does: each put here runs on moto as it is (us-east-1)
and with the local stack's patches (eu-west-1); the answers (attributes, errors with their code,
message, HTTP status and returned item), the items stored and the stream records must be the same,
and the puts linkflow's stores send must be answered by the fast path, not handed back to moto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from dynamodb_twins import FAST, MOTO, call_with_status, counting_fast_path, moto_as_is
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from linkflow.local import dynamodb_put, dynamodb_update

NOW = {"S": "2026-12-02T10:00:00Z"}
call = call_with_status


def stack_patches(fast_answers: list[bool]) -> Any:
    """The stack's patches; ``fast_answers`` gets, per request, whether dynamodb_put's fast path answered."""
    return counting_fast_path(dynamodb_put, fast_answers)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {region: boto3.client("dynamodb", region_name=region) for region in (MOTO, FAST)}


def put(clients: dict[str, Any], key: dict[str, Any] | None = None, **params: Any) -> tuple[dict[str, Any], bool]:
    """moto's answer to PutItem (the patched one must be the same, and so must the item stored under ``key``,
    by default the item's own) and whether the fast path gave it."""
    with moto_as_is():
        original = call(clients[MOTO], "put_item", **params)
    answered: list[bool] = []
    with stack_patches(answered):
        patched = call(clients[FAST], "put_item", **params)
    assert patched == original
    assert len(answered) <= 1
    key = key or {k: v for k, v in params["Item"].items() if k in ("pk", "sk", "userId", "cognito_sub")}
    stored = [call(clients[r], "get_item", TableName=params["TableName"], Key=key) for r in (MOTO, FAST)]
    assert stored[1] == stored[0]
    return original, answered == [True]


def create_table(clients: dict[str, Any], hash_key: str, *, range_key: str | None = None,
                 index_keys: dict[str, str] | None = None, stream: bool = False) -> str:
    """A table in both regions; ``index_keys`` maps an attribute to its type, each the hash of a GSI."""
    name = f"t{uuid.uuid4().hex[:8]}"
    keys = {hash_key: "S", **({range_key: "S"} if range_key else {}), **(index_keys or {})}
    params: dict[str, Any] = {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in keys.items()],
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}]
        + ([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []),
    }
    if index_keys:
        params["GlobalSecondaryIndexes"] = [
            {"IndexName": f"by_{a}", "KeySchema": [{"AttributeName": a, "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}} for a in index_keys]
    if stream:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    for client in clients.values():
        client.create_table(**params)
    return name


# The shapes linkflow's stores send (functions/shared/linkflow_shared/stores)

def profile(user: str, email: str = "a@example.com", customer: str | None = "cus_1") -> dict[str, Any]:
    """ProfilesStore.create's item: ProfileRecord.item(), as boto3's resource layer writes it."""
    item = {"userId": {"S": user}, "email": {"S": email}, "givenName": {"S": "Ada"}, "familyName": {"S": "Lovelace"},
            "providers": {"L": [{"S": "native"}, {"S": "Google"}]}, "createdAt": NOW, "updatedAt": NOW}
    if customer:
        item["stripeCustomerId"] = {"S": customer}
    return item


def entitlement(user: str) -> dict[str, Any]:
    return {"cognito_sub": {"S": user}, "email": {"S": "a@example.com"}, "status": {"S": "trialing"},
            "plan": {"S": "pro"}, "current_period_end": {"N": "1790000000"}, "trial_expires_at": {"N": "1790000000"},
            "cancel_at_period_end": {"BOOL": False}, "features": {"L": [{"S": "export"}, {"S": "api"}]},
            "sync_version": {"N": "0"}, "updatedAt": NOW, "meta": {"M": {"source": {"S": "signup"}}}}


CREATE = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def test_the_profile_create_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "userId", index_keys={"email": "S", "stripeCustomerId": "S"})
    created, fast = put(clients, TableName=table, Item=profile("u1"),
                        ConditionExpression="attribute_not_exists(userId)", **CREATE)
    assert fast and created == {}
    again, fast = put(clients, TableName=table, Item=profile("u1", "b@example.com"),
                      ConditionExpression="attribute_not_exists(userId)", **CREATE)
    assert fast and again["Error"]["Code"] == "ConditionalCheckFailedException" and again["Status"] == 400
    assert again["Item"] == profile("u1")  # the stored item, unchanged
    plain, fast = put(clients, TableName=table, Item=profile("u2", customer=None))  # no condition
    assert fast and plain == {}
    replaced, fast = put(clients, TableName=table, Item=profile("u2", "c@example.com"), ReturnValues="ALL_OLD")
    assert fast and replaced["Attributes"] == profile("u2", customer=None)
    nothing_old, fast = put(clients, TableName=table, Item=profile("u3"), ReturnValues="ALL_OLD")
    assert fast and nothing_old == {}


def test_the_entitlement_create_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "cognito_sub")
    for _ in range(2):
        answer, fast = put(clients, TableName=table, Item=entitlement("u1"), **CREATE,
                           ConditionExpression="attribute_not_exists(#k)",
                           ExpressionAttributeNames={"#k": "cognito_sub"})
        assert fast
    assert answer["Item"] == entitlement("u1")


@pytest.mark.parametrize("on_failure", [None, "NONE", "ALL_OLD"])
@pytest.mark.parametrize("exists", [True, False])
def test_a_failed_condition_as_moto_does(clients: dict[str, Any], on_failure: str | None, exists: bool) -> None:
    table = create_table(clients, "pk")
    stored = {"pk": {"S": "k"}, "v": {"N": "1"}, "tags": {"SS": ["a", "b"]}, "blob": {"B": b"\x00\x01"}}
    if exists:
        for client in clients.values():
            client.put_item(TableName=table, Item=stored)
    params: dict[str, Any] = {"TableName": table, "Item": {"pk": {"S": "k"}, "v": {"N": "3"}},
                              "ConditionExpression": "v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}
    if on_failure:
        params["ReturnValuesOnConditionCheckFailure"] = on_failure
    answer, fast = put(clients, **params)
    assert fast and answer["Error"]["Code"] == "ConditionalCheckFailedException"
    assert ("Item" in answer) == (exists and on_failure == "ALL_OLD")


@pytest.mark.parametrize("return_values", [None, "NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "NOPE"])
def test_return_values_as_moto_does(clients: dict[str, Any], return_values: str | None) -> None:
    table = create_table(clients, "pk", range_key="sk")
    item = {"pk": {"S": "k"}, "sk": {"S": "s"}, "a": {"S": "x"}}
    for client in clients.values():
        client.put_item(TableName=table, Item={**item, "old": {"BOOL": True}})
    params: dict[str, Any] = {"TableName": table, "Item": item, "ConditionExpression": "attribute_exists(pk)"}
    if return_values:
        params["ReturnValues"] = return_values
    answer, fast = put(clients, **params)
    assert fast == (return_values in (None, "NONE", "ALL_OLD"))
    assert ("Attributes" in answer) == (return_values == "ALL_OLD")


# Items the fast path writes as moto does, and requests it leaves to moto (errors or not)

KEY = {"pk": {"S": "k"}}
FAST_ONES: list[dict[str, Any]] = [
    {"Item": {**KEY, "empty": {"S": ""}, "nothing": {"B": b""}, "null": {"NULL": True}}},
    {"Item": {**KEY, "bin": {"B": b"\xff\x00"}, "bins": {"BS": [b"a", b"b"]}, "ns": {"NS": ["1", "2.5"]}}},
    {"Item": {**KEY, "m": {"M": {"a": {"L": [{"S": ""}, {"N": "1"}, {"M": {}}]}, "b": {"SS": ["x"]}}}}},
    {"Item": {**KEY, "l": {"L": [{"L": []}, {"NULL": True}, {"BOOL": True}]}}},
    {"Item": {**KEY, "idx": {"S": "i"}}, "ConditionExpression": "attribute_not_exists(pk)",
     "ExpressionAttributeValues": {":unused": {"S": "u"}}},  # moto checks unused names only
    {"Item": {**KEY, "a": {"S": "x"}}, "ConditionExpression": "#a = :v OR NOT attribute_type(#a, :t)",
     "ExpressionAttributeNames": {"#a": "a"}, "ExpressionAttributeValues": {":v": {"S": "x"}, ":t": {"S": "N"}}},
    {"Item": {**KEY, "a": {"S": "x" * 300_000}}},
]
LEFT_TO_MOTO: list[dict[str, Any]] = [
    {"Item": {"pk": {"S": ""}}},
    {"Item": {**KEY, "idx": {"S": ""}}},
    {"Item": {**KEY, "idx": {"N": "1"}}},  # an index key of the wrong type (moto stores it)
    {"Item": {**KEY, "idx": {"NULL": True}}},
    {"Item": {**KEY, "ss": {"SS": []}}},
    {"Item": {**KEY, "ns": {"NS": []}}},
    {"Item": {**KEY, "bs": {"BS": []}}},
    {"Item": {**KEY, "m": {"M": {"s": {"SS": []}}}}},
    {"Item": {**KEY, "l": {"L": [{"NS": []}]}}},
    {"Item": {**KEY, "l": {"L": [{"B": b"x"}]}}},
    {"Item": {**KEY, "a": {"S": "x" * 300_000}, "b": {"S": "y" * 110_000}}},
    {"Item": {"other": {"S": "x"}}},
    {"Item": {"pk": {"N": "1"}}},
    {"Item": {"pk": {"S": "x" * 2049}}},
    {"Item": {**KEY, "n": {"N": "abc"}}},
    {"Item": {**KEY, "n": {"N": " 1"}}},
    {"Item": KEY, "ExpressionAttributeNames": {"#unused": "x"}},
    {"Item": KEY, "ConditionExpression": "attribute_not_exists(pk)", "ExpressionAttributeNames": {"#unused": "x"}},
    {"Item": KEY, "ConditionExpression": "attribute_not_exists(#undefined)"},
    {"Item": KEY, "ConditionExpression": "pk = :undefined"},
    {"Item": KEY, "ConditionExpression": "pk = :v", "ExpressionAttributeValues": {}},
    {"Item": KEY, "ConditionExpression": "pk = :v", "ExpressionAttributeValues": {"v": {"S": "k"}}},
    {"Item": KEY, "ConditionExpression": "pk = = :v", "ExpressionAttributeValues": {":v": {"S": "k"}}},
    {"Item": KEY, "ConditionExpression": ""},
    {"Item": KEY, "Expected": {"pk": {"Exists": False}}},
    {"Item": KEY, "ReturnConsumedCapacity": "TOTAL"},
    {"Item": KEY, "ReturnValues": "ALL_NEW"},
]


@pytest.mark.parametrize("request_", FAST_ONES, ids=[str(r) for r in range(len(FAST_ONES))])
def test_unusual_items_as_moto_does(clients: dict[str, Any], request_: dict[str, Any]) -> None:
    table = create_table(clients, "pk", index_keys={"idx": "S"})
    answer, fast = put(clients, TableName=table, key=KEY, **request_)
    assert fast and answer == {}


@pytest.mark.parametrize("request_", LEFT_TO_MOTO, ids=[str(r) for r in range(len(LEFT_TO_MOTO))])
def test_other_requests_are_left_to_moto(clients: dict[str, Any], request_: dict[str, Any]) -> None:
    table = create_table(clients, "pk", index_keys={"idx": "S"})
    answer, fast = put(clients, TableName=table, key=KEY, **request_)
    assert not fast, answer


def test_the_guarded_requests_fail_with_moto_s_errors(clients: dict[str, Any]) -> None:
    """The twins above are compared; here, that they are the failures they are meant to be."""
    table = create_table(clients, "pk", index_keys={"idx": "S"})
    messages = []
    for request_ in LEFT_TO_MOTO:
        answer, _ = put(clients, TableName=table, key=KEY, **request_)
        messages.append(answer["Error"]["Message"] if "Status" in answer else answer.get("Message"))
    assert "cannot contain an empty string value" in messages[0] or "may not contain an empty string" in messages[0]
    assert "secondary index key" in messages[1] and "Type mismatch for Index Key idx" in messages[3]
    assert "string set  may not be empty" in messages[4] and "number set  may not be empty" in messages[5]
    assert "Item size has exceeded" in messages[10] and "Missing the key pk" in messages[11]
    assert "Type mismatch" in messages[12] and "Size of hashkey has exceeded" in messages[13]
    assert "cannot be converted to a numeric value: abc" in messages[14] and "value:  1" in messages[15]
    assert "unused in expressions: keys: {#unused}" in messages[16] and "{#unused}" in messages[17]
    assert "ExpressionAttributeValues must not be empty" in messages[20]
    assert "Syntax error" in messages[21] and "Return values set to invalid value" in messages[26]


def test_a_wrong_range_key_and_a_missing_one_are_moto_s(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk", range_key="sk")
    for item in ({"pk": {"S": "k"}}, {"pk": {"S": "k"}, "sk": {"N": "1"}}, {"pk": {"S": "k"}, "sk": {"S": ""}}):
        answer, fast = put(clients, key={"pk": {"S": "k"}, "sk": {"S": "s"}}, TableName=table, Item=item)
        assert not fast and "Error" in answer
    answers, answered = [], []  # a table named by its ARN (one per region)
    for region in (MOTO, FAST):
        arn = clients[region].describe_table(TableName=table)["Table"]["TableArn"]
        with moto_as_is() if region == MOTO else stack_patches(answered):
            answers.append(call(clients[region], "put_item", TableName=arn, Item={"pk": {"S": "k"}, "sk": {"S": "s"}}))
    assert answers == [{}, {}] and answered == [False]


def stream_records(region: str, table: str) -> list[dict[str, Any]]:
    """The table's stream records as moto keeps them, less what differs by id or time (``SizeBytes`` counts
    the creation time's digits)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables[table].stream_shard
    varying = ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")
    records = [record.to_json() for record in shard.items]
    return [{"eventName": r["eventName"], **{k: v for k, v in r["dynamodb"].items() if k not in varying}}
            for r in records]


def test_a_table_with_a_stream_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk", stream=True)
    for params in ({"Item": {**KEY, "v": {"N": "1"}}}, {"Item": {**KEY, "v": {"N": "2"}}, "ReturnValues": "ALL_OLD"},
                   {"Item": {**KEY, "v": {"N": "3"}}, "ConditionExpression": "attribute_not_exists(pk)"}):
        _, fast = put(clients, TableName=table, **params)
        assert fast
    records = [stream_records(region, table) for region in (MOTO, FAST)]
    assert records[1] == records[0] and [r["eventName"] for r in records[0]] == ["INSERT", "MODIFY"]


# Random items and conditions

NAMES = ["a", "b", "idx", "n"]
SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.sampled_from(["", "x", "v", "é"])),
    st.builds(lambda n: {"N": n}, st.sampled_from(["0", "1", "2.5", "-7", "1e3", "abc", "1" * 40])),
    st.builds(lambda b: {"B": b}, st.sampled_from([b"", b"x"])),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": s}, st.lists(st.sampled_from(["x", "y"]), max_size=2, unique=True)),
    st.builds(lambda s: {"NS": s}, st.lists(st.sampled_from(["1", "2"]), max_size=2, unique=True)),
)
STORED = st.sampled_from([{"S": "x"}, {"S": "v"}, {"S": ""}, {"N": "1"}, {"N": "2.5"}, {"B": b"x"}, {"BOOL": True},
                          {"SS": ["x", "y"]}, {"L": [{"S": "x"}]}, {"NULL": True}])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
    st.builds(lambda items: {"M": items}, st.dictionaries(st.sampled_from(["k", "S", "l"]), inner, max_size=2)),
), max_leaves=5)
CONDITIONS = [None, "attribute_not_exists(pk)", "attribute_exists(pk)", "a = :s", "#a <> :s OR n = :n",
              "attribute_exists(pk) AND NOT n = :n", "size(a) > :n", "begins_with(#a, :s)", "n BETWEEN :n AND :m",
              "a IN (:s, :t)", "contains(a, :s)", "attribute_type(a, :type)", "#undefined = :s", "a = :undefined"]
PLACEHOLDER_VALUES = {":s": {"S": "x"}, ":t": {"S": "v"}, ":n": {"N": "1"}, ":m": {"N": "3"}, ":type": {"S": "S"}}


@pytest.fixture(scope="module")
def random_table(clients: dict[str, Any]) -> str:
    return create_table(clients, "pk", index_keys={"idx": "S"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(item=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4), stored=st.none() | st.dictionaries(
    st.sampled_from(NAMES), STORED, max_size=3), condition=st.sampled_from(CONDITIONS),
    names=st.sampled_from([None, {"#a": "a"}, {"#a": "a", "#unused": "b"}]), all_values=st.booleans(),
    return_values=st.sampled_from([None, "ALL_OLD"]), on_failure=st.sampled_from([None, "ALL_OLD"]))
def test_random_puts_answer_as_moto_does(clients: dict[str, Any], random_table: str, item: dict[str, Any],
                                         stored: dict[str, Any] | None, condition: str | None,
                                         names: dict[str, str] | None, all_values: bool, return_values: str | None,
                                         on_failure: str | None) -> None:
    key = {"pk": {"S": uuid.uuid4().hex}}
    if stored is not None:
        old = {**key, **{k: v for k, v in stored.items() if k != "idx" or v in ({"S": "x"}, {"S": "v"})}}
        for client in clients.values():
            client.put_item(TableName=random_table, Item=old)
    params: dict[str, Any] = {"TableName": random_table, "Item": {**key, **item}}
    text = condition or ""
    if condition:
        params["ConditionExpression"] = condition
        if "#a" in condition and names is None:
            names = {"#a": "a"}
    if names:
        params["ExpressionAttributeNames"] = names
    used = {k: v for k, v in PLACEHOLDER_VALUES.items() if all_values or k in text}
    if used:
        params["ExpressionAttributeValues"] = used
    if return_values:
        params["ReturnValues"] = return_values
    if on_failure:
        params["ReturnValuesOnConditionCheckFailure"] = on_failure
    put(clients, key=key, **params)


def test_random_shapes_are_mostly_answered_fast(clients: dict[str, Any], random_table: str) -> None:
    """The random test above is not only moto's answers compared with themselves: plain ones are fast."""
    fast = 0
    for n in range(20):
        key = {"pk": {"S": f"plain{n}"}}
        _, answered = put(clients, TableName=random_table, ReturnValues="ALL_OLD", ConditionExpression="#a <> :s",
                          Item={**key, "a": {"S": str(n)}, "idx": {"S": "i"}, "n": {"L": [{"N": str(n)}]}},
                          ExpressionAttributeNames={"#a": "a"}, ExpressionAttributeValues={":s": {"S": "x"}})
        fast += answered
    assert fast == 20


def test_the_condition_cache_keeps_expressions_not_values(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk")
    answered: list[bool] = []
    with stack_patches(answered):
        for n in range(3):
            answer = call(clients[FAST], "put_item", TableName=table, Item={**KEY, "v": {"N": str(n)}},
                          ConditionExpression="attribute_not_exists(pk) OR v = :v",
                          ExpressionAttributeValues={":v": {"N": str(n - 1)}})
            assert answer == {}
        assert list(dynamodb_update._conditions) == ["attribute_not_exists(pk) OR v = :v"]
        stored = call(clients[FAST], "get_item", TableName=table, Key=KEY)
    assert answered == [True] * 3 and stored["Item"]["v"] == {"N": "2"}


def test_threads_share_the_caches(clients: dict[str, Any]) -> None:
    """Threads creating their own items with the same condition (the cache filled while they race)."""
    from concurrent.futures import ThreadPoolExecutor

    table = create_table(clients, "userId", index_keys={"email": "S", "stripeCustomerId": "S"})
    client = clients[FAST]

    def run(n: int) -> list[str]:
        codes = []
        for i in range(10):
            for _ in range(2):  # the second one's condition fails
                answer = call(client, "put_item", TableName=table, Item=profile(f"t{n}-{i}", f"{n}@x"),
                              ConditionExpression="attribute_not_exists(userId)", **CREATE)
                codes.append(answer.get("Error", {}).get("Code", "ok"))
                assert answer.get("Item", profile(f"t{n}-{i}", f"{n}@x")) == profile(f"t{n}-{i}", f"{n}@x")
        return codes

    answered: list[bool] = []
    with stack_patches(answered), ThreadPoolExecutor(8) as pool:
        codes = [code for result in pool.map(run, range(8)) for code in result]
    assert all(answered) and len(answered) == 160
    assert codes == ["ok", "ConditionalCheckFailedException"] * 80
    assert client.scan(TableName=table, Select="COUNT")["Count"] == 80
