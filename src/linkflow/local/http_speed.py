"""Two fixed costs of every request the local AWS endpoint serves, made cheap without changing an answer.

Every SDK call a handler makes, every Lambda invocation the engine starts and every Runtime API
exchange with a worker is an HTTP request parsed in the stack's process, on its one GIL:

- **Request headers**: ``http.server`` (under werkzeug's server and the Runtime API's) parses them
  with ``http.client.parse_headers``, which runs the whole ``email`` feed parser (about 40 µs for a
  botocore request's dozen headers). Here the header block is read by the same
  ``http.client._read_headers`` (same line and count limits, same exceptions) and, when every line
  is a plain ``Name: value`` (no folded continuation, no line without a colon, only printable ASCII and tabs),
  the message is built as the parser's compat32 policy builds it (the name as sent, the value with
  leading blanks and the line end stripped, in order, duplicates kept): the same ``HTTPMessage``.
  Any other block goes through the ``email`` parser as before. The stack's process only (patched
  by ``install``): http.client's own responses (the engine's botocore calls) parse the same way.
- **Request ids**: moto names each answer with ``gen_amzn_requestid_long``: 52 characters drawn
  one ``random.choice`` at a time (about 16 µs). Here the same alphabet, length and seeded
  generator (``mock_random``, so ``/moto-api/seed`` still makes runs repeatable), in one ``choices``.

Measured (this machine, one thread, ``timeit``): a botocore request's headers 42 → 9 µs; a request id
16 → 3 µs. Together about 45 µs of the 0.8 ms of stack CPU a GetItem costs.
"""

from __future__ import annotations

import http.client
import re
import string
from email.message import Message
from typing import Any

from moto.moto_api._internal import mock_random

_PLAIN_LINE = re.compile(rb"[\x20-\x7e\t]*")  # printable ASCII and tabs: no control character to interpret
_POOL = string.ascii_letters + string.digits  # moto's get_random_string(include_digits=True)
REQUEST_ID_LENGTH = 52
_original: dict[str, Any] = {}
_choices = mock_random.choices  # the instance moto seeds (``/moto-api/seed``)


def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
    """moto's ``gen_amzn_requestid_long``: a 52-character id, also set as ``x-amzn-requestid``."""
    req_id = "".join(_choices(_POOL, k=REQUEST_ID_LENGTH))
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id


def parse_headers(fp: Any, _class: type[Message] = http.client.HTTPMessage) -> Message:
    """``http.client.parse_headers``, without the ``email`` parser for a plain header block."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]  # the stdlib's own reader, limits included
    pairs: list[tuple[str, str]] = []
    for raw in lines:
        if raw in (b"\r\n", b"\n", b""):
            continue
        text = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
        if raw[:1] in (b" ", b"\t") or not _PLAIN_LINE.fullmatch(text):
            return _parse_slowly(lines, _class)
        name, colon, value = text.decode("ascii").partition(":")
        if not colon or not name or not all("!" <= c <= "~" for c in name):  # email's header line pattern
            return _parse_slowly(lines, _class)
        pairs.append((name, value.lstrip(" \t")))
    message = _class()
    message._headers = pairs  # type: ignore[attr-defined]  # what compat32's header_source_parse stores
    message.set_payload("")
    return message


def _parse_slowly(lines: list[bytes], _class: type[Message]) -> Message:
    import email.parser

    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))


def install() -> None:
    """Patch ``http.client.parse_headers`` and moto's request id generator (idempotent)."""
    import moto.core.responses as moto_responses
    import moto.utilities.aws_headers as aws_headers

    if _original:
        return
    _original["parse_headers"] = http.client.parse_headers
    _original["aws_headers"] = aws_headers.gen_amzn_requestid_long
    _original["responses"] = moto_responses.gen_amzn_requestid_long  # type: ignore[attr-defined]  # imported by name there
    http.client.parse_headers = parse_headers  # type: ignore[assignment]  # the same call, one signature
    aws_headers.gen_amzn_requestid_long = gen_amzn_requestid_long
    moto_responses.gen_amzn_requestid_long = gen_amzn_requestid_long  # type: ignore[attr-defined]  # imported by name there


def uninstall() -> None:
    """Put moto's and the stdlib's functions back (for tests)."""
    import moto.core.responses as moto_responses
    import moto.utilities.aws_headers as aws_headers

    if not _original:
        return
    http.client.parse_headers = _original.pop("parse_headers")
    aws_headers.gen_amzn_requestid_long = _original.pop("aws_headers")
    moto_responses.gen_amzn_requestid_long = _original.pop("responses")  # type: ignore[attr-defined]
