"""``dynamodb_update`` answers UpdateItem as moto does: each update here runs on moto as it is
(us-east-1) and with the local stack's patches (eu-west-1); the answers (attributes, errors with
their code, message, HTTP status and returned item) and the items stored must be the same, and the
updates linkflow's stores send must be answered by the fast path, not handed back to moto."""

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

from linkflow.local import dynamodb_update

NOW = {"S": "2026-12-02T10:00:00Z"}
call = call_with_status


def stack_patches(fast_answers: list[bool]) -> Any:
    """The stack's patches; ``fast_answers`` gets, per request, whether dynamodb_update's fast path answered."""
    return counting_fast_path(dynamodb_update, fast_answers)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {region: boto3.client("dynamodb", region_name=region) for region in (MOTO, FAST)}


def update(clients: dict[str, Any], **params: Any) -> tuple[dict[str, Any], bool]:
    """moto's answer (the patched one must be the same, and so must the stored item) and whether the fast
    path gave it."""
    with moto_as_is():
        original = call(clients[MOTO], "update_item", **params)
    answered: list[bool] = []
    with stack_patches(answered):
        patched = call(clients[FAST], "update_item", **params)
    assert patched == original
    assert len(answered) <= 1
    key, table = params["Key"], params["TableName"]
    stored = [clients[r].get_item(TableName=table, Key=key).get("Item") for r in (MOTO, FAST)]
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


def put(clients: dict[str, Any], table: str, item: dict[str, Any]) -> None:
    for client in clients.values():
        client.put_item(TableName=table, Item=item)


# The shapes linkflow's stores send (functions/shared/linkflow_shared/stores)

SYNCED = ["status", "plan", "current_period_end", "trial_expires_at", "cancel_at_period_end", "features",
          "stripeCustomerId", "subscriptionId", "priceId", "seats", "productId", "interval", "currency",
          "amount", "trialUsed"]
SYNCED_VALUES: list[dict[str, Any] | None] = [
    {"S": "active"}, {"S": "pro"}, {"N": "1790000000"}, None, {"BOOL": True},
    {"L": [{"S": "export"}, {"S": "api"}, {"S": "sso"}]}, {"S": "cus_1"}, {"S": "sub_1"}, {"S": "price_1"},
    {"N": "3"}, {"S": "prod_1"}, None, {"S": "eur"}, {"N": "12.50"}, {"BOOL": False},
]


def entitlement_write(table: str, user: str, base: int, *, email: str | None = "a@example.com") -> dict[str, Any]:
    """EntitlementStore.write_synced: SET of every synced field there is, REMOVE of the others."""
    names, values, sets, removes = {}, {}, [], []
    for i, (field, value) in enumerate(zip(SYNCED, SYNCED_VALUES, strict=True)):
        names[f"#f{i}"] = field
        if value is None:
            removes.append(f"#f{i}")
        else:
            sets.append(f"#f{i} = :v{i}")
            values[f":v{i}"] = value
    sets.append("syncVersion = :next")
    values[":next"] = {"N": str(base + 1)}
    if email:
        sets.append("email = :email")
        values[":email"] = {"S": email}
    params: dict[str, Any] = {
        "TableName": table, "Key": {"cognito_sub": {"S": user}}, "ReturnValues": "ALL_NEW",
        "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
        "ConditionExpression": "syncVersion = :base" if base else "attribute_not_exists(syncVersion)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD", "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if base:
        values[":base"] = {"N": str(base)}
    return params


def test_the_entitlement_write_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "cognito_sub", index_keys={"stripeCustomerId": "S"})
    first, fast = update(clients, **entitlement_write(table, "u1", 0))  # no item yet: created
    assert fast and first["Attributes"]["syncVersion"] == {"N": "1"} and "interval" not in first["Attributes"]
    again, fast = update(clients, **entitlement_write(table, "u1", 0))  # it exists now: the condition fails
    assert fast and again["Error"]["Code"] == "ConditionalCheckFailedException" and again["Status"] == 400
    assert again["Item"] == first["Attributes"]
    put(clients, table, {"cognito_sub": {"S": "u2"}, "syncVersion": {"N": "4"}, "interval": {"S": "month"},
                         "trial_expires_at": {"N": "1"}, "note": {"S": "kept"}})
    written, fast = update(clients, **entitlement_write(table, "u2", 4, email=None))
    assert fast and written["Attributes"]["syncVersion"] == {"N": "5"}
    assert written["Attributes"]["note"] == {"S": "kept"}
    assert "interval" not in written["Attributes"] and "trial_expires_at" not in written["Attributes"]
    stale, fast = update(clients, **entitlement_write(table, "u2", 4))
    assert fast and stale["Error"]["Code"] == "ConditionalCheckFailedException"
    assert stale["Item"] == written["Attributes"]
    missing, fast = update(clients, **entitlement_write(table, "nobody", 3))  # no item: no Item in the error
    assert fast and missing["Error"]["Code"] == "ConditionalCheckFailedException" and "Item" not in missing


