"""Two of moto's DynamoDB costs removed: the update expression's copies, the index query's table scan.

UpdateItem: moto 5.2.5 parses the ``UpdateExpression`` twice per call (once in the response
handler, once in ``DynamoDBBackend.update_item``), and ``Validator.__init__`` copies the parsed
tree with ``copy.deepcopy`` before validating it (the validators replace nodes in place). The
generic deepcopy walks every node's ``__dict__`` through ``__reduce_ex__`` and a memo: for our
entitlement write (SET/REMOVE of some 13 attributes) it cost about three times the parse. Here the
tree is copied by a function that knows a ``Node``'s state (``type``, ``children``, ``parent``):
the same classes, the same children (strings, ints, bools and ``None`` shared as deepcopy shares
them, anything else deep-copied), the parent links pointing into the copy. A node with any other
state, or a tree whose parent links leave it, is copied by ``deepcopy`` as before. The parse is
cached per expression string (a few hundred strings) and the cached tree itself handed out: moto's
callers of ``UpdateExpressionParser.make`` only read it (``find_clauses`` in the response handler)
or pass it to ``Validator``, which copies it before changing anything (a test checks the cached
tree is unchanged after updates that rewrite their copy); an expression that fails to parse is not
cached, so it raises the same error every time. Handing out copies cost a third of the remaining
UpdateItem time (two copies per call).

Since then, ``dynamodb_update`` (its patch is among ``patches()``) answers plain UpdateItems
itself, without the validator: the parse cache and the copy below now serve the updates it hands
back to moto (nested paths, ``list_append``, sets, ``Expected``, errors ...).

Query on an index: ``Table.query`` reads every item (``all_items``, which sorts the whole table)
and compares each one's index hash attribute with ``DynamoType.__ne__`` (a ``Decimal`` or string
cast on both sides). Here the items whose hash attributes can match are picked first by comparing
the raw values (type and value for strings and binaries, type alone otherwise), then sorted by the
key ``all_items`` sorts the whole table by (moto's or ``dynamodb_json``'s; a stable sort, so the
matches keep the table's order), and moto's own ``query`` runs on those candidates: its checks,
sort, pagination, counts, projection and filters are unchanged, so the answer is moto's. The
candidates reach moto through a view of the table (the table's attributes, its own ``all_items``),
never by changing the shared table, which other threads are reading. Any other listing (a patch
this module does not know) leaves the query to moto.

Measured (2-core machine, one thread, ``time.process_time``, boto3 on an in-process moto with
``dynamodb_json`` installed): UpdateItem with 13 SETs and 2 REMOVEs, 5.0 ms of CPU per call before,
4.0 ms after (of which the expression's two parses and one copy, 1.5 ms before, 0.55 ms after; the
copy alone of that 90-node tree, 0.49 ms by deepcopy, 0.10 ms here). Query by a hash-only GSI
(one match) on a table of 5,000 items, 8.6 ms before, 3.3 ms after (1.0 ms on a table of 100).
"""

from __future__ import annotations

import threading
from copy import deepcopy
from typing import Any

from linkflow.local import dynamodb_index, dynamodb_json, dynamodb_put, dynamodb_update

PARSE_CACHE_SIZE = 512
_SHARED = (str, int, bool, type(None))  # immutable: deepcopy hands back the same object

_parsed: dict[str, Any] = {}
_parsed_lock = threading.Lock()
_moto: dict[str, Any] = {}  # moto's own functions, by patched name


class _Unusual(Exception):
    """The tree holds something the structural copy does not know: copy it with deepcopy."""


def _copy_node(node: Any, container: Any, container_clone: Any, memo: dict[int, Any]) -> Any:
    """A clone of ``node`` (whose parent must be ``container``) and of its subtree."""
    state = node.__dict__
    if id(node) in memo or len(state) != 3 or state.get("parent", _Unusual) is not container:
        raise _Unusual  # shared within the tree, other state, or a parent link that leaves the tree
    cls: Any = type(node)
    clone = cls.__new__(cls)
    memo[id(node)] = clone
    children = state["children"]  # KeyError: other state
    if children is not None:
        if type(children) is not list or id(children) in memo:
            raise _Unusual
        copied: list[Any] = []
        memo[id(children)] = copied
        node_class = _moto["Node"]
        for child in children:
            if isinstance(child, node_class):
                copied.append(_copy_node(child, node, clone, memo))
            elif type(child) in _SHARED:
                copied.append(child)
            else:
                copied.append(deepcopy(child, memo))
        children = copied
    clone.__dict__ = {"type": state["type"], "children": children, "parent": container_clone}
    return clone


def copy_tree(tree: Any) -> Any:
    """``copy.deepcopy(tree)`` for an expression's syntax tree, without deepcopy's generic walk."""
    if "Node" not in _moto:
        from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

        _moto["Node"] = Node
    if not isinstance(tree, _moto["Node"]):
        return deepcopy(tree)
    try:
        return _copy_node(tree, None, None, {})
    except (_Unusual, KeyError):
        return deepcopy(tree)


