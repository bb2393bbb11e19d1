"""The local AWS endpoint's cheaper fixed costs answer exactly what the code they replace answers:
header parsing (``http_speed.parse_headers`` against the stdlib's ``email`` parse), moto's request
ids, and JsonDirect's plain answers (against ``flask.Response``)."""

from __future__ import annotations

import http.client
import io
import string
from typing import Any

import pytest
from flask import Response
from hypothesis import given, settings
from hypothesis import strategies as st

from linkflow.local import http_speed
from linkflow.local.aws_server import _plain_answer

STDLIB_PARSE_HEADERS = http.client.parse_headers
BOTOCORE_REQUEST = (
    b"Host: 127.0.0.1:4566\r\nAccept-Encoding: identity\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\nUser-Agent: Boto3/1.35.0 md/Botocore#1.35.0\r\n"
    b"X-Amz-Date: 20261202T101010Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIA/20261202/us-east-1/"
    b"dynamodb/aws4_request, SignedHeaders=content-type;host, Signature=abc\r\nContent-Length: 80\r\n\r\n"
)


def _both(block: bytes) -> tuple[Any, Any]:
    return STDLIB_PARSE_HEADERS(io.BytesIO(block)), http_speed.parse_headers(io.BytesIO(block))


def _same(block: bytes) -> None:
    slow, fast = _both(block)
    assert type(fast) is type(slow)
    assert fast.items() == slow.items()
    assert fast.get_payload() == slow.get_payload()
    assert [type(d) for d in fast.defects] == [type(d) for d in slow.defects]
    try:
        printed = str(slow)
    except Exception as exc:  # the email package refuses to print some values: so must the fast one
        with pytest.raises(type(exc)):
            str(fast)
    else:
        assert str(fast) == printed


@pytest.mark.parametrize("block", [
    BOTOCORE_REQUEST,
    b"X-Dup: 1\r\nx-dup: 2\r\nEmpty:\r\nSpaced:   lead and trail  \r\nTabbed:\tv\r\n\r\n",
    b"Folded: first\r\n  continued\r\nNext: 1\r\n\r\n",  # obs-fold: the email parser's way
    b"No colon here\r\nAfter: 1\r\n\r\n",  # a defect, kept as the stdlib records it
    b"Name With Space: x\r\nB: 2\r\n\r\n",
    b": nameless\r\nB: 2\r\n\r\n",
    b"Latin: caf\xe9\r\n\r\n",
    b"Bare-LF: 1\nNext: 2\n\n",
    b"Form-Feed: a\x0cb: c\r\nDouble-CR: x\r\r\nAfter: 1\r\n\r\n",  # lines the email parser splits itself
    b"Nul: a\x00b\r\n\r\n",
    b"\r\n",
    b"",
])
def test_header_blocks_parse_as_the_stdlib_parses_them(block: bytes) -> None:
    _same(block)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters=":\n"),
                                  min_size=1, max_size=12),
                          st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\n"),
                                  max_size=30)), max_size=8))
def test_any_printable_header_block_parses_the_same(pairs: list[tuple[str, str]]) -> None:
    _same(b"".join(f"{k}:{v}\r\n".encode("latin-1") for k, v in pairs) + b"\r\n")


def test_the_stdlib_limits_still_apply() -> None:
    with pytest.raises(http.client.HTTPException, match="got more than 100 headers"):
        http_speed.parse_headers(io.BytesIO(b"".join(b"H%d: v\r\n" % i for i in range(101)) + b"\r\n"))
    with pytest.raises(http.client.LineTooLong):
        http_speed.parse_headers(io.BytesIO(b"Long: " + b"x" * 70000 + b"\r\n\r\n"))


def test_request_ids_have_motos_form_and_follow_its_seed() -> None:
    from moto.moto_api._internal import mock_random

    headers: dict[str, Any] = {}
    rid = http_speed.gen_amzn_requestid_long(headers)
    assert len(rid) == 52 and set(rid) <= set(string.ascii_letters + string.digits)
    assert headers == {"x-amzn-requestid": rid}
    mock_random.seed(7)
    first = [http_speed.gen_amzn_requestid_long() for _ in range(3)]
    mock_random.seed(7)
    assert [http_speed.gen_amzn_requestid_long() for _ in range(3)] == first
    assert len(set(first)) == 3


def test_install_patches_and_uninstall_restores() -> None:
    import moto.core.responses as moto_responses
    import moto.utilities.aws_headers as aws_headers

    before = (http.client.parse_headers, aws_headers.gen_amzn_requestid_long, moto_responses.gen_amzn_requestid_long)
    http_speed.install()
    try:
        assert http.client.parse_headers is http_speed.parse_headers
        assert aws_headers.gen_amzn_requestid_long is http_speed.gen_amzn_requestid_long
        assert moto_responses.gen_amzn_requestid_long is http_speed.gen_amzn_requestid_long
        http_speed.install()  # twice: still one layer
    finally:
        http_speed.uninstall()
    assert (http.client.parse_headers, aws_headers.gen_amzn_requestid_long,
            moto_responses.gen_amzn_requestid_long) == before


