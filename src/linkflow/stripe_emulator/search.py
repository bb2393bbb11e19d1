"""Stripe's search query language and the indexing lag of its search results.

Supported: ``field:value`` (exact, case-insensitive), ``field~value`` (substring, at least three
characters, only where Stripe allows it), ``field>n`` ``>=`` ``<`` ``<=`` on numeric fields,
``metadata['key']:'value'``, ``null`` for a missing value, ``-`` negation, clauses joined by
``AND``, ``OR`` or whitespace (an implicit AND); mixing AND and OR is an error as on Stripe.

An object only becomes visible to search ``lag_seconds`` after its last write (emulator time).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import invalid_request

MAX_CLAUSES = 10

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<neg>-)?
        (?P<field>metadata\[(?P<mq>['"])(?P<mkey>(?:\\.|(?!(?P=mq)).)*)(?P=mq)\]|[a-z_][a-z0-9_.]*)
        (?P<op>>=|<=|:|~|>|<)
        (?P<value>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|-?\d+(?:\.\d+)?|null)
      |(?P<join>AND|OR)(?=\s)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    negate: bool
    field: str
    metadata_key: str | None
    op: str
    value: str | float | None


@dataclass(frozen=True)
class FieldRule:
    kind: str  # "string" or "number"
    substring: bool = False


CUSTOMER_FIELDS = {
    "created": FieldRule("number"),
    "email": FieldRule("string", substring=True),
    "name": FieldRule("string", substring=True),
    "phone": FieldRule("string", substring=True),
    "metadata": FieldRule("string"),
}

SUBSCRIPTION_FIELDS = {
    "created": FieldRule("number"),
    "status": FieldRule("string"),
    "canceled_at": FieldRule("number"),
    "metadata": FieldRule("string"),
}


def _unquote(raw: str) -> str | float | None:
    if raw == "null":
        return None
    if raw[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return float(raw)


def _bad(message: str) -> Exception:
    return invalid_request(f"Invalid search query: {message}", param="query")


def parse_query(query: str, fields: dict[str, FieldRule]) -> tuple[str, list[Clause]]:
    """Parse ``query`` into its combinator (``AND``/``OR``) and clauses."""
    clauses: list[Clause] = []
    joins: set[str] = set()
    pos = 0
    expect_clause = True
    text = query.strip()
    if not text:
        raise _bad("the query is empty.")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _bad(f"could not parse the query near position {pos}: {text[pos:pos + 20]!r}.")
        pos = match.end()
        if match.group("join"):
            if expect_clause:
                raise _bad(f"unexpected {match.group('join')}.")
            joins.add(match.group("join"))
            expect_clause = True
            continue
        if not expect_clause:
            joins.add("AND")  # whitespace between clauses
        clauses.append(_clause(match, fields))
        expect_clause = False
    if expect_clause:
        raise _bad("the query ends with a combinator.")
    if len(joins) > 1:
        raise _bad("a query cannot combine AND and OR; use one of them.")
    if len(clauses) > MAX_CLAUSES:
        raise _bad(f"a query can have at most {MAX_CLAUSES} clauses.")
    return (joins.pop() if joins else "AND"), clauses


def _clause(match: re.Match[str], fields: dict[str, FieldRule]) -> Clause:
    mkey = match.group("mkey")
    field = "metadata" if mkey is not None else match.group("field")
    op = match.group("op")
    value = _unquote(match.group("value"))
    rule = fields.get(field)
    if rule is None:
        raise _bad(f"field '{field}' is not supported for search on this resource.")
    if field == "metadata" and mkey is None:
        raise _bad("use metadata['key'] to search metadata.")
    if op == "~":
        if not rule.substring:
            raise _bad(f"field '{field}' does not support the substring (~) operator.")
        if not isinstance(value, str) or len(value) < 3:
            raise _bad("a substring (~) search needs at least 3 characters.")
    if op in (">", "<", ">=", "<=") and rule.kind != "number":
        raise _bad(f"field '{field}' does not support numeric comparison.")
    if rule.kind == "number" and value is not None:
        try:
            value = float(value)
        except ValueError:
            raise _bad(f"field '{field}' needs a number.") from None
    if mkey is not None:
        mkey = re.sub(r"\\(.)", r"\1", mkey)
    return Clause(match.group("neg") == "-", field, mkey, op, value)


def _holds(clause: Clause, record: dict[str, Any]) -> bool:
    if clause.metadata_key is not None:
        actual = (record.get("metadata") or {}).get(clause.metadata_key)
    else:
        actual = record.get(clause.field)
    if clause.value is None:
        return actual is None
    if actual is None:
        return False
    if isinstance(clause.value, float):
        number = float(actual)
        return {
            ":": number == clause.value,
            ">": number > clause.value,
            "<": number < clause.value,
            ">=": number >= clause.value,
            "<=": number <= clause.value,
        }[clause.op]
    wanted = clause.value.lower()
    text = str(actual).lower()
    return wanted in text if clause.op == "~" else text == wanted


def compile_query(query: str, fields: dict[str, FieldRule]) -> Callable[[dict[str, Any]], bool]:
    join, clauses = parse_query(query, fields)
    combine = all if join == "AND" else any

    def predicate(record: dict[str, Any]) -> bool:
        return combine(_holds(c, record) != c.negate for c in clauses)

    return predicate


class SearchIndex:
    """When each object was last written, to emulate Stripe's indexing lag."""

    def __init__(self) -> None:
        self.lag_seconds = 0.0
        self._written: dict[str, float] = {}

    def touch(self, object_id: str, now: float) -> None:
        self._written[object_id] = now

    def visible(self, object_id: str, now: float) -> bool:
        if not self.lag_seconds:
            return True
        written = self._written.get(object_id)
        return written is None or now - written >= self.lag_seconds

    def clear(self) -> None:
        self.lag_seconds = 0.0
        self._written.clear()