def make(cls: Any, expression_str: Any) -> Any:
    """moto's ``UpdateExpressionParser.make``, each expression string parsed once; every caller
    gets the same tree, which none of moto 5.2.5's callers changes (the response handler only
    reads its clauses, ``update_item`` hands it to the validator, which copies it first)."""
    parse = _moto["make"].__func__
    if cls is not _moto["UpdateExpressionParser"] or type(expression_str) is not str:
        return parse(cls, expression_str)
    with _parsed_lock:
        tree = _parsed.get(expression_str)
    if tree is None:
        tree = parse(cls, expression_str)  # a bad expression raises here, every time
        with _parsed_lock:
            if len(_parsed) >= PARSE_CACHE_SIZE:
                del _parsed[next(iter(_parsed))]
            _parsed[expression_str] = tree
    return tree  # shared: read-only to every caller (see the module's docstring)


def validator_init(
    self: Any,
    expression: Any,
    expression_attribute_names: dict[str, str],
    expression_attribute_values: dict[str, dict[str, Any]],
    item: Any,
    table: Any,
) -> None:
    """moto's ``Validator.__init__`` with ``copy_tree`` for its ``deepcopy``."""
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    self.processors = self.get_ast_processors()
    self.node_to_validate = copy_tree(expression)


class _IndexCandidates:
    """A table as moto's ``query`` reads it, whose ``all_items`` are the given candidates."""

    def __init__(self, table: Any, candidates: list[Any]) -> None:
        self._table = table
        self._candidates = candidates

    def all_items(self) -> list[Any]:
        return self._candidates

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


_ANY_VALUE = object()


def _hash_checks(conditions: list[tuple[str, Any]]) -> list[tuple[str, str, Any]]:
    """(attribute, type, raw value) per condition; the value only for strings and binaries, whose
    equality is their raw values' (a number's is its ``Decimal``'s: those are left to moto)."""
    return [(name, expected.type, expected.value if expected.type in ("S", "B") else _ANY_VALUE)
            for name, expected in conditions]


def _moto_listing_key(item: Any) -> Any:
    """The sort key of moto's ``Table.all_items``."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _is_moto_all_items(listing: Any) -> bool:
    return getattr(listing, "__module__", None) == "moto.dynamodb.models.table" and getattr(
        listing, "__qualname__", None) == "Table.all_items"


def _candidates(table: Any, conditions: list[tuple[str, Any]]) -> list[Any] | None:
    """The items of ``table.all_items()`` whose hash attributes may match, in its order (None: unknown order)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    listing = Table.all_items
    if "all_items" in vars(table) or not (listing is dynamodb_json.all_items or _is_moto_all_items(listing)):
        return None
    checks = _hash_checks(conditions)
    key = dynamodb_json._key if listing is dynamodb_json.all_items else _moto_listing_key
    if len(checks) == 1 and checks[0][2] is not _ANY_VALUE and dynamodb_index.tracking():
        try:
            return dynamodb_index.candidates(table, *checks[0], key)
        except TypeError:  # a raw value that is no dict key: read the table
            pass
    found: list[Any] = []
    for hash_set in table.items.values():
        for item in hash_set.values() if table.range_key_attr else (hash_set,):
            if not isinstance(item, Item):
                continue
            attrs = item.attrs
            for name, kind, raw in checks:
                value = attrs.get(name)
                if value is None or value.type != kind or (raw is not _ANY_VALUE and value.value != raw):
                    break  # moto's ``value != expected`` is true
            else:
                found.append(item)
    # Both listings sort the whole table, stably: sorted by the same key, the matches keep its order.
    found.sort(key=key)
    return found


def query(
    self: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> Any:
    """moto's ``Table.query``; on an index, run on the items whose hash attributes may match."""
    table: Any = self
    if index_name and hash_key_conditions and index_name in {i.name for i in self.all_indexes()}:
        candidates = _candidates(self, hash_key_conditions)
        if candidates is not None:
            table = _IndexCandidates(self, candidates)
    return _moto["query"](
        table, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
        projection_expressions, index_name, consistent_read, filter_expression,
        hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions, **filter_kwargs,
    )


def patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for each patch; moto's own functions are kept for the replacements."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import Validator

    if "make" not in _moto:
        _moto.update(
            UpdateExpressionParser=UpdateExpressionParser,
            make=UpdateExpressionParser.__dict__["make"],
            validator_init=Validator.__init__,
            query=Table.query,
        )
    return [
        (UpdateExpressionParser, "make", classmethod(make)),
        (Validator, "__init__", validator_init),
        (Table, "query", query),
        *dynamodb_update.patches(),
        *dynamodb_put.patches(),
    ]


def install() -> None:
    """Patch moto (once: a second call changes nothing)."""
    from moto.dynamodb.models.table import Table

    if Table.query is query:
        return
    for owner, name, replacement in patches():
        setattr(owner, name, replacement)
