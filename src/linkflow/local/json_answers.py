"""JSON-protocol answers written by a per-shape walk and one ``json.dumps``, byte for byte moto's.

moto 5.2.5 writes an operation's result through its generic shape serializer
(``moto.core.serialize.JSONSerializer``, reached from ``moto.core.responses.ActionResult.execute_result``):
for every member of every structure it builds an ``AttributePickerContext``, asks six alias
providers for the attribute names to try (each followed by ``botocore.xform_name``), dispatches on
the shape's type by ``getattr`` and keeps a path of names. During sign-ups that was 6-8% of the
stack's GIL time, mostly Cognito's answers (AdminGetUser four times per sign-up, SignUp,
AdminConfirmSignUp, ListUsers) and Step Functions' (StartExecution, ListExecutions,
DescribeExecution).

Here each output shape is compiled once: per structure member, the names the serializer would try
(the same providers' names in the same order, per type of the object read, ``Meta`` read from the
class) and the name written; per type, the conversion moto makes (``str`` for strings and enums,
``int``/``float`` for numbers, booleans as they are, timestamps as epoch seconds truncated to
milliseconds or the shape's ``timestampFormat``, blobs base64, lists, maps, nested structures,
``None`` members left out). The answer is then a walk of the result and one ``json.dumps``: the same
body (members in the shape's order, as moto writes them), status and headers. Only results of the
plain ``json`` serializer take this path; errors, event streams, pretty-printed answers, services
with response transformers (``RESPONSE_KEY_PATH_TO_TRANSFORMER``), document shapes, serialization
names on list or map members, maps with keys other than non-empty strings, containers other than
lists, tuples and dicts, booleans of other types than ``bool``/``int``/``float``/``str``, and any
exception while writing are left to moto's serializer (kept as ``_moto``), which answers as before.

Measured (one thread, ``time.process_time``, 2,000 boto3 calls on an in-process moto, three
runs each way): CPU per call spent writing the answer (``ActionResult.execute_result``), and the
whole call (boto3 client included, noisy):

==================================  ===============  ===============  ====================
operation                           answer, moto     answer, here     whole call
==================================  ===============  ===============  ====================
AdminGetUser                        250-295 us       58-72 us         1.6-2.0 -> 1.4-1.7 ms
ListUsers, ``email = "..."`` [1]_   258-393 us       79-94 us         1.9-3.1 -> 2.3-2.8 ms
DescribeExecution (finished)        230-336 us       34-51 us         1.3-2.0 -> 1.2-1.7 ms
StartExecution                      75-112 us        25-52 us         1.2-1.8 -> 1.2-2.5 ms
==================================  ===============  ===============  ====================

.. [1] moto's own ListUsers response; in the stack ``cognito_index`` answers ListUsers itself with
   one ``json.dumps``, so this module does not change it there.
"""

from __future__ import annotations

import base64
import calendar
import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

MISSING: Any = None  # moto.core.utils.MISSING, read at install
_moto: Any = None  # moto's ActionResult.execute_result
_answers: dict[Any, Any] = {}  # operation model -> _Answer, or None: always moto's serializer
_timestamps: Any = None  # a moto TimestampSerializer, for values other than datetimes
_get_value: Any = None  # moto.core.utils.get_value


class Unsupported(Exception):
    """A shape or value this module does not write: moto's serializer answers."""


Convert = Callable[[Any], Any]


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _boolean(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise Unsupported(type(value).__name__)


def _integer(value: Any) -> Any:
    return value if type(value) is int else int(value)


def _float(value: Any) -> Any:
    return float(value)


def _blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes | bytearray):
        raise Unsupported(type(value).__name__)
    return base64.b64encode(value).strip().decode("utf-8")


