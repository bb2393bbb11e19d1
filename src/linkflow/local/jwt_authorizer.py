"""The JWT authorizer of an HTTP API, as API Gateway runs it in front of a route.

Read from the template: an ``AWS::Serverless::HttpApi``'s ``Auth.Authorizers.<name>.JwtConfiguration``
(``issuer``, ``audience``), ``IdentitySource``, ``DefaultAuthorizer``, and a route's
``Auth.Authorizer`` / ``Auth.AuthorizationScopes``. For each request, as API Gateway documents it:

1. the identity source (``Authorization``) holds the token, alone or after ``Bearer``;
2. the signature is checked with the issuer's key named by the token's ``kid`` (RSA algorithms
   only), fetched from the issuer's JWKS (a Cognito issuer's keys come from the local AWS
   endpoint, ``/<pool id>/.well-known/jwks.json``; another issuer is asked for its
   ``/.well-known/openid-configuration``);
3. ``iss`` equals the configured issuer; ``aud`` is one of the audience entries, or, when the
   token has no ``aud`` (a Cognito access token), ``client_id`` is; ``exp`` is in the future,
   ``nbf`` and ``iat`` are not;
4. the token carries at least one of the route's scopes (``scope`` or ``scp``).

Steps 1-3 failing answer 401 ``{"message":"Unauthorized"}``; a valid token without the route's
scope answers 403 ``{"message":"Forbidden"}`` (a Cognito ID token has no ``scope``, so a route
requiring ``aws.cognito.signin.user.admin`` refuses it with 403). ``token_use`` is not checked:
API Gateway does not look at it. The granted request carries
``requestContext.authorizer.jwt``: ``claims`` (every claim as a string; a list as ``[a b]``) and
``scopes`` (the token's, or ``None`` when it has none).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import jwt.utils

from .template import TemplateError

UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
RSA_ALGORITHMS = ["RS256", "RS384", "RS512"]
KEY_CACHE_SECONDS = 2 * 3600  # API Gateway caches an issuer's keys for two hours
VERIFIED_TOKENS = 1024  # tokens whose signature is remembered, the least recently used dropped first
_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/(?P<pool>[\w-]+_[0-9A-Za-z]+)$")


class AuthorizerConfigError(TemplateError):
    """The template's authorizer cannot be run locally; the message says where."""


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    header: str = "authorization"  # from IdentitySource $request.header.<name>


@dataclass(frozen=True)
class RouteAuth:
    authorizer: JwtAuthorizer
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Granted:
    claims: dict[str, str]
    scopes: list[str] | None

    def event_context(self) -> dict[str, Any]:
        return {"jwt": {"claims": self.claims, "scopes": self.scopes}}


@dataclass(frozen=True)
class Refused:
    status: int
    body: dict[str, str]
    headers: dict[str, str]


# -- from the template ------------------------------------------------------------------------


def route_auth(api: Mapping[str, Any] | None, event: Mapping[str, Any],
               resolve: Callable[[Any, str], Any], where: str) -> RouteAuth | None:
    """The authorizer guarding an HttpApi event's route. ``api`` is the HttpApi resource the
    event's ``ApiId`` names (None: SAM's implicit API); ``resolve`` resolves intrinsics."""
    auth = ((api or {}).get("Properties") or {}).get("Auth") or {}
    route = event.get("Auth") or {}
    name = route.get("Authorizer") or auth.get("DefaultAuthorizer")
    if not name or name == "NONE":
        return None
    if name == "AWS_IAM":
        raise AuthorizerConfigError(f"{where}: AWS_IAM authorization is not run by the local stack")
    spec = (auth.get("Authorizers") or {}).get(name)
    if spec is None:
        raise AuthorizerConfigError(f"{where}: authorizer {name} is not declared in the API's Auth.Authorizers")
    if "JwtConfiguration" not in spec:
        raise AuthorizerConfigError(f"{where}: authorizer {name}: only JWT authorizers are run by the local stack")
    config = resolve(spec["JwtConfiguration"], f"{where}.Auth.Authorizers.{name}")
    source = str(spec.get("IdentitySource", "$request.header.Authorization"))
    if not source.startswith("$request.header."):
        raise AuthorizerConfigError(f"{where}: authorizer {name}: IdentitySource {source} is not a header")
    issuer = str(config.get("issuer") or config.get("Issuer") or "")
    audience = config.get("audience") or config.get("Audience") or []
    if not issuer or not audience:
        raise AuthorizerConfigError(f"{where}: authorizer {name} needs an issuer and an audience")
    scopes = route.get("AuthorizationScopes", spec.get("AuthorizationScopes")) or []
    authorizer = JwtAuthorizer(name=name, issuer=issuer, audience=tuple(str(a) for a in audience),
                               header=source.removeprefix("$request.header.").lower())
    return RouteAuth(authorizer=authorizer, scopes=tuple(str(s) for s in resolve(scopes, where)))


