"""UpdateItem without moto's validator, for the plain updates linkflow's stores send.

moto 5.2.5 answers an UpdateItem in some ten passes: the expression parsed (cached by
``dynamodb_speed``) and its placeholders listed, the item deep-copied twice, the condition parsed
twice, then ``UpdateExpressionValidator``'s ten tree walks over a copy of the tree, the executor's
walk, and a size check of the whole item at every attribute set (``LimitedSizeDict``). Most
updates are far simpler: ``SET a = :v``, ``SET a = if_not_exists(b, :v)``, ``REMOVE a``,
``ADD n :number``, each on one top-level attribute. For those, ``update_item`` here does what
moto's passes come to, in one:

- the update expression's actions read once from moto's own parse tree and kept per expression
  string; the condition parsed once per string by moto's own parser (placeholders left as markers),
  its placeholders put in and turned into moto's own condition objects at each call, which then
  judge the item as in moto;
- every check whose failure makes moto answer an error is made before anything changes (every
  placeholder defined and used, no reserved word, no key attribute, no path twice, one clause of
  each kind, a declared attribute set to its declared type, no empty string into an index key, the
  numbers of an ADD adding up, the item staying under moto's size limit): a request that fails
  any of them, or that carries anything else (``Expected``, ``AttributeUpdates``,
  ``ReturnValues`` other than ``NONE``/``ALL_NEW``, a table with a stream, a key other than the
  table's, an unusual value), is answered by moto's own ``update_item``, from the start, so its
  errors are moto's. An exception while preparing also hands the request to moto.
- the condition fails as in moto (``ConditionalCheckFailed``, with the item for ``ALL_OLD``); an
  item that does not exist is created by moto's ``Table.put_item`` of its key, as moto does;
- the values are moto's: ``DynamoType`` of each placeholder's value, the stored attribute itself for
  an ``if_not_exists`` that finds it, ``DynamoType.__add__`` for ADD; they are written into the
  stored item's attributes in the expression's order (the order of moto's executor for distinct
  top-level names: the same attributes, in the same order), without the per-set size walk, which
  one bound made beforehand (the item's size plus every value written) shows cannot fail;
- the answer is ``Item.to_json()`` with moto's ``ConsumedCapacity``, as moto's handler builds it.

The item is changed in place as moto changes it; like moto's own code, nothing here locks it (the
stack's WSGI layer, ``aws_server``, serializes DynamoDB writes). The caches are filled under a lock;
their entries are never changed.

Measured (2-core machine, one thread, ``time.process_time``, boto3 on an in-process moto with
``dynamodb_json`` and ``dynamodb_speed`` installed; moto's own ``update_item`` for "before"): the
entitlement write (15 SETs incl. a list of strings, numbers and booleans, 2 REMOVEs, condition
``syncVersion = :base``, ``ALL_NEW``), 5.4 ms of CPU in ``DynamoHandler.update_item`` per call
before, 0.25 ms after (the whole boto3 call, client included, 7.5 -> 1.75 ms; a GetItem is
1.1 ms); ``SET email = :e, updatedAt = :now`` with ``attribute_exists(cognito_sub)``, 0.90 ->
0.11 ms (2.1 -> 1.27 ms). What is left is mostly moto's: ``DynamoResult``'s ``dynamo_to_dict`` of
the answer, ``DynamoType.size`` for the size bound, ``Item.to_json``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

CACHE_SIZE = 512
SIZE_LIMIT = 405000  # moto's LimitedSizeDict
_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})
_SETS = frozenset({"SS", "NS", "BS"})
_RETURN_VALUES = frozenset({"NONE", "ALL_NEW"})
_ON_FAILURE = frozenset({None, "NONE", "ALL_OLD"})
_REQUEST_MEMBERS = frozenset({
    "TableName", "Key", "UpdateExpression", "ConditionExpression", "ExpressionAttributeNames",
    "ExpressionAttributeValues", "ReturnValues", "ReturnValuesOnConditionCheckFailure",
})

_moto: dict[str, Any] = {}  # moto's own update_item, and moto's classes, by name
_plans: dict[str, Any] = {}  # UpdateExpression -> _Plan, or None: not a plain update
_conditions: dict[str, Any] = {}  # ConditionExpression -> _Condition
_lock = threading.Lock()


class _Unplain(Exception):
    """The request is not one this module answers: moto's own ``update_item`` answers it."""