def _werkzeug(status: Any, headers: Any, content: Any, method: str = "POST") -> Any:
    environ = {"REQUEST_METHOD": method, "wsgi.url_scheme": "http", "SERVER_NAME": "x", "SERVER_PORT": "1"}
    started: list[Any] = []
    body = b"".join(Response(response=content, status=status, headers=headers)(
        environ, lambda s, h, e=None: started.extend([s, h])))
    return started[0], list(started[1]), body


@pytest.mark.parametrize(("status", "headers", "content"), [
    (200, {"x-amzn-requestid": "abc", "server": "amazon.com", "x-amz-crc32": "123"}, '{"Item": {}}'),
    (400, {"Content-Type": "application/x-amz-json-1.0", "status": "400"}, '{"__type": "x"}'),
    (200, {}, b"\x00bytes"),
    (200, {"content-type": "application/json"}, "caf\u00e9"),
    (500, {"a": "1"}, ""),
    (201, {"server": "amazon.com"}, "{}"),
])
def test_plain_answers_are_what_flask_answers(status: int, headers: dict[str, str], content: Any) -> None:
    environ = {"REQUEST_METHOD": "POST"}
    assert _plain_answer(status, headers, content, environ) == _werkzeug(status, headers, content)


@pytest.mark.parametrize(("status", "headers", "content", "method"), [
    (204, {}, "", "POST"),  # no body, no length
    (304, {}, "", "POST"),
    (200, {"Location": "/x"}, "", "POST"),  # werkzeug may rewrite it
    (200, {"Content-Length": "3"}, "abc", "POST"),
    (200, {"n": 1}, "abc", "POST"),  # not a str value
    (200, [("a", "b")], "abc", "POST"),
    (200, {}, ["a", "b"], "POST"),  # an iterable body
    (200, {}, "abc", "HEAD"),
    ("200 OK", {}, "abc", "POST"),
    (299, {}, "abc", "POST"),  # a code werkzeug does not name
])
def test_anything_else_is_left_to_werkzeug(status: Any, headers: Any, content: Any, method: str) -> None:
    assert _plain_answer(status, headers, content, {"REQUEST_METHOD": method}) is None


def test_raw_urls_are_remembered_per_address() -> None:
    from moto.core.request import Request
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from linkflow.local.aws_server import JsonDirect

    direct = JsonDirect(DomainDispatcherApplication(create_backend_app))
    seen = []
    for host, query in (("127.0.0.1:4566", ""), ("localhost:4566", "a=1"), ("127.0.0.1:4566", ""),
                        ("127.0.0.1:4566", "b=2")):
        environ = {"REQUEST_METHOD": "POST", "wsgi.url_scheme": "http", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "4566", "HTTP_HOST": host, "PATH_INFO": "/", "RAW_URI": "/",
                   "QUERY_STRING": query, "wsgi.input": io.BytesIO(b"")}
        request = Request(environ)
        url = direct._raw_url(request, environ)
        assert url == request.raw_url
        seen.append(url)
    assert seen == ["http://127.0.0.1:4566/", "http://localhost:4566/?a=1", "http://127.0.0.1:4566/",
                    "http://127.0.0.1:4566/?b=2"]
    assert len(direct._urls) == 3


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-amz-json-1.0", b'{"TableName": "t", "Key": {"k": {"S": "a=b&c"}}}'),
    ("application/x-amz-json-1.1", b"{}"),
    ("application/json", b'{"a": 1}'),
    ("", b"x=1&y=2"),
    ("application/x-www-form-urlencoded", b"Action=ListQueues&x=%20y"),  # a form: werkzeug parses it
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b--\r\n"),
    ("application/x-amz-json-1.0", b""),
])
def test_requests_read_as_werkzeug_reads_them(content_type: str, body: bytes) -> None:
    from moto.moto_server.werkzeug_app import BackendRequest

    from linkflow.local.aws_server import _parsed_as_werkzeug_would

    def request() -> tuple[Any, dict[str, Any]]:
        environ = {"REQUEST_METHOD": "POST", "wsgi.url_scheme": "http", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "4566", "HTTP_HOST": "127.0.0.1:4566", "PATH_INFO": "/", "QUERY_STRING": "q=1",
                   "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        return BackendRequest(environ), environ

    plain, _ = request()
    fast, environ = request()
    _parsed_as_werkzeug_would(fast)
    for name in ("data", "form", "files", "values", "args"):
        assert getattr(fast, name) == getattr(plain, name), name
        assert type(getattr(fast, name)) is type(getattr(plain, name)), name
    assert fast.get_data() == plain.get_data()
    assert fast.stream.read() == plain.stream.read()


def test_a_body_cut_short_fails_as_werkzeug_fails() -> None:
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.exceptions import ClientDisconnected

    from linkflow.local.aws_server import _parsed_as_werkzeug_would

    environ = {"REQUEST_METHOD": "POST", "wsgi.url_scheme": "http", "SERVER_NAME": "h", "SERVER_PORT": "1",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "20", "wsgi.input": io.BytesIO(b'{"a": 1}')}
    with pytest.raises(ClientDisconnected):
        BackendRequest(dict(environ, **{"wsgi.input": io.BytesIO(b'{"a": 1}')})).get_data(parse_form_data=True)
    with pytest.raises(ClientDisconnected):
        _parsed_as_werkzeug_would(BackendRequest(environ))