def test_the_email_claim_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "email")

    def claim(user: str, now: str) -> dict[str, Any]:
        return {"TableName": table, "Key": {"email": {"S": "a@example.com"}}, "ReturnValues": "ALL_NEW",
                "UpdateExpression": "SET userId = :me, claimedAt = if_not_exists(claimedAt, :now)",
                "ConditionExpression": "attribute_not_exists(email) OR userId = :me",
                "ExpressionAttributeValues": {":me": {"S": user}, ":now": {"S": now}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}

    created, fast = update(clients, **claim("u1", "t1"))
    assert fast and created["Attributes"] == {"email": {"S": "a@example.com"}, "userId": {"S": "u1"},
                                              "claimedAt": {"S": "t1"}}
    kept, fast = update(clients, **claim("u1", "t2"))  # if_not_exists finds claimedAt: kept
    assert fast and kept["Attributes"]["claimedAt"] == {"S": "t1"}
    taken, fast = update(clients, **claim("u2", "t3"))
    assert fast and taken["Error"]["Code"] == "ConditionalCheckFailedException" and taken["Item"] == kept["Attributes"]


@pytest.mark.parametrize(("stored", "expression", "condition", "values"), [
    ({"userId": {"S": "u"}}, "SET stripeCustomerId = :c, updatedAt = :now",
     "attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)", {":c": {"S": "cus_1"}}),
    ({"userId": {"S": "u"}, "stripeCustomerId": {"S": "cus_0"}}, "SET stripeCustomerId = :c, updatedAt = :now",
     "attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)", {":c": {"S": "cus_1"}}),
    (None, "SET stripeCustomerId = :c, updatedAt = :now",
     "attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)", {":c": {"S": "cus_1"}}),
    ({"userId": {"S": "u"}, "stripeCustomerId": {"S": "cus_1"}}, "REMOVE stripeCustomerId SET updatedAt = :now",
     "stripeCustomerId = :c", {":c": {"S": "cus_1"}}),
    ({"userId": {"S": "u"}, "stripeCustomerId": {"S": "cus_2"}}, "REMOVE stripeCustomerId SET updatedAt = :now",
     "stripeCustomerId = :c", {":c": {"S": "cus_1"}}),
    ({"userId": {"S": "u"}}, "REMOVE stripeCustomerId, nothing SET updatedAt = :now", None, {}),
    ({"userId": {"S": "u"}, "email": {"S": "old@x"}}, "SET email = :new, updatedAt = :now", "email = :old",
     {":new": {"S": "new@x"}, ":old": {"S": "old@x"}}),
    ({"userId": {"S": "u"}, "email": {"S": "other@x"}}, "SET email = :new, updatedAt = :now", "email = :old",
     {":new": {"S": "new@x"}, ":old": {"S": "old@x"}}),
    ({"userId": {"S": "u"}}, "SET email = :e, updatedAt = :now", "attribute_exists(userId)", {":e": {"S": "e@x"}}),
    (None, "SET email = :e, updatedAt = :now", "attribute_exists(userId)", {":e": {"S": "e@x"}}),
    ({"userId": {"S": "u"}, "email": {"S": "e@x"}}, "SET email = :e, updatedAt = :now",
     "attribute_exists(userId) AND attribute_not_exists(email)", {":e": {"S": "f@x"}}),
    ({"userId": {"S": "u"}, "tags": {"SS": ["a"]}}, "SET updatedAt = :now", "NOT contains(tags, :t)",
     {":t": {"S": "b"}}),
    ({"userId": {"S": "u"}, "tags": {"SS": ["a"]}}, "SET updatedAt = :now", "NOT contains(tags, :t)",
     {":t": {"S": "a"}}),
    ({"userId": {"S": "u"}, "n": {"N": "2"}}, "SET updatedAt = :now", "n > :one AND (n < :ten OR n = :one)",
     {":one": {"N": "1"}, ":ten": {"N": "10"}}),
])
def test_the_profile_writes_as_moto_does(clients: dict[str, Any], stored: dict[str, Any] | None, expression: str,
                                         condition: str | None, values: dict[str, Any]) -> None:
    table = create_table(clients, "userId", index_keys={"stripeCustomerId": "S"})
    if stored is not None:
        put(clients, table, stored)
    params: dict[str, Any] = {"TableName": table, "Key": {"userId": {"S": "u"}}, "UpdateExpression": expression,
                              "ExpressionAttributeValues": {**values, ":now": NOW}, "ReturnValues": "ALL_NEW"}
    if condition:
        params.update(ConditionExpression=condition, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    _, fast = update(clients, **params)
    assert fast


def test_the_event_record_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk", range_key="sk")

    def record(event: str, now: str) -> dict[str, Any]:
        return {"TableName": table, "Key": {"pk": {"S": "cus_1"}, "sk": {"S": "stats"}}, "ReturnValues": "ALL_NEW",
                "UpdateExpression": "SET lastEventId = :event, firstSeenAt = if_not_exists(firstSeenAt, :now), "
                                    "lastSeenAt = :now ADD eventCount :one",
                "ConditionExpression": "attribute_not_exists(lastEventId) OR lastEventId <> :event",
                "ExpressionAttributeValues": {":event": {"S": event}, ":now": {"S": now}, ":one": {"N": "1"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}

    first, fast = update(clients, **record("evt_1", "t1"))
    assert fast and first["Attributes"]["eventCount"] == {"N": "1"}
    second, fast = update(clients, **record("evt_2", "t2"))
    assert fast and second["Attributes"]["eventCount"] == {"N": "2"}
    assert second["Attributes"]["firstSeenAt"] == {"S": "t1"}
    replay, fast = update(clients, **record("evt_2", "t3"))
    assert fast and replay["Error"]["Code"] == "ConditionalCheckFailedException"
    assert replay["Item"] == second["Attributes"]


@pytest.mark.parametrize("return_values", [None, "NONE", "ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", "NOPE"])
def test_return_values_as_moto_does(clients: dict[str, Any], return_values: str | None) -> None:
    table = create_table(clients, "pk")
    put(clients, table, {"pk": {"S": "k"}, "a": {"S": "x"}, "b": {"N": "1"}})
    params: dict[str, Any] = {"TableName": table, "Key": {"pk": {"S": "k"}}, "UpdateExpression": "SET a = :a REMOVE b",
                              "ExpressionAttributeValues": {":a": {"S": "y"}}}
    if return_values:
        params["ReturnValues"] = return_values
    _, fast = update(clients, **params)
    assert fast == (return_values in (None, "NONE", "ALL_NEW"))


# Requests the fast path leaves to moto: moto's answer, error or not

ITEM = {"pk": {"S": "k"}, "count": {"N": "2"}, "label": {"S": "x"}, "idx": {"S": "i"}, "tags": {"SS": ["a"]},
        "list": {"L": [{"S": "v"}]}}
V = {":s": {"S": "v"}}
LEFT_TO_MOTO: list[dict[str, Any]] = [
    {"UpdateExpression": "SET label = :s", "ExpressionAttributeValues": {**V, ":unused": {"S": "u"}}},
    {"UpdateExpression": "SET label = :s", "ExpressionAttributeValues": V, "ExpressionAttributeNames": {"#u": "u"}},
    {"UpdateExpression": "SET label = :undefined, other = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET #undefined = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ConditionExpression": "label = :undefined", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ConditionExpression": "#undefined = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET pk = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET #k = :s", "ExpressionAttributeNames": {"#k": "pk"}, "ExpressionAttributeValues": V},
    {"UpdateExpression": "REMOVE pk"},
    {"UpdateExpression": "SET label = if_not_exists(pk, :s)", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s, label = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s REMOVE #l", "ExpressionAttributeNames": {"#l": "label"},
     "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET #a = :s, #b = :s", "ExpressionAttributeNames": {"#a": "z", "#b": "z"},
     "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET status = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ConditionExpression": "status = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ConditionExpression": "label = = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s,, x = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET idx = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
    {"UpdateExpression": "SET idx = :e", "ExpressionAttributeValues": {":e": {"S": ""}}},
    {"UpdateExpression": "ADD label :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
    {"UpdateExpression": "ADD count :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "ADD count :n", "ExpressionAttributeValues": {":n": {"N": "x1"}}},
    {"UpdateExpression": "ADD tags :t", "ExpressionAttributeValues": {":t": {"SS": ["b"]}}},
    {"UpdateExpression": "DELETE tags :t", "ExpressionAttributeValues": {":t": {"SS": ["a"]}}},
    {"UpdateExpression": "SET list = list_append(list, :l)", "ExpressionAttributeValues": {":l": {"L": [V[":s"]]}}},
    {"UpdateExpression": "SET count = count + :n", "ExpressionAttributeValues": {":n": {"N": "1"}}},
    {"UpdateExpression": "SET m.k = :s, list[0] = :s", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ExpressionAttributeValues": {}},
    {"UpdateExpression": "SET label = :ns", "ExpressionAttributeValues": {":ns": {"NS": []}}},
    {"UpdateExpression": "SET label = :s", "ExpressionAttributeValues": V, "Expected": {"label": {"Value": V[":s"]}}},
    {"UpdateExpression": "  ", "ExpressionAttributeValues": V},
    {"UpdateExpression": "SET label = :s", "ExpressionAttributeValues": V, "ReturnValuesOnConditionCheckFailure": "X"},
]


@pytest.mark.parametrize("request_", LEFT_TO_MOTO, ids=[str(r) for r in range(len(LEFT_TO_MOTO))])
def test_other_requests_are_left_to_moto(clients: dict[str, Any], request_: dict[str, Any]) -> None:
    table = create_table(clients, "pk", index_keys={"idx": "S"})
    put(clients, table, ITEM)
    answer, fast = update(clients, TableName=table, Key={"pk": {"S": "k"}}, ReturnValues="ALL_NEW", **request_)
    assert not fast, answer


def test_the_guarded_requests_fail_with_moto_s_errors(clients: dict[str, Any]) -> None:
    """The twins above are compared; here, that they are the failures they are meant to be."""
    table = create_table(clients, "pk", index_keys={"idx": "S"})
    put(clients, table, ITEM)
    messages = []
    for request_ in LEFT_TO_MOTO[:20]:
        answer, _ = update(clients, TableName=table, Key={"pk": {"S": "k"}}, ReturnValues="ALL_NEW", **request_)
        messages.append(answer.get("Error", {}).get("Message") if "Status" in answer else answer.get("Message"))
    assert "unused in expressions: keys: {:unused}" in messages[0] and "keys: {#u}" in messages[1]
    assert messages[2].endswith("attribute value: :undefined")
    assert messages[3] == "'#undefined'" and messages[4] == "':undefined'"  # moto's KeyErrors
    assert "Cannot update attribute pk. This attribute is part of the key" in messages[6]
    assert messages[7] == messages[6] and "pk" in messages[9]
    assert "Two document paths overlap" in messages[10] and "Two document paths overlap" in messages[11]
    assert "reserved keyword; reserved keyword: status" in messages[13]
    assert "Type mismatch" in messages[17] and "empty string" in messages[18]
    assert "Incorrect operand type" in messages[19] or "An operand in the update expression" in messages[19]


def test_a_missing_item_with_a_wrong_key_type_and_other_keys_are_moto_s(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk", range_key="sk")
    base: dict[str, Any] = {"TableName": table, "UpdateExpression": "SET a = :s", "ExpressionAttributeValues": V,
                            "ReturnValues": "ALL_NEW"}
    keys = [{"pk": {"N": "1"}, "sk": {"S": "s"}}, {"pk": {"S": "k"}},
            {"pk": {"S": "k"}, "sk": {"S": "s"}, "x": V[":s"]}]
    for key in keys:
        with moto_as_is():
            original = call(clients[MOTO], "update_item", Key=key, **base)
        answered: list[bool] = []
        with stack_patches(answered):
            patched = call(clients[FAST], "update_item", Key=key, **base)
        assert patched == original and "Error" in original and answered == [False]


def test_a_table_with_a_stream_is_left_to_moto(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk", stream=True)
    put(clients, table, ITEM)
    _, fast = update(clients, TableName=table, Key={"pk": {"S": "k"}}, UpdateExpression="SET label = :s",
                     ExpressionAttributeValues=V, ReturnValues="ALL_NEW")
    assert not fast


def test_an_update_past_the_size_limit_is_moto_s(clients: dict[str, Any]) -> None:
    """moto fails part way (the first SET stays written): the fast path must leave that to moto."""
    table = create_table(clients, "pk")
    put(clients, table, {"pk": {"S": "k"}, "big": {"S": "x" * 300_000}})
    answer, fast = update(clients, TableName=table, Key={"pk": {"S": "k"}}, ReturnValues="ALL_NEW",
                          UpdateExpression="SET small = :s, big2 = :b",
                          ExpressionAttributeValues={":s": {"S": "v"}, ":b": {"S": "y" * 150_000}})
    assert not fast and "Item size to update has exceeded" in answer["Error"]["Message"]
    answer, fast = update(clients, TableName=table, Key={"pk": {"S": "k"}}, ReturnValues="ALL_NEW",
                          UpdateExpression="SET big2 = :b", ExpressionAttributeValues={":b": {"S": "y" * 90_000}})
    assert fast and "Error" not in answer


# Random updates

NAMES = ["a", "b", "c", "d", "e", "n", "tags"]
VALUES = {":s": {"S": "v"}, ":e": {"S": ""}, ":n": {"N": "2"}, ":d": {"N": "1.5"}, ":b": {"BOOL": True},
          ":l": {"L": [{"S": "x"}, {"N": "1"}]}, ":m": {"M": {"k": {"S": "v"}}}, ":ss": {"SS": ["x"]},
          ":null": {"NULL": True}}
ATTRIBUTE = st.sampled_from([v for k, v in VALUES.items() if k != ":e"])
CONDITIONS = [None, "attribute_exists(a)", "attribute_not_exists(b)", "a = :s", "a <> :s OR n = :n",
              "attribute_exists(pk) AND NOT n = :d", "size(c) > :n", "begins_with(a, :s)"]


@st.composite
def actions(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """An update expression over top-level NAMES, some written as #placeholders, and its names."""
    names: dict[str, str] = {}

    def path(name: str) -> str:
        if draw(st.booleans()):
            names[f"#{name}"] = name
            return f"#{name}"
        return name

    sets, removes, adds = [], [], []
    for _ in range(draw(st.integers(1, 4))):
        kind, name = draw(st.sampled_from(["SET", "SET", "IFNX", "REMOVE", "ADD"])), draw(st.sampled_from(NAMES))
        value = draw(st.sampled_from(sorted(VALUES)))
        if kind == "SET":
            sets.append(f"{path(name)} = {value}")
        elif kind == "IFNX":
            sets.append(f"{path(name)} = if_not_exists({path(draw(st.sampled_from(NAMES)))}, {value})")
        elif kind == "REMOVE":
            removes.append(path(name))
        else:
            adds.append(f"{path(name)} {draw(st.sampled_from([':n', ':d', ':s']))}")
    clauses = [(c, a) for c, a in (("SET", sets), ("REMOVE", removes), ("ADD", adds)) if a]
    order = draw(st.permutations(clauses))
    return " ".join(f"{c} " + ", ".join(a) for c, a in order), names


@pytest.fixture(scope="module")
def random_table(clients: dict[str, Any]) -> str:
    return create_table(clients, "pk", index_keys={"a": "S"})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(update_=actions(), item=st.dictionaries(st.sampled_from(NAMES), ATTRIBUTE), exists=st.booleans(),
       condition=st.sampled_from(CONDITIONS), on_failure=st.sampled_from([None, "ALL_OLD"]))
def test_random_updates_answer_as_moto_does(clients: dict[str, Any], random_table: str,
                                            update_: tuple[str, dict[str, str]], item: dict[str, Any], exists: bool,
                                            condition: str | None, on_failure: str | None) -> None:
    expression, names = update_
    key = {"pk": {"S": uuid.uuid4().hex}}
    if exists:  # PutItem takes only a string for the index key ``a``
        put(clients, random_table, {**key, **{k: v for k, v in item.items() if k != "a" or "S" in v}})
    text = expression + " " + (condition or "")
    params: dict[str, Any] = {"TableName": random_table, "Key": key, "UpdateExpression": expression,
                              "ReturnValues": "ALL_NEW"}
    used = {k: v for k, v in VALUES.items() if any(t.rstrip(",)") == k for t in text.split())}
    if used:
        params["ExpressionAttributeValues"] = used
    if names:
        params["ExpressionAttributeNames"] = names
    if condition:
        params["ConditionExpression"] = condition
    if on_failure:
        params["ReturnValuesOnConditionCheckFailure"] = on_failure
    update(clients, **params)


def test_random_shapes_are_mostly_answered_fast(clients: dict[str, Any], random_table: str) -> None:
    """The random test above is not only moto's answers compared with themselves: most plain ones are fast."""
    fast = 0
    for n in range(20):
        key = {"pk": {"S": f"plain{n}"}}
        put(clients, random_table, {**key, "b": {"N": str(n)}})
        _, answered = update(clients, TableName=random_table, Key=key, ReturnValues="ALL_NEW",
                             UpdateExpression="SET #a = :s, c = if_not_exists(b, :n) REMOVE tags ADD n :d",
                             ExpressionAttributeNames={"#a": "a"}, ConditionExpression="attribute_exists(b)",
                             ExpressionAttributeValues={":s": {"S": "v"}, ":n": {"N": "2"}, ":d": {"N": "1.5"}})
        fast += answered
    assert fast == 20


def test_the_caches_keep_expressions_not_values(clients: dict[str, Any]) -> None:
    table = create_table(clients, "pk")
    answered: list[bool] = []
    with stack_patches(answered):
        for n in range(3):
            put(clients, table, {"pk": {"S": "k"}, "v": {"N": str(n)}})
            answer = call(clients[FAST], "update_item", TableName=table, Key={"pk": {"S": "k"}},
                          UpdateExpression="SET w = :w", ConditionExpression="v = :v", ReturnValues="ALL_NEW",
                          ExpressionAttributeValues={":w": {"N": str(n)}, ":v": {"N": str(n)}})
            assert answer["Attributes"]["w"] == {"N": str(n)}
        assert list(dynamodb_update._plans) == ["SET w = :w"] and list(dynamodb_update._conditions) == ["v = :v"]
    assert answered == [True] * 3


def test_threads_share_the_caches(clients: dict[str, Any]) -> None:
    """Threads updating their own items with the same expressions (the caches filled while they race)."""
    from concurrent.futures import ThreadPoolExecutor

    table = create_table(clients, "pk")
    client = clients[FAST]

    def run(n: int) -> dict[str, Any]:
        key = {"pk": {"S": f"thread{n}"}}
        for i in range(20):
            client.update_item(TableName=table, Key=key, UpdateExpression="SET #v = :v, firstAt = if_not_exists("
                               "firstAt, :v) ADD hits :one", ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                               ExpressionAttributeNames={"#v": "version"}, ReturnValues="ALL_NEW",
                               ExpressionAttributeValues={":v": {"N": str(i)}, ":one": {"N": "1"}})
        return client.get_item(TableName=table, Key=key)["Item"]  # type: ignore[no-any-return]

    answered: list[bool] = []
    with stack_patches(answered), ThreadPoolExecutor(8) as pool:
        items = list(pool.map(run, range(8)))
    assert all(answered) and len(answered) == 160
    assert all(item == {"pk": item["pk"], "version": {"N": "19"}, "firstAt": {"N": "0"}, "hits": {"N": "20"}}
               for item in items)