@dataclass(frozen=True)
class _Action:
    kind: str  # SET, REMOVE or ADD
    target: str  # the path's one element as written: a name or a #placeholder
    value: str  # the :placeholder written (SET, ADD, if_not_exists's default); "" for REMOVE
    source: str | None  # if_not_exists's path element as written, for SET a = if_not_exists(b, :v)


@dataclass(frozen=True)
class _Plan:
    actions: tuple[_Action, ...]
    names: frozenset[str]  # the #placeholders the expression uses
    values: frozenset[str]  # the :placeholders it uses


@dataclass(frozen=True)
class _Condition:
    template: Any  # moto's condition syntax tree, placeholders as _Marker
    names: frozenset[str]  # moto's expr_attr_names_found
    values: frozenset[str]  # moto's expr_attr_values_found


@dataclass(frozen=True)
class _Marker:
    placeholder: str


def _classes() -> dict[str, Any]:
    if "Node" not in _moto:
        from moto.dynamodb.comparisons import ConditionExpressionParser
        from moto.dynamodb.exceptions import ConditionalCheckFailed
        from moto.dynamodb.models.dynamo_type import DynamoType
        from moto.dynamodb.models.utilities import bytesize
        from moto.dynamodb.parsing import ast_nodes
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
        from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords
        from moto.dynamodb.responses import DynamoResult

        class TemplateParser(ConditionExpressionParser):
            """moto's condition parser, placeholders left as markers and the syntax tree kept."""

            def _lookup_expression_attribute_value(self, name: str) -> Any:
                return _Marker(name)

            def _lookup_expression_attribute_name(self, name: str) -> Any:
                return _Marker(name)

            def _make_op_condition(self, node: Any) -> Any:
                return node

        _moto.update(
            {name: getattr(ast_nodes, name) for name in dir(ast_nodes) if name[0].isupper()},
            ConditionExpressionParser=ConditionExpressionParser, TemplateParser=TemplateParser,
            ConditionalCheckFailed=ConditionalCheckFailed, DynamoType=DynamoType, DynamoResult=DynamoResult,
            UpdateExpressionParser=UpdateExpressionParser, bytesize=bytesize,
            reserved=frozenset(ReservedKeywords.get_reserved_keywords()),
        )
    return _moto


def _element(path: Any) -> str:
    """The one element of a top-level path, as written; _Unplain for any other path."""
    m = _moto
    if type(path) is not m["UpdateExpressionPath"] or len(path.children) != 1:
        raise _Unplain
    element = path.children[0]
    if type(element) is m["ExpressionAttribute"]:
        name = element.children[0]
        if name.upper() in m["reserved"]:
            raise _Unplain  # moto: AttributeIsReservedKeyword
        return str(name)
    if type(element) is m["ExpressionAttributeName"]:
        return str(element.children[0])
    raise _Unplain


def _value(node: Any) -> str:
    if type(node) is not _moto["ExpressionAttributeValue"]:
        raise _Unplain
    return str(node.children[0])


def _set_action(action: Any) -> _Action:
    path, value = action.children
    if type(value) is not _moto["UpdateExpressionValue"] or len(value.children) != 1:
        raise _Unplain
    operand = value.children[0]
    if type(operand) is _moto["UpdateExpressionFunction"]:
        if len(operand.children) != 3 or operand.children[0] != "if_not_exists":
            raise _Unplain
        return _Action("SET", _element(path), _value(operand.children[2]), _element(operand.children[1]))
    return _Action("SET", _element(path), _value(operand), None)