# -- at request time --------------------------------------------------------------------------


def _challenge(description: str | None = None) -> dict[str, str]:
    if description is None:
        return {"www-authenticate": "Bearer"}
    return {"www-authenticate": f'Bearer error="invalid_token", error_description="{description}"'}


def _claim_text(value: Any) -> str:
    """A claim as API Gateway hands it to the integration."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _token_scopes(claims: Mapping[str, Any]) -> list[str] | None:
    raw = claims.get("scope", claims.get("scp"))
    if raw is None:
        return None
    return [str(s) for s in raw] if isinstance(raw, list) else str(raw).split()


@functools.lru_cache(maxsize=64)
def _kid_of_header(segment: str) -> str:
    header = json.loads(jwt.utils.base64url_decode(segment))
    if header.get("kid") is None:
        raise jwt.PyJWKClientError("the token's header names no key")
    return str(header["kid"])


def _kid(token: str) -> str:
    """The ``kid`` in the token's header, read unverified: it only picks the key ``jwt.decode`` then
    checks the whole token with (PyJWT's ``get_signing_key_from_jwt`` would parse the token a
    second time for it). A pool's tokens share a few headers: each is decoded once."""
    return _kid_of_header(token.split(".", 1)[0])


@dataclass(frozen=True)
class _Verified:
    """A token whose signature, issuer and format passed, with the key that checked it."""

    key: jwt.PyJWK
    claims: dict[str, Any]
    texts: dict[str, str]  # the claims as the integration gets them
    expires: int  # exp
    not_before: int | None  # the later of nbf and iat

    @classmethod
    def of(cls, key: jwt.PyJWK, claims: dict[str, Any]) -> _Verified:
        starts = [int(claims[name]) for name in ("nbf", "iat") if name in claims]  # as PyJWT reads them
        return cls(key, claims, {k: _claim_text(v) for k, v in claims.items()}, int(claims["exp"]),
                   max(starts) if starts else None)

    def current(self, now: float) -> bool:
        """``exp`` still ahead, ``nbf`` and ``iat`` not (PyJWT's comparisons, no leeway)."""
        return self.expires > now and (self.not_before is None or self.not_before <= now)


