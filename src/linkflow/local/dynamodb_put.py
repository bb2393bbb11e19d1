"""PutItem without moto's repeated work, for the plain whole-item writes linkflow's stores send.

moto 5.2.5 answers a PutItem by parsing its ``ConditionExpression`` twice (in the response handler,
then in ``Table.put_item``), by recomputing ``Table.attribute_keys`` (a copy of the key names plus
every index's) for each attribute of the item (``validate_put_has_empty_attrs``), by building the
stored ``Item`` through ``LimitedSizeDict``, whose every set sums the sizes of all attributes
already set, and by turning the new item into JSON it then throws away. For a plain PutItem,
``put_item`` here does what those passes come to, once:

- the condition parsed once per string by moto's own parser, placeholders left as markers, filled
  in at each call and judged by moto's own condition objects (``dynamodb_update``'s cache, shared);
- every check whose failure makes moto answer an error is made before anything changes: the item's
  values are single-typed AttributeValues with no empty set anywhere (so moto's empty-set check
  cannot fail), the table's key attributes are there with the declared types, every index key
  attribute the item holds has its declared type and is not an empty string or binary, moto's own
  ``_validate_item_types`` and ``_validate_key_sizes`` pass, the item fits moto's 405,000-byte limit,
  every ``#name`` given is used by the condition, the ``:values`` are not empty and well formed,
  ``ReturnValues`` is ``NONE`` or ``ALL_OLD``. A request that fails any of them, or that carries
  anything else (``Expected``, ``ReturnConsumedCapacity``, a table named by ARN, binary values
  inside lists or maps, an empty condition string ...), or any exception while preparing, goes to
  moto's own ``put_item`` from the start, so its errors are moto's;
- the condition fails as in moto (``ConditionalCheckFailed``, with the stored item for
  ``ReturnValuesOnConditionCheckFailure=ALL_OLD``); otherwise the ``Item`` moto would build (the
  same ``DynamoType``\\ s, in the item's order) is stored where ``Table.put_item`` stores it, the
  table's stream (if any) told as moto tells it, and the answer is moto's: the old item's
  attributes for ``ReturnValues=ALL_OLD`` when there was one, nothing else.

Like moto's own code, nothing here locks the table: the stack's WSGI layer (``aws_server``)
serializes DynamoDB writes. The condition cache is filled under ``dynamodb_update``'s lock.

Measured (2-core machine, one thread, ``time.process_time``, boto3 on an in-process moto with
``dynamodb_json`` and ``dynamodb_speed`` installed; moto's own ``put_item`` for "before"; 2,000 puts
of new items, two runs each): the sign-up's profile create (8 attributes, a list of strings, two
index keys, ``attribute_not_exists(userId)``, ``ALL_OLD`` on failure) 0.36 ms of CPU in
``DynamoHandler.put_item`` per call before, 0.11 ms after (the whole boto3 call, client included,
1.65 -> 1.35-1.45 ms); the same put without a condition, 0.16-0.18 -> 0.09 ms. What is left is
mostly moto's: ``DynamoType`` of each value and its ``size()`` (the stored item must be moto's),
``_validate_item_types``, the condition object built for each call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linkflow.local import dynamodb_update

SIZE_LIMIT = dynamodb_update.SIZE_LIMIT  # moto's LimitedSizeDict
_RETURN_VALUES = frozenset({"NONE", "ALL_OLD"})
_ON_FAILURE = frozenset({None, "NONE", "ALL_OLD"})
_REQUEST_MEMBERS = frozenset({
    "TableName", "Item", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues",
    "ReturnValues", "ReturnValuesOnConditionCheckFailure",
})
_BINARY = frozenset({"B", "BS"})

_moto: dict[str, Any] = {}  # moto's own put_item and the classes used here, by name


class _Unplain(Exception):
    """The request is not one this module answers: moto's own ``put_item`` answers it."""


def _classes() -> dict[str, Any]:
    if "Item" not in _moto:
        from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

        update = dynamodb_update._classes()
        shared = ("DynamoType", "bytesize", "ConditionalCheckFailed", "DynamoResult")
        _moto.update({name: update[name] for name in shared})
        _moto.update(Item=Item, LimitedSizeDict=LimitedSizeDict)
    return _moto


def _no_nested_binary(value: dict[str, Any]) -> bool:
    """No binary value inside a list or a map (moto's ``to_json`` of those decodes them again)."""
    ((kind, inner),) = value.items()
    if kind == "L":
        return all(next(iter(v)) not in _BINARY and _no_nested_binary(v) for v in inner)
    if kind == "M":
        return all(next(iter(v)) not in _BINARY and _no_nested_binary(v) for v in inner.values())
    return True


