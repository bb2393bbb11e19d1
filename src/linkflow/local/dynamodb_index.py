"""An index Query's candidates from a per-table map of hash values, kept until the table is written.

``dynamodb_speed.query`` runs moto's own ``Table.query`` on the items whose index hash attribute
may match; finding them still read every item of the table (``dynamodb_speed._candidates``): with
the sign-ups of a benchmark in the profiles table, ResolveCustomer's one Query by
``StripeCustomerIndex`` was ~7% of the stack's CPU per subscription event. Here the candidates of a
single-attribute string or binary hash condition come from a map (attribute, type) -> raw value ->
items, built by one pass over the table (each value's items sorted as the listing sorts them when
first asked for) and kept on the table object: a map costs what one scan did, so a table written
between every Query costs no more than before.

The map is valid while nothing wrote the table: every DynamoDB request that is not a read
(``READS``) moves the generation of each table it names (``TableName``, ``RequestItems``,
``TransactItems``; a request naming none, or naming a table by ARN, moves every table's) before and
after moto runs it, so a map built while a write was under way is older than the write's end and
is built again. ``Table.put_item`` / ``Table.delete_item`` / ``DynamoDBBackend.update_item`` move
their table's generation too (moto's own paths, and callers of the backend in-process). The maps are
used only while all four patches are in place (``tracking``). A map is built again at most once per
generation; any other condition (numbers, several attributes) is left to ``dynamodb_speed``'s scan.
"""

from __future__ import annotations

import threading
from typing import Any

# DynamoDB actions that change no item (everything else moves generations).
READS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
    "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource", "DescribeEndpoints",
    "DescribeLimits", "ListBackups", "DescribeBackup", "ListGlobalTables", "DescribeGlobalTable",
    "DescribeKinesisStreamingDestination", "DescribeTableReplicaAutoScaling", "ListExports",
    "DescribeExport", "ListImports", "DescribeImport", "GetResourcePolicy",
})

_lock = threading.Lock()
_everything = [0]  # moved when a write names no table we can tell
_tables: dict[str, int] = {}  # table name -> generation
_ATTRIBUTE = "_linkflow_hash_maps"


def generation(name: str) -> tuple[int, int]:
    with _lock:
        return _everything[0], _tables.get(name, 0)


def written(names: list[str] | None) -> None:
    """Move the generation of ``names`` (None: of every table)."""
    with _lock:
        if names is None:
            _everything[0] += 1
            return
        for name in names:
            _tables[name] = _tables.get(name, 0) + 1


def tables_named(params: Any) -> list[str] | None:
    """The table names a request's parameters name; None when it names none or one by ARN."""
    if not isinstance(params, dict):
        return None
    names: list[str] = []
    if isinstance(params.get("TableName"), str):
        names.append(params["TableName"])
    if isinstance(params.get("RequestItems"), dict):
        names.extend(str(k) for k in params["RequestItems"])
    for entry in params.get("TransactItems") or []:
        for operation in (entry.values() if isinstance(entry, dict) else ()):
            if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                names.append(operation["TableName"])
    if not names or any(":" in n for n in names):
        return None
    return names


def candidates(table: Any, name: str, kind: str, value: Any, listing_key: Any) -> list[Any]:
    """The items of ``table`` whose attribute ``name`` is of ``kind`` with raw ``value``, in the
    order ``listing_key`` sorts the table (stable, as the listing)."""
    from moto.dynamodb.models.dynamo_type import Item

    stamp = generation(table.name)
    maps = table.__dict__.get(_ATTRIBUTE)
    if maps is None or maps[0] != stamp or maps[1] is not listing_key:
        maps = (stamp, listing_key, {})
        table.__dict__[_ATTRIBUTE] = maps
    found = maps[2].get((name, kind))
    if found is None:  # one pass over the table, no sort: a bucket is sorted when it is first asked for
        found = {}
        for hash_set in list(table.items.values()):
            for item in list(hash_set.values()) if table.range_key_attr else (hash_set,):
                attribute = item.attrs.get(name) if isinstance(item, Item) else None
                if attribute is not None and attribute.type == kind:
                    found.setdefault(attribute.value, [False]).append(item)
        maps[2][(name, kind)] = found
    bucket = found.get(value)
    if bucket is None:
        return []
    if not bucket[0]:
        bucket[1:] = sorted(bucket[1:], key=listing_key)  # stable, as the listing's sort
        bucket[0] = True
    matches: list[Any] = bucket[1:]
    return matches


_moto: dict[str, Any] = {}  # moto's own functions, by patched name


def call_action(self: Any) -> Any:
    """moto's ``DynamoHandler.call_action``, moving the generations of the tables a write names."""
    if self._get_action() in READS:
        return _moto["call_action"](self)
    names = tables_named(getattr(self, "params", None))
    written(names)
    try:
        return _moto["call_action"](self)
    finally:
        written(names)


def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's ``Table.put_item``, moving the table's generation."""
    written([self.name])
    try:
        return _moto["put_item"](self, *args, **kwargs)
    finally:
        written([self.name])


def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's ``Table.delete_item``, moving the table's generation."""
    written([self.name])
    try:
        return _moto["delete_item"](self, *args, **kwargs)
    finally:
        written([self.name])


def backend_update_item(self: Any, table_name: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's ``DynamoDBBackend.update_item`` (it changes an item in place), moving the table's generation."""
    names = [table_name] if isinstance(table_name, str) and ":" not in table_name else None
    written(names)
    try:
        return _moto["backend_update_item"](self, table_name, *args, **kwargs)
    finally:
        written(names)


def patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for each patch (installed with ``dynamodb_speed``'s)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if "call_action" not in _moto:
        _moto.update(call_action=DynamoHandler.call_action, put_item=Table.put_item, delete_item=Table.delete_item,
                     backend_update_item=DynamoDBBackend.update_item)
    return [(DynamoHandler, "call_action", call_action), (Table, "put_item", put_item),
            (Table, "delete_item", delete_item), (DynamoDBBackend, "update_item", backend_update_item)]


def tracking() -> bool:
    """Whether every write path moves generations now (the maps are only used then)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    return (DynamoHandler.call_action is call_action and Table.put_item is put_item
            and Table.delete_item is delete_item and DynamoDBBackend.update_item is backend_update_item)


def install() -> None:
    """Install the four generation patches (once: a second call changes nothing)."""
    if tracking():
        return
    for owner, name, replacement in patches():
        setattr(owner, name, replacement)


def uninstall() -> None:
    """Put moto's functions back (for tests)."""
    if not _moto:
        return
    for (owner, name, _), original in zip(patches(), (_moto["call_action"], _moto["put_item"], _moto["delete_item"],
                                                       _moto["backend_update_item"]), strict=True):
        setattr(owner, name, original)