def _timestamp(fmt: str) -> Convert:
    fmt = fmt.lower()

    def epoch(value: Any) -> Any:
        if type(value) is not datetime:
            return _timestamps._convert_timestamp_to_str(value, fmt)
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        seconds = calendar.timegm(value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds

    def other(value: Any) -> Any:
        return _timestamps._convert_timestamp_to_str(value, fmt)

    return epoch if fmt == "unixtimestamp" else other


SCALARS: dict[str, Convert] = {"string": _string, "boolean": _boolean, "integer": _integer, "long": _integer,
                               "float": _float, "double": _float, "blob": _blob}
NONE_KEPT = frozenset({"structure", "string", "boolean"})  # a None list item moto writes as null


def _converter(shape: Any) -> Convert:
    kind = shape.type_name
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "timestamp":
        return _timestamp(shape.serialization.get("timestampFormat", "unixtimestamp"))
    if kind == "structure":
        if shape.is_document_type:
            raise Unsupported("document")
        return _Structure(shape).convert
    if kind == "list":
        return _list(shape)
    if kind == "map":
        return _map(shape)
    raise Unsupported(kind)


def _list(shape: Any) -> Convert:
    member = shape.member
    if member.serialization.get("name", member.name) != member.name:
        raise Unsupported("list member name")  # moto appends the unconverted item
    item = _converter(member)
    none_kept = member.type_name in NONE_KEPT

    def convert(value: Any) -> list[Any]:
        if type(value) is not list and type(value) is not tuple:
            raise Unsupported(type(value).__name__)
        out: list[Any] = []
        for element in value:
            if element is None:
                if not none_kept:
                    raise Unsupported("None item")
                out.append(None)
            else:
                out.append(item(element))
        return out

    return convert


def _map(shape: Any) -> Convert:
    value_shape = shape.value
    if "name" in value_shape.serialization:
        raise Unsupported("map value name")  # moto writes every entry under that one name
    item = _converter(value_shape)
    kind = value_shape.type_name

    def convert(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise Unsupported(type(value).__name__)
        out: dict[str, Any] = {}
        for key, element in value.items():
            if type(key) is not str or not key:
                raise Unsupported("map key")  # an empty key merges a structure into the map
            if element is None:
                if kind == "structure":
                    continue
                if kind not in NONE_KEPT:
                    raise Unsupported("None value")
                out[key] = None
            else:
                out[key] = item(element)
        return out

    return convert


class _Structure:
    """A structure's members as moto's ``XFormedAttributePicker`` finds them, compiled per type of
    the object read (the class-name and ``Meta`` aliases depend on it)."""

    def __init__(self, shape: Any) -> None:
        self.shape = shape
        self.members: list[tuple[str, Any, str, Convert]] | None = None
        self.unsupported: Unsupported | None = None  # found compiling the members: moto's, every time
        self.fields: dict[type, tuple[bool, list[tuple[tuple[str, ...], str, Convert]]]] = {}

    def _members(self) -> list[tuple[str, Any, str, Convert]]:
        if self.unsupported is not None:
            raise self.unsupported
        members = []
        try:
            for key, member in self.shape.members.items():
                member.parent = self.shape  # as moto's serializer sets it
                members.append((key, member, member.serialization.get("name", key), _converter(member)))
        except Unsupported as unsupported:
            self.unsupported = unsupported
            raise
        self.members = members
        return members

    def _aliases(self, key: str, member: Any, cls: type) -> tuple[str, ...]:
        from botocore import xform_name

        parent = self.shape
        names: list[str] = []
        meta_aliases = getattr(getattr(cls, "Meta", None), "serialization_aliases", None)
        if meta_aliases is not None and key in meta_aliases:  # ExplicitAlias
            names.append(meta_aliases[key])
        if member.type_name in ("list", "structure") and member.name not in parent.members and key != member.name:
            names.append(member.name)  # ShapeNameAlias
        names.append(key)  # NoAlias
        if key.lower().startswith(parent.name.lower()) and key[len(parent.name):] not in parent.members:
            names.append(key[len(parent.name):])  # ShapePrefixAlias
        if key.lower().startswith(cls.__name__.lower()):
            names.append(key[len(cls.__name__):])  # ClassPrefixAlias
        if member.serialization.get("name", key) != key:
            names.append(member.serialization["name"])  # ModelAlias
        tried: list[str] = []
        for name in names:
            for candidate in (name, xform_name(name)):
                if candidate not in tried:  # a name tried again finds nothing again
                    tried.append(candidate)
        return tuple(tried)

    def _fields(self, cls: type) -> tuple[bool, list[tuple[tuple[str, ...], str, Convert]]]:
        members = self.members if self.members is not None else self._members()
        fields = [(self._aliases(key, member, cls), name, convert) for key, member, name, convert in members]
        plain = cls is dict and not any("." in n for names, _, _ in fields for n in names)
        self.fields[cls] = (plain, fields)
        return plain, fields

    def convert(self, value: Any) -> dict[str, Any]:
        cls = type(value)
        plain, fields = self.fields.get(cls) or self._fields(cls)
        out: dict[str, Any] = {}
        for names, name, convert in fields:
            member = MISSING
            if plain:
                for n in names:
                    member = value.get(n, MISSING)
                    if member is not MISSING:
                        break
            else:
                for n in names:
                    member = _get_value(value, n, MISSING)
                    if member is not MISSING:
                        break
            if member is not None and member is not MISSING:
                out[name] = convert(member)
        return out



class _Answer:
    def __init__(self, operation_model: Any) -> None:
        output = operation_model.output_shape
        self.structure = _Structure(output) if output is not None else None
        if output is not None and output.is_document_type:
            raise Unsupported("document")
        self.status = operation_model.http.get("responseCode", 200)
        service = operation_model.service_model
        self.content_type = "text"  # moto's JSONSerializer.CONTENT_TYPE outside the json protocol
        if service.protocol == "json":
            self.content_type = f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"

    def __call__(self, result: Any) -> tuple[int, dict[str, str], str]:
        body = {} if result is None or self.structure is None else self.structure.convert(result)
        return self.status, {"Content-Type": self.content_type}, json.dumps(body)


def _answer(operation_model: Any) -> Any:
    try:
        answer = _answers[operation_model]
    except KeyError:
        try:
            answer = _Answer(operation_model) if not operation_model.has_event_stream_output else None
        except Unsupported:
            answer = None
        if len(_answers) >= 4096:  # moto caches its models: more would mean models made per call
            _answers.clear()
        _answers[operation_model] = answer
    return answer


def install() -> None:
    """Patch moto (once: a second call changes nothing). Install after ``dynamodb_json``."""
    global _moto, MISSING, _get_value, _timestamps
    from moto import settings
    from moto.core import utils
    from moto.core.responses import ActionResult
    from moto.core.serialize import JSONSerializer, TimestampSerializer

    current = ActionResult.execute_result
    if getattr(current, "linkflow_json_answers", False):
        return
    _moto, MISSING, _get_value = current, utils.MISSING, utils.get_value  # type: ignore[attr-defined]
    _timestamps = TimestampSerializer(TimestampSerializer.TIMESTAMP_FORMAT_UNIX)

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (context.serializer_class is JSONSerializer and not isinstance(result, Exception)
                and not settings.PRETTIFY_RESPONSES
                and not getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)):
            answer = _answer(context.operation_model)
            if answer is not None:
                try:
                    return answer(result)
                except Exception:  # anything unusual: moto's serializer writes it, or raises its own error
                    return _moto(self, context)
        return _moto(self, context)

    execute_result.linkflow_json_answers = True  # type: ignore[attr-defined]
    ActionResult.execute_result = execute_result  # type: ignore[method-assign]


def uninstall() -> None:
    """Give moto its serializer back (nothing if not installed)."""
    from moto.core.responses import ActionResult

    if getattr(ActionResult.execute_result, "linkflow_json_answers", False):
        ActionResult.execute_result = _moto  # type: ignore[method-assign]
    _answers.clear()