def _values(body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The request's names and values, if moto's handler would take them without an error."""
    names = body.get("ExpressionAttributeNames", {})
    values = body.get("ExpressionAttributeValues")
    if type(names) is not dict or not all(type(n) is str and type(v) is str for n, v in names.items()):
        raise _Unplain
    if values is None:
        return names, {}
    if type(values) is not dict or not values:
        raise _Unplain  # moto: ExpressionAttributeValuesEmpty
    for placeholder, value in values.items():
        if type(placeholder) is not str or not placeholder.startswith(":"):
            raise _Unplain
        if not dynamodb_update._plain_value(value):
            raise _Unplain  # an empty set among them: moto's error
    return names, values


def _check_keys(table: Any, item: dict[str, Any]) -> None:
    """The table's keys there, and every key attribute (the table's, its indexes') of its declared type, not empty."""
    if table.hash_key_attr not in item or (table.range_key_attr is not None and table.range_key_attr not in item):
        raise _Unplain  # moto: Missing the key
    declared = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    for name in table.attribute_keys:
        value = item.get(name)
        if value is None:
            continue
        ((kind, inner),) = value.items()
        if declared.get(name) != kind or (kind in ("S", "B") and not inner):
            raise _Unplain  # moto: InvalidAttributeTypeError, empty key, a NULL index key; or moto stores it


@dataclass
class _Put:
    table: Any
    item: Any  # the Item to store
    current: Any  # the stored item, None if there is none
    holds: bool  # whether the condition holds


def _new_item(table: Any, item: dict[str, Any]) -> Any:
    """The ``Item`` moto's ``Table.put_item`` builds, without ``LimitedSizeDict``'s size walk at each
    set (the whole item's size, checked here, bounds every one of them)."""
    m = _moto
    dynamo_type, bytesize = m["DynamoType"], m["bytesize"]
    attrs: dict[str, Any] = {name: dynamo_type(value) for name, value in item.items()}
    if sum(bytesize(name) + value.size() for name, value in attrs.items()) > SIZE_LIMIT:
        raise _Unplain  # moto: ItemSizeTooLarge
    new = m["Item"].__new__(m["Item"])
    new.hash_key = dynamo_type(item[table.hash_key_attr])
    new.range_key = None if table.range_key_attr is None else dynamo_type(item[table.range_key_attr])
    limited = m["LimitedSizeDict"].__new__(m["LimitedSizeDict"])
    dict.__init__(limited)
    dict.update(limited, attrs)
    new.attrs = limited
    return new


def _prepare(body: dict[str, Any], backend: Any) -> _Put:
    if not _REQUEST_MEMBERS.issuperset(body) or body.get("ReturnValues", "NONE") not in _RETURN_VALUES:
        raise _Unplain
    if body.get("ReturnValuesOnConditionCheckFailure") not in _ON_FAILURE:
        raise _Unplain
    table, item = backend.tables.get(body["TableName"]), body["Item"]
    if table is None or type(item) is not dict:
        raise _Unplain
    if not all(type(name) is str and dynamodb_update._plain_value(value) and _no_nested_binary(value)
               for name, value in item.items()):
        raise _Unplain
    _check_keys(table, item)
    table._validate_item_types(item)  # moto's errors: handed to moto, which raises them
    table._validate_key_sizes(item)
    names, values = _values(body)
    expression = body.get("ConditionExpression")
    if expression is None:
        op, condition = None, None
    elif type(expression) is not str or not expression:
        raise _Unplain
    else:
        op, condition = dynamodb_update._condition_op(expression, names, values)
    if not (condition.names if condition else frozenset()).issuperset(names):
        raise _Unplain  # moto: Value provided in ExpressionAttributeNames unused in expressions
    new = _new_item(table, item)
    current = table.get_item(new.hash_key, new.range_key)
    return _Put(table, new, current, op is None or bool(op.expr(current)))


def _fast(handler: Any) -> Any:
    """moto's answer to a plain put (see the module's docstring), or None: moto must answer."""
    body = handler.body
    try:
        put = _prepare(body, handler.dynamodb_backend)
    except (_Unplain, dynamodb_update._Unplain):
        return None
    except Exception:  # noqa: BLE001 - nothing has changed: moto's own put_item raises its error
        return None
    current = put.current
    if not put.holds:
        if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
            raise _moto["ConditionalCheckFailed"](item=current.to_json()["Attributes"])
        raise _moto["ConditionalCheckFailed"]
    table, item = put.table, put.item
    answer = {}
    if body.get("ReturnValues", "NONE") == "ALL_OLD" and current is not None:
        old = current.to_json()["Attributes"]
        if old:
            answer["Attributes"] = old
    if item.range_key is not None:
        table.items[item.hash_key][item.range_key] = item
    else:
        table.items[item.hash_key] = item
    if table.stream_shard is not None:
        table.stream_shard.add(current, item)
    return _moto["DynamoResult"](answer)


def put_item(self: Any) -> Any:
    """moto's ``DynamoHandler.put_item``: a plain put answered here, any other by moto."""
    _classes()
    answer = _fast(self)
    return _moto["put_item"](self) if answer is None else answer


def patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement); moto's own function kept for the replacement."""
    from moto.dynamodb.responses import DynamoHandler

    _classes()
    if "put_item" not in _moto:
        _moto["put_item"] = DynamoHandler.put_item
    return [(DynamoHandler, "put_item", put_item)]
