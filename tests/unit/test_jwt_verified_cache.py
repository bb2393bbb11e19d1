"""The JWT authorizer remembers a token's verified signature, never its verdict: the time claims
are checked on every request, and a key set fetched again (a key removed or rotated) checks the
token again. Keys are the test's own, served as a JWKS on 127.0.0.1 that a test can change."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from linkflow.local.jwt_authorizer import (
    FORBIDDEN,
    UNAUTHORIZED,
    Granted,
    JwtAuthorizer,
    JwtVerifier,
    Refused,
    RouteAuth,
)

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
CLIENT = "client123"
SCOPE = "aws.cognito.signin.user.admin"
ROUTE = RouteAuth(JwtAuthorizer(name="CognitoJwt", issuer=ISSUER, audience=(CLIENT,)), scopes=(SCOPE,))
REFUSED = Refused(401, UNAUTHORIZED, {"www-authenticate": "Bearer"})
KEY_LIFESPAN = 1.0  # seconds the verifier keeps a fetched key set in these tests


class Jwks:
    """A JWKS endpoint serving whichever keys the test puts in ``keys`` (kid → private key)."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                jwks.fetches += 1
                body = json.dumps({"keys": [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid,
                     "alg": "RS256", "use": "sig"} for kid, key in jwks.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


@pytest.fixture
def jwks(keys: list[rsa.RSAPrivateKey]) -> Iterator[Jwks]:
    served = Jwks()
    served.keys = {"k1": keys[0], "k2": keys[1]}
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature ``jwt.decode`` checks."""
    checked: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return checked


def _token(key: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "s-1", "client_id": CLIENT, "token_use": "access", "scope": SCOPE,
            "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def _check(verifier: JwtVerifier, token: str, route: RouteAuth = ROUTE) -> Granted | Refused:
    return verifier.authorize({"authorization": f"Bearer {token}"}, route)


def _verifier(jwks: Jwks, **options: Any) -> JwtVerifier:
    return JwtVerifier(lambda issuer: jwks.url, **{"key_lifespan": KEY_LIFESPAN, **options})


def _sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(left + 0.01)


def test_a_token_is_verified_once_and_granted_with_the_same_claims(
        jwks: Jwks, keys: list[Any], decodes: list[str]) -> None:
    verifier = _verifier(jwks)
    token = _token(keys[0], **{"cognito:groups": ["admins", "staff"]})
    first, second = _check(verifier, token), _check(verifier, token)
    assert isinstance(first, Granted) and first == second
    assert first.claims["cognito:groups"] == "[admins staff]" and first.scopes == [SCOPE]
    assert first.claims is not second.claims  # each event gets its own: a handler may change it
    assert decodes == [token]
    other = _token(keys[0], sub="s-2")
    assert isinstance(_check(verifier, other), Granted) and decodes == [token, other]


def test_a_verified_token_is_refused_once_it_expires(jwks: Jwks, keys: list[Any], decodes: list[str]) -> None:
    # exp more than a second ahead (+ 1 could be a few ms, gone before the first check), and the key
    # set held longer than that: the token must be refused for its exp, not for a key set to fetch
    verifier = _verifier(jwks, key_lifespan=60)
    expires = int(time.time()) + 2
    token = _token(keys[0], exp=expires)
    assert isinstance(_check(verifier, token), Granted)
    _sleep_until(expires)
    assert _check(verifier, token) == REFUSED
    assert _check(verifier, token) == REFUSED
    assert decodes == [token]  # refused by the remembered exp: its signature was not checked again


def test_a_remembered_token_still_meets_each_routes_audience_and_scopes(jwks: Jwks, keys: list[Any]) -> None:
    verifier = _verifier(jwks)
    token = _token(keys[0])
    assert isinstance(_check(verifier, token), Granted)
    other_scope = RouteAuth(ROUTE.authorizer, scopes=("admin",))
    assert _check(verifier, token, other_scope) == Refused(403, FORBIDDEN, {})
    other_audience = RouteAuth(JwtAuthorizer(name="Other", issuer=ISSUER, audience=("another",)))
    refused = _check(verifier, token, other_audience)
    assert isinstance(refused, Refused) and refused.status == 401
    other_issuer = RouteAuth(JwtAuthorizer(name="Other", issuer=ISSUER + "x", audience=(CLIENT,)))
    assert _check(verifier, token, other_issuer) == REFUSED


def test_a_key_removed_from_the_jwks_refuses_its_tokens_once_the_keys_are_fetched_again(
        jwks: Jwks, keys: list[Any]) -> None:
    verifier = _verifier(jwks)
    kept, removed = _token(keys[0], kid="k1"), _token(keys[1], kid="k2")
    assert isinstance(_check(verifier, kept), Granted) and isinstance(_check(verifier, removed), Granted)
    fetched = time.time()
    del jwks.keys["k2"]
    _sleep_until(fetched + KEY_LIFESPAN + 0.1)  # the key set the verifier holds has expired
    assert _check(verifier, removed) == REFUSED
    assert isinstance(_check(verifier, kept), Granted)
    assert jwks.fetches == 2


def test_a_rotated_key_checks_the_remembered_token_again(jwks: Jwks, keys: list[Any], decodes: list[str]) -> None:
    verifier = _verifier(jwks)
    old = _token(keys[0], kid="k1")
    assert isinstance(_check(verifier, old), Granted)
    fetched = time.time()
    jwks.keys["k1"] = keys[2]  # the same kid, another key
    _sleep_until(fetched + KEY_LIFESPAN + 0.1)
    assert _check(verifier, old) == REFUSED
    new = _token(keys[2], kid="k1")
    assert isinstance(_check(verifier, new), Granted)
    assert decodes == [old, old, new]


def test_the_least_recently_used_token_is_forgotten_first(jwks: Jwks, keys: list[Any], decodes: list[str]) -> None:
    verifier = _verifier(jwks, verified_tokens=2)
    first, second, third = (_token(keys[0], sub=f"s-{n}") for n in range(3))
    for token in (first, second, first, third):  # third pushes out second, the least recently used
        assert isinstance(_check(verifier, token), Granted)
    assert decodes == [first, second, third]
    assert isinstance(_check(verifier, first), Granted) and decodes == [first, second, third]
    assert isinstance(_check(verifier, second), Granted) and decodes == [first, second, third, second]


def test_authorize_remembered_answers_only_without_a_signature_check_or_a_key_fetch(
        jwks: Jwks, keys: list[Any], decodes: list[str]) -> None:
    verifier = _verifier(jwks)
    token = _token(keys[0])
    assert verifier.authorize_remembered({"authorization": f"Bearer {token}"}, ROUTE) is None  # never verified
    assert verifier.authorize_remembered({}, ROUTE) == REFUSED  # no token: nothing to check
    granted = _check(verifier, token)
    assert verifier.authorize_remembered({"authorization": f"Bearer {token}"}, ROUTE) == granted
    other_scope = RouteAuth(ROUTE.authorizer, scopes=("admin",))
    assert verifier.authorize_remembered({"authorization": token}, other_scope) == Refused(403, FORBIDDEN, {})
    assert decodes == [token] and jwks.fetches == 1
    fetched = time.time()
    _sleep_until(fetched + KEY_LIFESPAN + 0.1)  # the key set held has expired: answering needs a fetch
    assert verifier.authorize_remembered({"authorization": token}, ROUTE) is None and jwks.fetches == 1
    assert isinstance(_check(verifier, token), Granted) and jwks.fetches == 2
    assert verifier.authorize_remembered({"authorization": token}, ROUTE) == granted


def test_authorize_remembered_refuses_an_expired_token(jwks: Jwks, keys: list[Any]) -> None:
    # exp more than a second ahead (+ 1 could be a few ms, gone before the first check), and the key
    # set held longer than that: the token must be refused for its exp, not for a key set to fetch
    verifier = _verifier(jwks, key_lifespan=60)
    expires = int(time.time()) + 2
    token = _token(keys[0], exp=expires)
    assert isinstance(_check(verifier, token), Granted)
    _sleep_until(expires)
    assert verifier.authorize_remembered({"authorization": f"Bearer {token}"}, ROUTE) == REFUSED


def test_authorize_remembered_does_not_answer_for_a_rotated_key(jwks: Jwks, keys: list[Any]) -> None:
    verifier = _verifier(jwks)
    token = _token(keys[0], kid="k1")
    assert isinstance(_check(verifier, token), Granted)
    fetched = time.time()
    jwks.keys["k1"] = keys[2]
    _sleep_until(fetched + KEY_LIFESPAN + 0.1)
    assert _check(verifier, _token(keys[1], kid="k2")) is not None  # another token fetches the new key set
    assert verifier.authorize_remembered({"authorization": token}, ROUTE) is None
    assert _check(verifier, token) == REFUSED