def _read_plan(tree: Any) -> _Plan:
    m = _moto
    for clause in ("UpdateExpressionSetClause", "UpdateExpressionRemoveClause", "UpdateExpressionAddClause"):
        if len(tree.find_clauses([m[clause]])) > 1:
            raise _Unplain  # moto: TooManyClauses
    kinds = {m["UpdateExpressionSetAction"]: "SET", m["UpdateExpressionRemoveAction"]: "REMOVE",
             m["UpdateExpressionAddAction"]: "ADD", m["UpdateExpressionDeleteAction"]: "DELETE"}
    actions = []
    for action in tree.find_clauses(list(kinds)):
        kind = kinds[type(action)]
        if kind == "SET" and len(action.children) == 2:
            actions.append(_set_action(action))
        elif kind == "REMOVE" and len(action.children) == 1:
            actions.append(_Action("REMOVE", _element(action.children[0]), "", None))
        elif kind == "ADD" and len(action.children) == 2:
            actions.append(_Action("ADD", _element(action.children[0]), _value(action.children[1]), None))
        else:
            raise _Unplain
    names = frozenset(n.get_attribute_name_placeholder() for n in tree.find_clauses([m["ExpressionAttributeName"]]))
    values = frozenset(v.get_value_name() for v in tree.find_clauses([m["ExpressionAttributeValue"]]))
    return _Plan(tuple(actions), names, values)


def _remember(cache: dict[str, Any], key: str, entry: Any) -> None:
    with _lock:
        if len(cache) >= CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = entry


def _plan(expression: str) -> _Plan:
    """The plain actions of an UpdateExpression (kept per string); _Unplain if it has others."""
    try:
        plan = _plans[expression]
    except KeyError:
        try:  # a parse error is moto's to raise: not kept, moto parses it again
            plan = _read_plan(_moto["UpdateExpressionParser"].make(expression))
        except _Unplain:
            plan = None
        _remember(_plans, expression, plan)
    if plan is None:
        raise _Unplain
    return plan  # type: ignore[no-any-return]


def _condition(expression: str) -> _Condition:
    try:
        return _conditions[expression]  # type: ignore[no-any-return]
    except KeyError:
        parser = _moto["TemplateParser"](expression, {}, {})
        template = parser.parse()  # raises moto's error: not kept, moto parses it again
        condition = _Condition(template, frozenset(parser.expr_attr_names_found),
                               frozenset(parser.expr_attr_values_found))
        _remember(_conditions, expression, condition)
        return condition


def _filled(node: Any, names: dict[str, str], values: dict[str, Any]) -> Any:
    """The condition's syntax tree with each placeholder's name or value, as moto's parser puts them."""
    value = node.value
    if type(value) is _Marker:
        table = values if node.kind == "EXPRESSION_ATTRIBUTE_VALUE" else names
        if value.placeholder not in table:
            raise _Unplain  # moto: a KeyError
        return node._replace(value=table[value.placeholder])
    if not node.children:
        return node
    return node._replace(children=[_filled(child, names, values) for child in node.children])


def _condition_op(expression: str | None, names: dict[str, str],
                  values: dict[str, Any]) -> tuple[Any, _Condition | None]:
    """moto's condition object for the request (None: no condition) and what its parse found."""
    if not expression:
        return None, None
    condition = _condition(expression)
    parser = _moto["ConditionExpressionParser"](expression, names, values)
    return parser._make_op_condition(_filled(condition.template, names, values)), condition


