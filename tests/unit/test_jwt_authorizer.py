"""The local API gateway's JWT authorizer and CORS, without a stack: the template's Auth read into
route settings, tokens signed with a key of the test's own (its JWKS served on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import jwt.utils
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from linkflow.local.api_gateway import Cors, HttpRoute
from linkflow.local.jwt_authorizer import (
    FORBIDDEN,
    UNAUTHORIZED,
    AuthorizerConfigError,
    Granted,
    JwtAuthorizer,
    JwtVerifier,
    Refused,
    RouteAuth,
    local_jwks_url,
    route_auth,
)
from linkflow.local.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
CLIENT = "client123"
SCOPE = "aws.cognito.signin.user.admin"
ROUTE = RouteAuth(JwtAuthorizer(name="CognitoJwt", issuer=ISSUER, audience=(CLIENT,)), scopes=(SCOPE,))


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The key's JWKS at http://127.0.0.1:<port>/jwks.json (anything else is a 404)."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            found = self.path == "/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def verifier(jwks_url: str) -> JwtVerifier:
    return JwtVerifier(lambda issuer: jwks_url)


def _token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "s-1", "client_id": CLIENT, "token_use": "access", "scope": SCOPE,
            "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": "k1"})


def _check(verifier: JwtVerifier, token: str, route: RouteAuth = ROUTE, scheme: str = "Bearer ") -> Granted | Refused:
    return verifier.authorize({"authorization": f"{scheme}{token}"}, route)


def test_an_access_token_is_granted_with_its_claims_as_strings(verifier: JwtVerifier, key: Any) -> None:
    granted = _check(verifier, _token(key, **{"cognito:groups": ["admins", "staff"], "flag": True}))
    assert isinstance(granted, Granted)
    assert granted.scopes == [SCOPE]
    claims = granted.claims
    assert (claims["sub"], claims["client_id"], claims["cognito:groups"], claims["flag"]) == (
        "s-1", CLIENT, "[admins staff]", "true")
    assert claims["exp"].isdigit() and all(isinstance(v, str) for v in claims.values())
    assert granted.event_context() == {"jwt": {"claims": claims, "scopes": [SCOPE]}}


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", ""])
def test_the_token_may_come_alone_or_after_bearer(verifier: JwtVerifier, key: Any, scheme: str) -> None:
    assert isinstance(_check(verifier, _token(key), scheme=scheme), Granted)


@pytest.mark.parametrize("claims", [
    {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
    {"iss": ISSUER + "/"},
    {"exp": int(time.time()) - 1},
    {"nbf": int(time.time()) + 86400},  # a day ahead: the ids are built at collection, long before the run
    {"iat": int(time.time()) + 86400},
    {"exp": None},
], ids=["another pool", "issuer not exact", "expired", "not yet valid", "issued in the future", "no exp"])
def test_a_token_failing_a_check_is_401(verifier: JwtVerifier, key: Any, claims: dict[str, Any]) -> None:
    refused = _check(verifier, _token(key, **claims))
    assert refused == Refused(401, UNAUTHORIZED, {"www-authenticate": "Bearer"})


def test_another_audience_is_401_naming_the_audience(verifier: JwtVerifier, key: Any) -> None:
    refused = _check(verifier, _token(key, client_id="another-client"))
    assert isinstance(refused, Refused) and (refused.status, refused.body) == (401, UNAUTHORIZED)
    assert "the token does not have a valid audience" in refused.headers["www-authenticate"]
    # aud, when present, is the one API Gateway reads (client_id only when there is no aud)
    assert isinstance(_check(verifier, _token(key, aud="another", client_id=CLIENT)), Refused)
    assert isinstance(_check(verifier, _token(key, aud=["x", CLIENT], client_id=None)), Granted)


def test_a_forged_or_odd_signature_is_401(verifier: JwtVerifier, key: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _token(other)
    unknown_kid = jwt.encode(jwt.decode(_token(key), options={"verify_signature": False}), key,
                             algorithm="RS256", headers={"kid": "k2"})
    unsigned = jwt.encode(jwt.decode(_token(key), options={"verify_signature": False}), "", algorithm="none")
    body, signature = _token(key).split(".", 2)[1:]
    odd_headers = [".".join((jwt.utils.base64url_encode(header).decode(), body, signature))
                   for header in (b"[1]", b'"k1"', b"{", b'{"alg": "RS256"}', b"\xff")]
    for token in (forged, unknown_kid, unsigned, "not.a.jwt", "", "%%%.x.y", *odd_headers):
        refused = _check(verifier, token)
        assert isinstance(refused, Refused) and (refused.status, refused.body) == (401, UNAUTHORIZED), token
    assert _check(verifier, "", scheme="").status == 401  # type: ignore[union-attr]


def test_a_valid_token_without_the_routes_scope_is_403(verifier: JwtVerifier, key: Any) -> None:
    id_token = _token(key, client_id=None, aud=CLIENT, token_use="id", scope=None)
    assert _check(verifier, id_token) == Refused(403, FORBIDDEN, {})
    assert _check(verifier, _token(key, scope="openid email")) == Refused(403, FORBIDDEN, {})
    granted = _check(verifier, id_token, RouteAuth(ROUTE.authorizer, scopes=()))
    assert isinstance(granted, Granted) and granted.scopes is None  # no scopes required: any valid token


def test_keys_that_cannot_be_fetched_refuse_the_token(key: Any, jwks_url: str) -> None:
    for where in (jwks_url.replace("jwks.json", "missing.json"), "file:///etc/hostname"):
        verifier = JwtVerifier(lambda issuer, where=where: where)
        assert _check(verifier, _token(key)) == Refused(401, UNAUTHORIZED, {"www-authenticate": "Bearer"}), where


def test_a_cognito_issuers_keys_are_on_the_local_aws_endpoint() -> None:
    assert local_jwks_url("http://127.0.0.1:4566/")(ISSUER) == "http://127.0.0.1:4566/us-east-1_Pool1/.well-known/jwks.json"


# -- from the template -----------------------------------------------------------------------------


def _resolver() -> tuple[Any, Resolver]:
    template = load_template(ROOT / "template.yaml")
    names = {"UserPool": "us-east-1_Pool1", "UserPoolClient": CLIENT}
    resolver = Resolver(template, pseudo={"AWS::Region": "us-east-1"}, ref=lambda lid: names[lid],
                        get_att=lambda lid, attr: f"{lid}.{attr}")
    return template, resolver


@pytest.mark.parametrize("function,path", [("GetMeFunction", "/me"),
                                           ("CreateCheckoutSessionFunction", "/billing/checkout-session"),
                                           ("CreatePortalSessionFunction", "/billing/portal-session")])
def test_the_app_routes_of_template_yaml_need_the_pool_the_client_and_the_scope(function: str, path: str) -> None:
    template, resolver = _resolver()
    (event,) = template.resources[function]["Properties"]["Events"].values()
    api = template.resources[event["Properties"]["ApiId"]["Ref"]]
    route = HttpRoute.of_event(event["Properties"], function, api, resolver.resolve, function)
    assert (route.method, route.path) == ("POST" if "billing" in path else "GET", path)
    assert route.auth == ROUTE
    assert route.cors is not None and route.cors.allow_origins == (template.parameters["AppCorsOrigin"],)


def test_the_webhook_route_has_no_authorizer() -> None:
    template, resolver = _resolver()
    for function, resource in template.of_type("AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "HttpApi" and event["Properties"]["Path"] == "/stripe/webhook":
                api = template.resources[event["Properties"]["ApiId"]["Ref"]]
                assert HttpRoute.of_event(event["Properties"], function, api, resolver.resolve, function).auth is None


def test_default_authorizer_none_and_unsupported_kinds() -> None:
    api = {"Properties": {"Auth": {"DefaultAuthorizer": "Jwt", "Authorizers": {"Jwt": {"JwtConfiguration": {
        "issuer": ISSUER, "audience": [CLIENT]}, "AuthorizationScopes": ["a"]}}}}}
    same = route_auth(api, {}, lambda node, where: node, "x")
    assert same == RouteAuth(JwtAuthorizer("Jwt", ISSUER, (CLIENT,)), scopes=("a",))  # the authorizer's scopes
    assert route_auth(api, {"Auth": {"Authorizer": "NONE"}}, lambda node, where: node, "x") is None
    with pytest.raises(AuthorizerConfigError, match="AWS_IAM"):
        route_auth(api, {"Auth": {"Authorizer": "AWS_IAM"}}, lambda node, where: node, "x")
    with pytest.raises(AuthorizerConfigError, match="not declared"):
        route_auth(api, {"Auth": {"Authorizer": "Other"}}, lambda node, where: node, "x")
    lambda_api = {"Properties": {"Auth": {"DefaultAuthorizer": "L", "Authorizers": {"L": {"FunctionArn": "arn"}}}}}
    with pytest.raises(AuthorizerConfigError, match="only JWT"):
        route_auth(lambda_api, {}, lambda node, where: node, "x")


def test_cors_answers_allowed_origins_only() -> None:
    cors = Cors(allow_origins=("http://app.test",), allow_headers=("authorization",), allow_methods=("GET",),
                max_age=600)
    assert cors.headers("http://app.test") == {"access-control-allow-origin": "http://app.test"}
    assert cors.headers("http://evil.test") == {} and cors.headers("") == {}
    assert cors.preflight("http://app.test", "GET") == {
        "access-control-allow-origin": "http://app.test", "access-control-allow-methods": "GET",
        "access-control-allow-headers": "authorization", "access-control-max-age": "600"}
    assert cors.preflight("http://app.test", "DELETE") == {} and cors.preflight("http://evil.test", "GET") == {}
