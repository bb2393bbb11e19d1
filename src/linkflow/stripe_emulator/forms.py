"""Stripe's wire format for parameters: form bodies and query strings with bracket notation.

``items[0][price]=p&metadata[k]=v&expand[]=a&expand[]=b`` decodes to
``{"items": [{"price": "p"}], "metadata": {"k": "v"}, "expand": ["a", "b"]}``. Values stay
strings; resource code coerces them with the ``as_*`` helpers, which raise Stripe-style 400s.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from .errors import invalid_request

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _split_key(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head):]
    parts = _SEGMENT.findall(rest)
    if "".join(f"[{p}]" for p in parts) != rest:
        raise invalid_request(f"Invalid parameter name: {key}", param=key)
    return [head, *parts]


def _insert(root: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            # `expand[]=a`: append to a list at this position.
            if not isinstance(node, _Appendable):
                raise invalid_request(f"Invalid array parameter: {key}", param=key)
            if last:
                node.items.append(value)
                return
            node.items.append({})
            node = node.items[-1]
            continue
        if isinstance(node, _Appendable):
            raise invalid_request(f"Invalid array parameter: {key}", param=key)
        if last:
            node[part] = value
            return
        nxt = parts[i + 1]
        child = node.get(part)
        if child is None or isinstance(child, str):
            child = _Appendable() if nxt == "" else {}
            node[part] = child
        node = child


class _Appendable:
    """Placeholder for a `name[]` array while decoding."""

    def __init__(self) -> None:
        self.items: list[Any] = []


def _finish(value: Any) -> Any:
    if isinstance(value, _Appendable):
        return [_finish(v) for v in value.items]
    if isinstance(value, dict):
        done = {k: _finish(v) for k, v in value.items()}
        if done and all(k.isdigit() for k in done):
            return [done[k] for k in sorted(done, key=int)]
        return done
    return value


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode (key, value) pairs in bracket notation into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, _split_key(key), value, key)
    result = _finish(root)
    assert isinstance(result, dict)
    return result


def decode_form(raw: bytes | str) -> dict[str, Any]:
    """Decode an ``application/x-www-form-urlencoded`` body or query string."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return decode_pairs(parse_qsl(text, keep_blank_values=True))


def decode_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise invalid_request("Invalid JSON body.") from exc
        if not isinstance(body, dict):
            raise invalid_request("Invalid JSON body: expected an object.")
        return {k: _stringify(v) for k, v in body.items()}
    return decode_form(raw)


def _stringify(value: Any) -> Any:
    """JSON bodies are accepted for convenience; bring them to the form representation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


# --- coercion -------------------------------------------------------------------------------


def as_int(value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid integer: {value}", param=param) from None
    if minimum is not None and number < minimum:
        raise invalid_request(f"Invalid {param}: must be at least {minimum}", param=param)
    if maximum is not None and number > maximum:
        raise invalid_request(f"Invalid {param}: must be at most {maximum}", param=param)
    return number


def as_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def as_str_list(value: Any, param: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise invalid_request(f"Invalid array: {param}", param=param)


def as_dict(value: Any, param: str) -> dict[str, Any]:
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_request(f"Invalid object: {param}", param=param)
    return value


def blank_to_none(value: Any) -> Any:
    """Stripe reads an empty string as "unset this field"."""
    return None if value == "" else value


def merge_metadata(current: dict[str, str], value: Any) -> dict[str, str]:
    """Stripe's metadata update: ``metadata=`` clears, ``metadata[k]=`` removes one key."""
    if value == "":
        return {}
    incoming = as_dict(value, "metadata")
    merged = dict(current)
    for key, item in incoming.items():
        if not isinstance(item, str):
            raise invalid_request(f"Invalid value for metadata[{key}]: expected a string.", param=f"metadata[{key}]")
        if len(key) > 40:
            raise invalid_request("Metadata keys can be at most 40 characters long.", param=f"metadata[{key}]")
        if len(item) > 500:
            raise invalid_request("Metadata values can be at most 500 characters long.", param=f"metadata[{key}]")
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > 50:
        raise invalid_request("Metadata can have at most 50 keys.", param="metadata")
    return merged
