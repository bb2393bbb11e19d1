"""DynamoDB's item answers written with ``json.dumps`` instead of moto's shape serializer.

moto 5.2.5 writes every answer through its generic serializer, which walks botocore's shape model
for each attribute value (``AttributeValue`` is a union: every member's possible keys are tried):
about 1-2 ms of the stack's one GIL per item returned. A 1 MB Scan page (some 2,500 items) took
2 s alone and more beside other calls, past the 2 s read timeout of every handler's AWS client
(``linkflow_shared.aws_clients``): the reconcile snapshot's parallel scans timed out from 2,000
users on. DynamoDB's JSON protocol is the items as they are (``{"S": ...}``, numbers as strings),
with binary values base64-encoded: for ``Scan``, ``Query``, ``GetItem``, ``BatchGetItem`` and
``TransactGetItems`` (GET /me's one read), and for the single-item writes ``PutItem``,
``UpdateItem`` and ``DeleteItem`` (their ``Attributes``, every handler's write), the answer is
that, written in one ``json.dumps`` (the same body, member order aside); every other operation,
and every error, keeps moto's serializer. The writes were about 10% of the stack's CPU during a
sign-up (moto's serializer walking the written item's attributes).

Each Scan page also sorts the whole table (``Table.all_items``) with ``DynamoType.__lt__``, which
recomputes both values' ``cast_value`` at every comparison: about 0.5 s for 10,000 items, every
page. The sort here keys each item once by the same values (one key type per key attribute, so the
order is moto's).
"""

from __future__ import annotations

import base64
import json
from typing import Any

FAST_OPERATIONS = frozenset({"Scan", "Query", "GetItem", "BatchGetItem", "TransactGetItems",
                             "PutItem", "UpdateItem", "DeleteItem"})
CONTENT_TYPE = "application/x-amz-json-1.0"


def _binary(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def body(result: dict[str, Any], members: Any = None) -> str:
    """The JSON body of an item answer: ``None`` members left out, and (given the output shape's
    ``members``) any the shape does not name, as the serializer does (moto's DeleteItem result
    carries a ``ConsumedCapacityUnits`` of its own)."""
    return json.dumps({k: v for k, v in result.items() if v is not None and (members is None or k in members)},
                      default=_binary)


_serialized: Any = None  # moto's DynamoResult.execute_result
_moto_all_items: Any = None  # moto's Table.all_items


def _key(item: Any) -> Any:
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return item.hash_key.cast_value


def all_items(self: Any) -> list[Any]:
    """moto's ``Table.all_items``: every item, in key order."""
    items: list[Any] = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    return sorted(items, key=_key)


def install() -> None:
    """Patch moto (once: a second call changes nothing)."""
    global _serialized, _moto_all_items
    from moto.dynamodb import responses
    from moto.dynamodb.models import table

    current = responses.DynamoResult.execute_result
    if getattr(current, "linkflow_json", False):
        return
    _serialized = current

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if context.operation_model.name not in FAST_OPERATIONS or not isinstance(result, dict):
            return _serialized(self, context)
        return 200, {"Content-Type": CONTENT_TYPE}, body(result, context.operation_model.output_shape.members)

    execute_result.linkflow_json = True  # type: ignore[attr-defined]
    responses.DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    _moto_all_items = table.Table.all_items
    table.Table.all_items = all_items  # type: ignore[method-assign]
