"""The local stack's DynamoDB speed patches keep moto's answers: every UpdateItem and index Query
here runs twice, on moto as it is (us-east-1) and with ``dynamodb_speed``'s patches (eu-west-1),
and the two answers (items, counts, pages, errors and their messages) must be the same."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from dynamodb_twins import FAST, MOTO, moto_as_is, moto_functions, speed_patches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

from linkflow.local import dynamodb_json, dynamodb_speed


def moto_all_items() -> Any:
    listing = Table.all_items
    return listing if dynamodb_speed._is_moto_all_items(listing) else dynamodb_json._moto_all_items


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {region: boto3.client("dynamodb", region_name=region) for region in (MOTO, FAST)}


@pytest.fixture(params=["moto listing", "sorted listing"])
def listing(request: pytest.FixtureRequest) -> Iterator[str]:
    """Table.all_items as moto writes it, or as dynamodb_json sorts it (the local stack's)."""
    with pytest.MonkeyPatch.context() as patch:
        sorted_listing = request.param == "sorted listing"
        patch.setattr(Table, "all_items", dynamodb_json.all_items if sorted_listing else moto_all_items())
        yield request.param


def call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        return {"Error": error.response["Error"]["Code"], "Message": error.response["Error"]["Message"]}
    except Exception as error:  # moto's own bugs (a KeyError for an undefined #name) must stay the same
        return {"Error": type(error).__name__, "Message": str(error)}
    answer.pop("ResponseMetadata", None)
    return answer


def twin(clients: dict[str, Any], operation: str, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer of moto as it is and of the patched moto."""
    with moto_as_is():
        original = call(clients[MOTO], operation, **params)
    with speed_patches():
        patched = call(clients[FAST], operation, **params)
    return original, patched


def same(clients: dict[str, Any], operation: str, **params: Any) -> dict[str, Any]:
    original, patched = twin(clients, operation, **params)
    assert patched == original
    return original


def create_table(clients: dict[str, Any], keys: dict[str, str], indexes: dict[str, dict[str, str]]) -> str:
    """A table in both regions: ``keys`` and each index map HASH/RANGE to an attribute (all strings but ``n*``)."""
    name = f"t{uuid.uuid4().hex[:8]}"
    attributes = {a for schema in [keys, *indexes.values()] for a in schema.values()}
    params: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "N" if a.startswith("n") else "S"}
                                 for a in sorted(attributes)],
        "KeySchema": [{"AttributeName": a, "KeyType": k} for k, a in keys.items()],
    }
    if indexes:
        params["GlobalSecondaryIndexes"] = [
            {"IndexName": index, "KeySchema": [{"AttributeName": a, "KeyType": k} for k, a in schema.items()],
             "Projection": {"ProjectionType": "ALL"}}
            for index, schema in indexes.items()
        ]
    for client in clients.values():
        client.create_table(**params)
    return name


def put(clients: dict[str, Any], table: str, items: list[dict[str, Any]]) -> None:
    for item in items:
        for client in clients.values():
            client.put_item(TableName=table, Item=item)


def stored(clients: dict[str, Any], table: str, key: dict[str, Any]) -> tuple[Any, Any]:
    return tuple(clients[r].get_item(TableName=table, Key=key).get("Item") for r in (MOTO, FAST))  # type: ignore[return-value]


# UpdateItem

ITEM = {
    "pk": {"S": "u1"},
    "tier": {"S": "free"},
    "seats": {"N": "3"},
    "tags": {"SS": ["a", "b"]},
    "history": {"L": [{"S": "h1"}, {"S": "h2"}, {"S": "h3"}]},
    "meta": {"M": {"origin": {"S": "web"}, "nested": {"M": {"lvl": {"N": "1"}}}}},
    "stale": {"S": "x"},
}

UPDATES: list[dict[str, Any]] = [
    {"UpdateExpression": "SET tier = :p, seats = seats + :one REMOVE stale",
     "ExpressionAttributeValues": {":p": {"S": "pro"}, ":one": {"N": "1"}}},
    {"UpdateExpression": "ADD seats :one, tags :t",
     "ExpressionAttributeValues": {":one": {"N": "2"}, ":t": {"SS": ["c"]}}},
    {"UpdateExpression": "DELETE tags :gone", "ExpressionAttributeValues": {":gone": {"SS": ["a"]}}},
    {"UpdateExpression": "ADD seats :one, tags :t DELETE tags :gone",
     "ExpressionAttributeValues": {":one": {"N": "2"}, ":t": {"SS": ["c"]}, ":gone": {"SS": ["a"]}}},
    {"UpdateExpression": "SET history = list_append(history, :more), #m.nested.lvl = :d REMOVE history[0]",
     "ExpressionAttributeNames": {"#m": "meta"},
     "ExpressionAttributeValues": {":more": {"L": [{"S": "h4"}]}, ":d": {"N": "2"}}},
    {"UpdateExpression": "SET started = if_not_exists(started, :now), tier = if_not_exists(tier, :p)",
     "ExpressionAttributeValues": {":now": {"S": "2026-01-01"}, ":p": {"S": "pro"}}},
    {"UpdateExpression": "SET meta.origin = :s, history[1] = :h REMOVE meta.nested.lvl, history[2]",
     "ExpressionAttributeValues": {":s": {"S": "api"}, ":h": {"S": "H"}}},
    {"UpdateExpression": "SET tier = :p", "ConditionExpression": "tier = :free",
     "ExpressionAttributeValues": {":p": {"S": "pro"}, ":free": {"S": "free"}}},
    {"UpdateExpression": "SET tier = :p", "ConditionExpression": "tier = :team",
     "ExpressionAttributeValues": {":p": {"S": "pro"}, ":team": {"S": "team"}},
     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
    {"UpdateExpression": "SET tier = :undefined, seats = :p", "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET #undefined = :p", "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET meta.#undefined = :p", "ExpressionAttributeNames": {"#m": "meta"},
     "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET tier = :p, tier = :p", "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET seats = seats + :s", "ExpressionAttributeValues": {":s": {"S": "one"}}},
    {"UpdateExpression": "SET pk = :p", "ExpressionAttributeValues": {":p": {"S": "other"}}},
    {"UpdateExpression": "SET tier = :p,, seats = :p", "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET nowhere.child = :p", "ExpressionAttributeValues": {":p": {"S": "pro"}}},
    {"UpdateExpression": "SET history = list_append(absent, :more)",
     "ExpressionAttributeValues": {":more": {"L": [{"S": "h4"}]}}},
]


@pytest.mark.parametrize("update", UPDATES, ids=[u["UpdateExpression"] for u in UPDATES])
def test_update_item_answers_as_moto_does(clients: dict[str, Any], update: dict[str, Any]) -> None:
    table = create_table(clients, {"HASH": "pk"}, {})
    put(clients, table, [ITEM])
    same(clients, "update_item", TableName=table, Key={"pk": {"S": "u1"}}, ReturnValues="ALL_NEW", **update)
    original, patched = stored(clients, table, {"pk": {"S": "u1"}})
    assert patched == original


def test_update_errors_are_moto_s(clients: dict[str, Any]) -> None:
    """The failures above fail as moto fails, and the valid ones do not fail: the twins are not both errors."""
    table = create_table(clients, {"HASH": "pk"}, {})
    put(clients, table, [ITEM])
    errors = {}
    for update in UPDATES:
        answer = same(clients, "update_item", TableName=table, Key={"pk": {"S": "u1"}}, **update)
        errors[update["UpdateExpression"]] = answer.get("Message")
    assert errors["SET tier = :undefined, seats = :p"] == (
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
        "attribute value: :undefined")
    assert errors["SET tier = :p, tier = :p"] == (
        "1 validation error detected: Invalid UpdateExpression: Two document paths overlap with each other; "
        "must remove or rewrite one of these paths; path one: [tier], path two: [tier]")
    assert errors["SET seats = seats + :s"] == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, "
        "operand type: N")
    assert errors["SET pk = :p"] is not None and errors["SET tier = :p,, seats = :p"] is not None
    assert errors["SET tier = :p"] == "The conditional request failed"
    succeeded = [e for e, message in errors.items() if message is None]
    assert len(succeeded) == 6, errors


def test_update_creates_the_item_as_moto_does(clients: dict[str, Any]) -> None:
    table = create_table(clients, {"HASH": "pk", "RANGE": "sk"}, {})
    key = {"pk": {"S": "new"}, "sk": {"S": "1"}}
    same(clients, "update_item", TableName=table, Key=key, ReturnValues="ALL_NEW",
         UpdateExpression="SET tier = if_not_exists(tier, :p), seats = :n ADD visits :one",
         ExpressionAttributeValues={":p": {"S": "free"}, ":n": {"N": "1"}, ":one": {"N": "1"}})
    original, patched = stored(clients, table, key)
    assert patched == original == {**key, "tier": {"S": "free"}, "seats": {"N": "1"}, "visits": {"N": "1"}}
    key = {"pk": {"S": "newer"}, "sk": {"S": "2"}}  # validated on an empty item, then on the created one
    same(clients, "update_item", TableName=table, Key=key, ReturnValues="ALL_NEW",
         UpdateExpression="SET copied = if_not_exists(pk, :v)", ExpressionAttributeValues={":v": {"S": "none"}})
    original, patched = stored(clients, table, key)
    assert patched == original


def test_one_expression_used_twice_gives_independent_trees(clients: dict[str, Any]) -> None:
    """The cached parse is copied for each call: the second item is updated from its own values."""
    table = create_table(clients, {"HASH": "pk"}, {})
    put(clients, table, [{"pk": {"S": "a"}, "l": {"L": [{"N": "1"}]}, "n": {"N": "1"}},
                         {"pk": {"S": "b"}, "l": {"L": [{"N": "9"}]}, "n": {"N": "10"}}])
    update = {"UpdateExpression": "SET l = list_append(l, :x), c = if_not_exists(c, :x), n = n + :one REMOVE gone",
              "ExpressionAttributeValues": {":x": {"L": [{"N": "2"}]}, ":one": {"N": "1"}}}
    with speed_patches():
        for pk in ("a", "b", "a"):
            call(clients[FAST], "update_item", TableName=table, Key={"pk": {"S": pk}}, **update)
        assert len(dynamodb_speed._parsed) == 1
    with moto_as_is():
        for pk in ("a", "b", "a"):
            call(clients[MOTO], "update_item", TableName=table, Key={"pk": {"S": pk}}, **update)
    expected = {"a": ([1, 2, 2], 3), "b": ([9, 2], 11)}
    for pk, (listed, n) in expected.items():
        original, patched = stored(clients, table, {"pk": {"S": pk}})
        assert patched == original
        assert patched["l"] == {"L": [{"N": str(v)} for v in listed]} and patched["n"] == {"N": str(n)}


def test_the_parse_cache_hands_out_its_tree_and_updates_leave_it_as_parsed(clients: dict[str, Any]) -> None:
    expression = "SET a = list_append(a, :x), b = if_not_exists(b, :y) REMOVE c[1]"
    fresh = shape(UpdateExpressionParser.make(expression))
    table = create_table(clients, {"HASH": "pk"}, {})
    put(clients, table, [{"pk": {"S": "k"}, "a": {"L": []}, "c": {"L": [{"N": "1"}, {"N": "2"}]}}])
    with speed_patches():
        trees = [UpdateExpressionParser.make(expression) for _ in range(3)]
        cached = dynamodb_speed._parsed[expression]
        for pk in ("k", "new"):  # an existing item, and one the update creates (validated twice)
            call(clients[FAST], "update_item", TableName=table, Key={"pk": {"S": pk}}, UpdateExpression=expression,
                 ExpressionAttributeValues={":x": {"L": [{"S": "v"}]}, ":y": {"N": "3"}})
    assert len({id(t) for t in [*trees, cached]}) == 1
    assert shape(cached) == fresh  # the validator rewrote its copies, never the cached tree


def test_the_validator_validates_a_copy(clients: dict[str, Any]) -> None:
    """moto validates (and rewrites) a copy: the tree update_item validates twice for a new item stays as parsed."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    name = create_table(clients, {"HASH": "pk"}, {})
    table = next(t for t in _tables(FAST) if t.name == name)
    tree = UpdateExpressionParser.make("SET a = if_not_exists(a, :v), b = list_append(:l, :l)")
    parsed = shape(tree)
    with speed_patches():
        validated = UpdateExpressionValidator(
            tree, expression_attribute_names={}, item=Item(DynamoType({"S": "k"}), None, {}), table=table,
            expression_attribute_values={":v": {"S": "x"}, ":l": {"L": [{"S": "y"}]}}).validate()
    assert shape(tree) == parsed
    assert "DDBTypedValue" in repr(shape(validated)) and "DDBTypedValue" not in repr(parsed)


def test_a_bad_expression_raises_every_time_and_is_not_cached() -> None:
    with speed_patches():
        for _ in range(2):
            with pytest.raises(Exception) as raised:
                UpdateExpressionParser.make("SET a = :b,,")
            assert type(raised.value).__name__ == "InvalidTokenException"
        assert dynamodb_speed._parsed == {}


def shape(node: Any, parent: Any = None) -> Any:
    """A tree's classes, types and leaves, checking each parent link points at the node above."""
    assert node.parent is parent
    assert sorted(vars(node)) == ["children", "parent", "type"]
    return (type(node), node.type, [shape(c, node) if hasattr(c, "parent") else c for c in node.children or []])


@pytest.mark.parametrize("expression", [u["UpdateExpression"] for u in UPDATES[:6]])
def test_copy_tree_is_deepcopy(expression: str) -> None:
    tree = UpdateExpressionParser.make(expression)
    copied, expected = dynamodb_speed.copy_tree(tree), copy.deepcopy(tree)
    assert shape(copied) == shape(expected) == shape(tree)
    originals = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        originals.update({id(node)} | ({id(node.children)} if node.children is not None else set()))
        stack.extend(c for c in node.children or [] if hasattr(c, "parent"))
    stack = [copied]
    while stack:
        node = stack.pop()
        assert id(node) not in originals and (node.children is None or id(node.children) not in originals)
        stack.extend(c for c in node.children or [] if hasattr(c, "parent"))


def test_copy_tree_falls_back_to_deepcopy_for_other_state() -> None:
    tree = UpdateExpressionParser.make("SET a = :b")
    tree.children[0].extra = ["x"]
    copied = dynamodb_speed.copy_tree(tree)
    assert copied.children[0].extra == ["x"] and copied.children[0].extra is not tree.children[0].extra


NAMES = ["a", "b", "l", "m", "s"]
VALUES = {
    ":n": {"N": "2"}, ":s": {"S": "v"}, ":l": {"L": [{"S": "x"}]}, ":ss": {"SS": ["x", "y"]},
    ":m": {"M": {"k": {"N": "1"}}},
}
ACTIONS = {
    "SET": ["{p} = :n", "{p} = :s", "{p} = {p} + :n", "{p} = list_append({p}, :l)", "{p} = if_not_exists({p}, :s)",
            "{p}.k = :n", "{p}[0] = :s", "{p} = :m", "{p} = #nope"],
    "REMOVE": ["{p}", "{p}[0]", "{p}.k"],
    "ADD": ["{p} :n", "{p} :ss"],
    "DELETE": ["{p} :ss"],
}
ATTRIBUTE = st.sampled_from(list(VALUES.values()))


@st.composite
def updates(draw: st.DrawFn) -> str:
    clauses = []
    for clause in draw(st.lists(st.sampled_from(list(ACTIONS)), min_size=1, max_size=3, unique=True)):
        actions = draw(st.lists(st.tuples(st.sampled_from(ACTIONS[clause]), st.sampled_from(NAMES)),
                                min_size=1, max_size=3))
        clauses.append(f"{clause} " + ", ".join(a.format(p=p) for a, p in actions))
    return " ".join(clauses)


@pytest.fixture(scope="module")
def random_table(clients: dict[str, Any]) -> str:
    return create_table(clients, {"HASH": "pk"}, {})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=updates(), item=st.dictionaries(st.sampled_from(NAMES), ATTRIBUTE), exists=st.booleans())
def test_random_updates_answer_as_moto_does(clients: dict[str, Any], random_table: str, expression: str,
                                            item: dict[str, Any], exists: bool) -> None:
    key = {"pk": {"S": uuid.uuid4().hex}}
    if exists:
        put(clients, random_table, [{**key, **item}])
    used = {k: v for k, v in VALUES.items() if k in expression}
    params: dict[str, Any] = {"TableName": random_table, "Key": key, "UpdateExpression": expression,
                              "ReturnValues": "ALL_NEW"}
    if used:
        params["ExpressionAttributeValues"] = used
    same(clients, "update_item", **params)
    original, patched = stored(clients, random_table, key)
    assert patched == original


# Query on an index

def profile(n: int, customer: str | None, **more: Any) -> dict[str, Any]:
    item = {"pk": {"S": f"p{n:03d}"}, "n": {"N": str(n % 7)}, **more}
    if customer is not None:
        item["cus"] = {"S": customer}
    return item


@pytest.fixture
def profiles(clients: dict[str, Any], listing: str) -> str:
    """Profiles keyed by pk with a hash-only index on cus: some without cus, several sharing one."""
    table = create_table(clients, {"HASH": "pk"}, {"byCustomer": {"HASH": "cus"}})
    customers = ["cus_a", "cus_b", None, "cus_a", "cus_c", "cus_a", None, "cus_b", "cus_a", "cus_a"] * 3
    items = [profile(n, c) for n, c in enumerate(customers)]
    random.Random(7).shuffle(items)  # stored in neither key order nor its reverse
    put(clients, table, items)
    return table


def query(clients: dict[str, Any], table: str, index: str, **params: Any) -> dict[str, Any]:
    return same(clients, "query", TableName=table, IndexName=index, **params)


def by_customer(customer: str) -> dict[str, Any]:
    return {"KeyConditionExpression": "cus = :c", "ExpressionAttributeValues": {":c": {"S": customer}}}


def test_index_query_finds_the_matches_in_moto_s_order(clients: dict[str, Any], profiles: str) -> None:
    answer = query(clients, profiles, "byCustomer", **by_customer("cus_a"))
    assert answer["Count"] == answer["ScannedCount"] == 15
    assert [i["pk"]["S"] for i in answer["Items"]] == sorted(i["pk"]["S"] for i in answer["Items"])
    assert query(clients, profiles, "byCustomer", **by_customer("cus_c"))["Count"] == 3
    assert query(clients, profiles, "byCustomer", **by_customer("cus_zzz"))["Items"] == []
    assert query(clients, profiles, "byCustomer", ScanIndexForward=False, **by_customer("cus_a"))["Count"] == 15


def test_index_query_reads_only_the_candidates_in_the_listing_s_order(clients: dict[str, Any], profiles: str) -> None:
    listed: list[list[str]] = []
    dynamodb_speed.patches()
    moto_query = dynamodb_speed._moto["query"]

    def recording(table: Any, *args: Any, **kwargs: Any) -> Any:
        listed.append([i.attrs["pk"].value for i in table.all_items()])
        return moto_query(table, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(dynamodb_speed._moto, "query", recording)
        with speed_patches():
            answer = call(clients[FAST], "query", TableName=profiles, IndexName="byCustomer", **by_customer("cus_b"))
    backend_table = next(t for t in _tables(FAST) if t.name == profiles)
    everything = [i.attrs["pk"].value for i in backend_table.all_items() if i.attrs.get("cus") is not None
                  and i.attrs["cus"].value == "cus_b"]
    assert listed == [everything] and len(everything) == 6
    assert [i["pk"]["S"] for i in answer["Items"]] == everything


def _tables(region: str) -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return list(dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables.values())


def test_index_query_pages_as_moto_does(clients: dict[str, Any], profiles: str) -> None:
    for forward in (True, False):
        start: dict[str, Any] | None = None
        pages = []
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = query(clients, profiles, "byCustomer", Limit=4, ScanIndexForward=forward,
                         **by_customer("cus_a"), **extra)
            pages.append([i["pk"]["S"] for i in page["Items"]])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        assert sum(len(p) for p in pages) == 15 and len(pages) == 4


def test_index_query_filters_counts_and_projects_as_moto_does(clients: dict[str, Any], profiles: str) -> None:
    filtered = query(clients, profiles, "byCustomer", FilterExpression="n > :two",
                     KeyConditionExpression="cus = :c",
                     ExpressionAttributeValues={":c": {"S": "cus_a"}, ":two": {"N": "2"}})
    assert 0 < filtered["Count"] < filtered["ScannedCount"] == 15
    assert query(clients, profiles, "byCustomer", Select="COUNT", **by_customer("cus_b"))["Count"] == 6
    projected = query(clients, profiles, "byCustomer", ProjectionExpression="pk", **by_customer("cus_c"))
    assert all(set(i) == {"pk"} for i in projected["Items"])
    assert "Invalid index" in query(clients, profiles, "nope", **by_customer("cus_a"))["Message"]


def test_index_query_on_a_range_index_as_moto_does(clients: dict[str, Any], listing: str) -> None:
    table = create_table(clients, {"HASH": "pk", "RANGE": "sk"}, {"byCustomerDay": {"HASH": "cus", "RANGE": "day"}})
    items = [{"pk": {"S": f"p{n % 4}"}, "sk": {"S": f"s{n}"}, "cus": {"S": f"cus_{n % 3}"}, "day": {"S": f"d{n % 5}"}}
             for n in range(40)]
    items += [{"pk": {"S": "nod"}, "sk": {"S": "x"}, "cus": {"S": "cus_1"}}, {"pk": {"S": "noc"}, "sk": {"S": "y"}}]
    put(clients, table, items[::-1])
    for condition in ("cus = :c", "cus = :c AND #d > :d", "cus = :c AND begins_with(#d, :p)",
                      "cus = :c AND #d BETWEEN :d AND :e"):
        values = {":c": {"S": "cus_1"}, ":d": {"S": "d1"}, ":e": {"S": "d3"}, ":p": {"S": "d2"}}
        used = {k: v for k, v in values.items() if k in condition}
        names = {"ExpressionAttributeNames": {"#d": "day"}} if "#d" in condition else {}
        for forward in (True, False):
            answer = query(clients, table, "byCustomerDay", KeyConditionExpression=condition,
                           ExpressionAttributeValues=used, ScanIndexForward=forward, **names)
            assert answer["Count"] > 0
            paged = query(clients, table, "byCustomerDay", KeyConditionExpression=condition, Limit=3,
                          ExpressionAttributeValues=used, ScanIndexForward=forward, **names)
            assert paged["Items"] == answer["Items"][:3] and "LastEvaluatedKey" in paged


def test_index_query_on_a_number_hash_as_moto_does(clients: dict[str, Any], listing: str) -> None:
    table = create_table(clients, {"HASH": "pk"}, {"byNumber": {"HASH": "nv"}})
    put(clients, table, [{"pk": {"S": f"p{n}"}, "nv": {"N": ["1", "1.0", "2", "01"][n % 4]}} for n in range(12)])
    answer = query(clients, table, "byNumber", KeyConditionExpression="nv = :v",
                   ExpressionAttributeValues={":v": {"N": "1"}})
    assert answer["Count"] == 9


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(st.sampled_from(["cus_a", "cus_b", None]), min_size=0, max_size=25),
       customer=st.sampled_from(["cus_a", "cus_b"]), limit=st.integers(min_value=1, max_value=30),
       forward=st.booleans(), sorted_listing=st.booleans())
def test_random_index_queries_answer_as_moto_does(clients: dict[str, Any], customers: list[str | None], customer: str,
                                                  limit: int, forward: bool, sorted_listing: bool) -> None:
    table = create_table(clients, {"HASH": "pk", "RANGE": "sk"}, {"byCustomer": {"HASH": "cus"}})
    put(clients, table, [{**profile(n, c), "sk": {"S": f"s{n % 3}"}} for n, c in enumerate(customers)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Table, "all_items", dynamodb_json.all_items if sorted_listing else moto_all_items())
        query(clients, table, "byCustomer", Limit=limit, ScanIndexForward=forward, **by_customer(customer))


def test_install_is_idempotent_and_tests_leave_moto_as_it_was() -> None:
    def current() -> list[Any]:
        return [owner.__dict__[name] for owner, name, _ in moto_functions()]

    before = current()
    with moto_as_is():
        own = current()
        dynamodb_speed.install()
        once = current()
        dynamodb_speed.install()
        assert current() == once
        assert Table.query is dynamodb_speed.query and Table.query is not own[2]
        assert UpdateExpressionParser.__dict__["make"].__func__ is dynamodb_speed.make
    assert current() == before