def _request(body: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The request's expression, names and values, if it is one this module answers."""
    if not _REQUEST_MEMBERS.issuperset(body) or body.get("ReturnValues", "NONE") not in _RETURN_VALUES:
        raise _Unplain
    if body.get("ReturnValuesOnConditionCheckFailure") not in _ON_FAILURE:
        raise _Unplain
    expression = body.get("UpdateExpression")
    names = body.get("ExpressionAttributeNames", {})
    values = body.get("ExpressionAttributeValues", {})
    if type(expression) is not str or not expression.strip() or type(names) is not dict or type(values) is not dict:
        raise _Unplain
    if body.get("ExpressionAttributeValues") == {}:
        raise _Unplain  # moto: ExpressionAttributeValuesEmpty
    if not all(type(n) is str and n.startswith("#") and type(v) is str for n, v in names.items()):
        raise _Unplain
    for placeholder, value in values.items():
        if type(placeholder) is not str or not placeholder.startswith(":") or not _plain_value(value):
            raise _Unplain
    return expression.strip(), names, values


def _plain_value(value: Any) -> bool:
    """An AttributeValue of one known type (a set not empty): moto makes it a DynamoType as it is."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind not in _TYPES:
        return False
    if kind in _SETS:
        return type(inner) is list and len(inner) > 0
    if kind == "L":
        return type(inner) is list and all(_plain_value(v) for v in inner)
    if kind == "M":
        return type(inner) is dict and all(type(k) is str and _plain_value(v) for k, v in inner.items())
    return True


def _item_key(table: Any, key: Any) -> tuple[Any, Any]:
    """The hash and range ``DynamoType``s of ``key``, which must name exactly the table's key attributes."""
    if type(key) is not dict or sorted(key) != sorted(table.table_key_attrs):
        raise _Unplain
    if not all(map(_plain_value, key.values())):
        raise _Unplain
    dynamo_type = _moto["DynamoType"]
    hash_value = dynamo_type(key[table.hash_key_attr])
    range_value = dynamo_type(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _resolved(plan: _Plan, names: dict[str, str], table: Any) -> list[tuple[_Action, str, str | None]]:
    """Each action with the attribute it writes (and reads, for if_not_exists), placeholders resolved."""
    def name(written: str) -> str:
        if written.startswith("#"):
            if written not in names:
                raise _Unplain  # moto: ExpressionAttributeNameNotDefined or a KeyError
            return names[written]
        return written

    resolved = [(action, name(action.target), None if action.source is None else name(action.source))
                for action in plan.actions]
    keys = set(table.table_key_attrs)
    targets = [target for _, target, _ in resolved]
    if len(set(targets)) != len(targets) or keys.intersection(targets):
        raise _Unplain  # moto: DuplicateUpdateExpression, UpdateHashRangeKeyException
    if keys.intersection(source for _, _, source in resolved if source is not None):
        raise _Unplain
    return resolved


def _check_used(plan: _Plan, condition: _Condition | None, names: dict[str, str], values: dict[str, Any]) -> None:
    """moto's handler checks: every name and value given is used; the update's values are defined."""
    names_used = plan.names | (condition.names if condition else frozenset())
    values_used = plan.values | (condition.values if condition else frozenset())
    if not names_used.issuperset(names) or not values_used.issuperset(values) or not plan.values.issubset(values):
        raise _Unplain  # moto: unused in expressions, ExpressionAttributeValueNotDefined


def _writes(resolved: list[tuple[_Action, str, str | None]], values: dict[str, Any], attrs: dict[str, Any],
            table: Any) -> list[tuple[str, Any]]:
    """(attribute, new value or None to remove) per action, as moto's validator and executor make them."""
    dynamo_type = _moto["DynamoType"]
    declared = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    index_keys = set(table.attribute_keys)
    writes: list[tuple[str, Any]] = []
    for action, target, source in resolved:
        if action.kind == "REMOVE":
            writes.append((target, None))
            continue
        if action.kind == "ADD":
            value, existing = dynamo_type(values[action.value]), attrs.get(target)
            if value.type != "N" or (existing is not None and existing.type != "N"):
                raise _Unplain  # moto: a set's ADD, or IncorrectDataType
            writes.append((target, (dynamo_type({"N": "0"}) if existing is None else existing) + value))
            continue
        value = attrs[source] if source is not None and source in attrs else dynamo_type(values[action.value])
        if not action.target.startswith("#"):  # moto checks names written as they are, not #placeholders
            if declared.get(target, value.type) != value.type:
                raise _Unplain  # moto: InvalidAttributeTypeError
            if target in index_keys and not value.value and value.type in ("S", "B"):
                raise _Unplain  # moto: EmptyKeyAttributeException
        writes.append((target, value))
    return writes


def _fits(base: int, writes: list[tuple[str, Any]]) -> bool:
    """Whether no set of moto's ``LimitedSizeDict`` can pass its limit: the item's size plus every
    value written bounds the size it checks at each set (removes and replacements only lower it)."""
    bytesize = _moto["bytesize"]
    written: int = sum(bytesize(name) + value.size() for name, value in writes if value is not None)
    return base + written <= SIZE_LIMIT


@dataclass
class _Update:
    table: Any
    hash_value: Any
    range_value: Any
    item: Any  # the stored item, None if there is none
    writes: list[tuple[str, Any]] | None  # None: the condition does not hold


def _prepare(body: dict[str, Any], backend: Any) -> _Update:
    expression, names, values = _request(body)
    plan = _plan(expression)
    table = backend.tables.get(body["TableName"])
    if table is None or table.stream_shard is not None:
        raise _Unplain
    hash_value, range_value = _item_key(table, body["Key"])
    resolved = _resolved(plan, names, table)
    op, condition = _condition_op(body.get("ConditionExpression"), names, values)
    _check_used(plan, condition, names, values)
    item = table.get_item(hash_value, range_value)
    if op is not None and not op.expr(item):
        return _Update(table, hash_value, range_value, item, None)
    bytesize = _moto["bytesize"]
    if item is None:
        attrs: dict[str, Any] = {}
        base = bytesize(table.hash_key_attr) + hash_value.size()
        base += 0 if range_value is None else bytesize(table.range_key_attr) + range_value.size()
    else:
        attrs = item.attrs
        base = sum(bytesize(name) + value.size() for name, value in attrs.items())
    writes = _writes(resolved, values, attrs, table)
    if not _fits(base, writes):
        raise _Unplain  # moto may fail part way: ItemSizeToUpdateTooLarge
    return _Update(table, hash_value, range_value, item, writes)


def _fast(handler: Any) -> Any:
    """moto's answer to a plain update (see the module's docstring), or None: moto must answer."""
    body = handler.body
    try:
        update = _prepare(body, handler.dynamodb_backend)
        item = update.item
        if item is None and update.writes is not None:
            table, hash_value, range_value = update.table, update.hash_value, update.range_value
            key = {table.hash_key_attr: {hash_value.type: hash_value.value}}
            if range_value is not None:
                key[table.range_key_attr] = {range_value.type: range_value.value}
            table.put_item(key)  # moto's creation of a missing item; its errors come before any change
            item = table.get_item(hash_value, range_value)
    except _Unplain:
        return None
    except Exception:  # noqa: BLE001 - nothing has changed: moto's own update_item raises its error
        return None
    if update.writes is None:
        if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and item is not None:
            raise _moto["ConditionalCheckFailed"](item=item.to_json()["Attributes"])
        raise _moto["ConditionalCheckFailed"]
    attrs = item.attrs
    for name, value in update.writes:  # dict's own methods: _fits showed moto's size check cannot fail
        if value is None:
            attrs.pop(name, None)
        else:
            dict.__setitem__(attrs, name, value)
    answer = item.to_json()
    answer["ConsumedCapacity"] = {"TableName": body["TableName"], "CapacityUnits": 0.5}
    if body.get("ReturnValues", "NONE") == "NONE":
        answer.pop("Attributes", None)
    return _moto["DynamoResult"](answer)


def update_item(self: Any) -> Any:
    """moto's ``DynamoHandler.update_item``: a plain update answered here, any other by moto."""
    _classes()
    answer = _fast(self)
    return _moto["update_item"](self) if answer is None else answer


def patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement); moto's own function kept for the replacement."""
    from moto.dynamodb.responses import DynamoHandler

    _classes()
    if "update_item" not in _moto:
        _moto["update_item"] = DynamoHandler.update_item
    return [(DynamoHandler, "update_item", update_item)]