class JwtVerifier:
    """Verifies tokens for every route; keys are fetched once per issuer and kept two hours.

    A token's signature is checked once while the issuer's key that checked it stays the one its
    ``kid`` names: a key set fetched again (rotated, or a key removed) checks the token again.
    The time claims are checked on every request, against the clock.
    """

    def __init__(self, jwks_url: Callable[[str], str], *, key_lifespan: float = KEY_CACHE_SECONDS,
                 verified_tokens: int = VERIFIED_TOKENS):
        self._jwks_url = jwks_url
        self._key_lifespan = key_lifespan
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()
        self._verified: OrderedDict[tuple[str, str], _Verified] = OrderedDict()  # by (issuer, token)
        self._verified_max = verified_tokens

    def _client(self, issuer: str) -> jwt.PyJWKClient:
        with self._lock:
            client = self._clients.get(issuer)
            if client is None:
                client = jwt.PyJWKClient(self._jwks_url(issuer), lifespan=self._key_lifespan, timeout=10)
                self._clients[issuer] = client
            return client

    def _verify(self, token: str, issuer: str) -> _Verified:
        """The token checked with its issuer's current key; raises what ``jwt.decode`` raises."""
        key = self._client(issuer).get_signing_key(_kid(token))  # the cached key set, refetched every two hours
        cached = (issuer, token)
        with self._lock:
            verified = self._verified.get(cached)
            if verified is not None and verified.key is key:
                self._verified.move_to_end(cached)
                return verified
        claims: dict[str, Any] = jwt.decode(  # the whole token parsed and checked once, here
            token, key.key, algorithms=RSA_ALGORITHMS, issuer=issuer, leeway=0,
            options={"verify_aud": False, "require": ["exp", "iss"]},
        )
        verified = _Verified.of(key, claims)
        with self._lock:
            self._verified[cached] = verified
            self._verified.move_to_end(cached)
            while len(self._verified) > self._verified_max:
                self._verified.popitem(last=False)
        return verified

    def _remembered(self, token: str, issuer: str) -> _Verified | None:
        """The token as verified before, if the issuer's key set held now (not fetched: never
        waiting on the network) still names the key that checked it."""
        with self._lock:
            client = self._clients.get(issuer)
            verified = self._verified.get((issuer, token))
            if verified is not None:
                self._verified.move_to_end((issuer, token))
        if client is None or verified is None or client.jwk_set_cache is None:
            return None
        jwk_set = client.jwk_set_cache.get()  # None once expired: to be fetched again
        kid = verified.key.key_id
        if jwk_set is None:
            return None
        current = next((key for key in jwk_set.keys if key.key_id == kid and key.public_key_use in ("sig", None)),
                       None)  # what PyJWKClient.get_signing_key answers from the held set
        return verified if current is verified.key else None

    def authorize(self, headers: Mapping[str, str], auth: RouteAuth) -> Granted | Refused:
        token = _token(headers, auth.authorizer)
        if not token:
            return Refused(401, UNAUTHORIZED, _challenge())
        try:
            verified = self._verify(token, auth.authorizer.issuer)
        except (jwt.PyJWTError, OSError, KeyError, ValueError, TypeError, AttributeError):
            # OSError: the issuer's keys could not be fetched; API Gateway refuses the token then too
            return Refused(401, UNAUTHORIZED, _challenge())
        return self._decide(verified, auth)

    def authorize_remembered(self, headers: Mapping[str, str], auth: RouteAuth) -> Granted | Refused | None:
        """``authorize`` when it needs no signature check and no key fetch (a token verified
        before, its key still held): cheap and never blocking. None: call ``authorize``."""
        token = _token(headers, auth.authorizer)
        if not token:
            return Refused(401, UNAUTHORIZED, _challenge())
        verified = self._remembered(token, auth.authorizer.issuer)
        return None if verified is None else self._decide(verified, auth)

    def _decide(self, verified: _Verified, auth: RouteAuth) -> Granted | Refused:
        """The checks made on every request, remembered token or not."""
        authorizer = auth.authorizer
        if not verified.current(time.time()):  # checked by jwt.decode too, but a verified token ages
            return Refused(401, UNAUTHORIZED, _challenge())
        claims = verified.claims
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(str(a) in authorizer.audience for a in audiences if a is not None):
            return Refused(401, UNAUTHORIZED, _challenge("the token does not have a valid audience"))
        scopes = _token_scopes(claims)
        if auth.scopes and not set(auth.scopes) & set(scopes or []):
            return Refused(403, FORBIDDEN, {})
        return Granted(claims=dict(verified.texts), scopes=scopes)  # a copy: the event is the handler's


def _token(headers: Mapping[str, str], authorizer: JwtAuthorizer) -> str:
    """The identity source's token, alone or after ``Bearer``; empty when there is none."""
    raw = headers.get(authorizer.header, "").strip()
    return raw[len("bearer "):].strip() if raw.lower().startswith("bearer ") else raw


def local_jwks_url(aws_url: str) -> Callable[[str], str]:
    """Where an issuer's keys are: a Cognito pool's on the local AWS endpoint, any other issuer's
    from its OpenID configuration (as API Gateway discovers them)."""

    def jwks_url(issuer: str) -> str:
        match = _COGNITO_ISSUER.match(issuer)
        if match:
            return f"{aws_url.rstrip('/')}/{match.group('pool')}/.well-known/jwks.json"
        with urllib.request.urlopen(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10) as answer:
            return str(json.loads(answer.read())["jwks_uri"])

    return jwks_url
