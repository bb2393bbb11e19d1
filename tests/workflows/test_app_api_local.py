"""The app's API on the local stack, through the real API server with real Cognito tokens
(``InitiateAuth`` ``USER_PASSWORD_AUTH``): the JWT authorizer as API Gateway runs it, the routes,
and every hostile request answered as docs/app-api.md says, with nothing written, no Lambda run
for a refused token, and no second session or customer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import stripe
from cryptography.hazmat.primitives.asymmetric import rsa
from support import confirm, execution_arn_for, sign_up, unique_email, wait_for_execution, wait_until

PASSWORD = "Corr3ct-Horse-Battery!"
APP_FUNCTIONS = ("GetMeFunction", "CreateCheckoutSessionFunction", "CreatePortalSessionFunction")
UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}


@dataclass
class User:
    sub: str
    email: str
    access: str
    id_token: str
    customer: str


class AppApi:
    """The app's API as a frontend calls it, and the stores it must leave alone."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.info = stack.info
        self.http = httpx.Client(base_url=stack.api_url, timeout=30)
        self.cognito = stack.client("cognito-idp")
        self.ddb = stack.client("dynamodb")
        self.stripe = stripe.StripeClient(self.info["stripe"]["api_key"], base_addresses={"api": stack.stripe_url})
        self.client_id = self.info["cognito"]["client_id"]

    def user(self, given: str = "Ada") -> User:
        email = unique_email(given.lower())
        sub = sign_up(self.stack, email, given=given)
        confirm(self.stack, sub)
        done = wait_for_execution(self.stack.client("stepfunctions"), execution_arn_for(self.stack, sub), timeout=60)
        assert done["status"] == "SUCCEEDED", done
        tokens = self.sign_in(email)
        return User(sub=sub, email=email, access=tokens["AccessToken"], id_token=tokens["IdToken"],
                    customer=self.profile(sub)["stripeCustomerId"]["S"])

    def sign_in(self, email: str, client_id: str | None = None) -> dict[str, str]:
        answer = self.cognito.initiate_auth(ClientId=client_id or self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
        tokens: dict[str, str] = answer["AuthenticationResult"]
        return tokens

    def call(self, method: str, path: str, token: str | None, body: Any = None,
             authorization: str | None = None) -> httpx.Response:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, json=body)

    def profile(self, sub: str) -> dict[str, Any]:
        table = self.info["outputs"]["UserProfilesTableName"]
        item: dict[str, Any] = self.ddb.get_item(TableName=table, Key={"userId": {"S": sub}},
                                                 ConsistentRead=True).get("Item") or {}
        return item

    def entitlement(self, sub: str) -> dict[str, Any]:
        table = self.info["outputs"]["EntitlementsTableName"]
        item: dict[str, Any] = self.ddb.get_item(TableName=table, Key={"cognito_sub": {"S": sub}},
                                                 ConsistentRead=True).get("Item") or {}
        return item

    def sessions(self, customer: str) -> list[str]:
        return [s.id for s in self.stripe.v1.checkout.sessions.list(params={"customer": customer, "limit": 100}).data]

    def customers(self, email: str) -> list[str]:
        return [c.id for c in self.stripe.v1.customers.list(params={"email": email, "limit": 100}).data]

    def app_invocations(self) -> dict[str, int]:
        counts = self.stack.admin.invocation_counts()
        names = {self.info["resources"][f]["name"]: f for f in APP_FUNCTIONS}
        return {logical: counts.get(name, 0) for name, logical in names.items()}

    def snapshot(self, user: User) -> dict[str, Any]:
        """Everything a request could write for ``user``."""
        return {"profile": self.profile(user.sub), "entitlement": self.entitlement(user.sub),
                "customers": self.customers(user.email), "sessions": self.sessions(user.customer)}


@pytest.fixture(scope="module")
def app(stack: Any) -> Iterator[AppApi]:
    api = AppApi(stack)
    yield api
    api.http.close()


@pytest.fixture(scope="module")
def ada(app: AppApi) -> User:
    return app.user("Ada")


@pytest.fixture(scope="module")
def grace(app: AppApi) -> User:
    return app.user("Grace")


def _moto_signed(claims: dict[str, Any]) -> str:
    """A token signed with the key the local Cognito signs with (moto ships it)."""
    from moto.utilities.utils import load_resource

    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})  # type: ignore[arg-type]


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# -- the stack's side: prices, keys, local.json ----------------------------------------------------


def test_local_json_lists_the_allowed_prices_and_the_emulator_sells_them(app: AppApi) -> None:
    prices = app.info["stripe"]["prices"]
    assert prices == ["pro_monthly", "team_monthly"]
    found = app.stripe.v1.prices.list(params={"lookup_keys": prices, "expand": ["data.product"]}).data
    by_key = {p.lookup_key: p for p in found}
    assert set(by_key) == set(prices)
    assert all(p.recurring.interval == "month" and p.active for p in found)
    features = {key: sorted(f.entitlement_feature.lookup_key
                            for f in app.stripe.v1.products.features.list(by_key[key].product.id).data)
                for key in prices}
    assert features == {"pro_monthly": ["exports"], "team_monthly": ["exports", "sso"]}
    config = app.stripe.v1.billing_portal.configurations.list(params={"is_default": True}).data[0]
    assert config.features.subscription_cancel.enabled and config.features.subscription_cancel.mode == "at_period_end"
    switchable = {price for product in config.features.subscription_update.products for price in product.prices}
    assert switchable == {p.id for p in found}


def test_the_pool_keys_are_served_on_the_aws_endpoint(app: AppApi) -> None:
    pool = app.info["cognito"]["user_pool_id"]
    keys = httpx.get(f"{app.stack.aws_url}/{pool}/.well-known/jwks.json").json()["keys"]
    assert [(k["kid"], k["alg"], k["kty"]) for k in keys] == [("dummy", "RS256", "RSA")]
    discovery = httpx.get(f"{app.stack.aws_url}/{pool}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool}"
    assert discovery["jwks_uri"] == f"{app.stack.aws_url}/{pool}/.well-known/jwks.json"
    assert httpx.get(f"{app.stack.aws_url}/us-east-1_nosuchpool/.well-known/jwks.json").status_code == 404


# -- the routes with a real access token ------------------------------------------------------------


def test_get_me_with_the_access_token(app: AppApi, ada: User) -> None:
    answer = app.call("GET", "/me", ada.access)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": ada.sub, "email": ada.email, "entitlement": {
        "status": "none", "plan": None, "features": [], "current_period_end": None, "trial_end": None,
        "cancel_at_period_end": False}}


def test_the_token_alone_without_bearer_is_accepted_as_api_gateway_does(app: AppApi, ada: User) -> None:
    assert app.call("GET", "/me", None, authorization=ada.access).status_code == 200


def test_checkout_gives_a_session_url_for_the_linked_customer_with_the_app_pages(app: AppApi, grace: User) -> None:
    answer = app.call("POST", "/billing/checkout-session", grace.access, {"price": "team_monthly"})
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(f"{app.stack.stripe_url}/c/pay/cs_")
    session = app.stripe.v1.checkout.sessions.retrieve(urlsplit(url).path.rsplit("/", 1)[1])
    app_origin = f"{app.stack.api_url}/app"
    assert (session.customer, session.client_reference_id, session.mode) == (grace.customer, grace.sub, "subscription")
    assert (session.success_url, session.cancel_url) == (f"{app_origin}/?checkout=success",
                                                         f"{app_origin}/?checkout=cancel")
    assert app.sessions(grace.customer) == [session.id]


def test_paying_the_checkout_makes_the_entitlement_active_with_its_features(app: AppApi) -> None:
    user = app.user("Katherine")
    url = app.call("POST", "/billing/checkout-session", user.access, {"price": "pro_monthly"}).json()["url"]
    paid = httpx.post(url, data={"card_number": "4242424242424242"})
    assert paid.status_code == 303 and paid.headers["location"].startswith(f"{app.stack.api_url}/app/?checkout=success")
    app.stack.admin.wait_for_webhooks(30)
    me = wait_until(lambda: (lambda m: m if m["entitlement"]["status"] == "active" and m["entitlement"]["features"]
                             else None)(app.call("GET", "/me", user.access).json()), timeout=30,
                    what="the entitlement to be active with its features")
    assert (me["entitlement"]["plan"], me["entitlement"]["features"]) == ("pro", ["exports"])
    portal = app.call("POST", "/billing/portal-session", user.access, {})
    assert portal.status_code == 200, portal.text
    page = httpx.get(portal.json()["url"])
    assert "Cancel subscription" in page.text and "Switch to" in page.text
    assert f'href="{app.stack.api_url}/app/"' in page.text  # "Return": the app's page by default


# -- hostile requests --------------------------------------------------------------------------------


@pytest.fixture
def untouched(app: AppApi, ada: User) -> Iterator[None]:
    """The request in the test writes nothing and, refused by the authorizer, runs no Lambda."""
    before, calls = app.snapshot(ada), app.app_invocations()
    yield
    assert app.snapshot(ada) == before
    assert app.app_invocations() == calls, "the authorizer let a refused token reach a Lambda"


@pytest.mark.parametrize("method,path", [("GET", "/me"), ("POST", "/billing/checkout-session"),
                                         ("POST", "/billing/portal-session")])
def test_no_token_is_401(app: AppApi, untouched: None, method: str, path: str) -> None:
    answer = app.call(method, path, None, {"price": "pro_monthly"} if method == "POST" else None)
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    assert answer.headers["www-authenticate"] == "Bearer"
    for junk in ("Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"):
        answer = app.call(method, path, None, authorization=junk)
        assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED), junk


def test_a_forged_token_is_401(app: AppApi, ada: User, untouched: None) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(ada.access), other_key, algorithm="RS256", headers={"kid": "dummy"})
    answer = app.call("POST", "/billing/checkout-session", forged, {"price": "pro_monthly"})
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    unsigned = jwt.encode(_claims(ada.access), "", algorithm="none")  # alg none: never accepted
    assert app.call("GET", "/me", unsigned).status_code == 401
    tampered = ada.access.split(".")
    tampered[1] = jwt.utils.base64url_encode(json.dumps({**_claims(ada.access), "sub": "someone"}).encode()).decode()
    assert app.call("GET", "/me", ".".join(tampered)).status_code == 401


def test_a_token_signed_with_the_pools_key_is_accepted(app: AppApi, ada: User) -> None:
    """What the expiry test below relies on: its tokens fail on their times alone."""
    fresh = _moto_signed({**_claims(ada.access), "exp": int(time.time()) + 600})
    assert app.call("GET", "/me", fresh).json()["sub"] == ada.sub


def test_an_expired_or_not_yet_valid_token_is_401(app: AppApi, ada: User, untouched: None) -> None:
    now = int(time.time())
    claims = _claims(ada.access)
    expired = _moto_signed({**claims, "iat": now - 7200, "auth_time": now - 7200, "exp": now - 3600})
    answer = app.call("POST", "/billing/checkout-session", expired, {"price": "pro_monthly"})
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    early = _moto_signed({**claims, "nbf": now + 600, "exp": now + 1200})
    assert (app.call("GET", "/me", early).status_code, app.call("GET", "/me", early).json()) == (401, UNAUTHORIZED)


def test_another_pools_token_is_401(app: AppApi, ada: User, untouched: None) -> None:
    cognito = app.cognito
    pool = cognito.create_user_pool(PoolName="another-app", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="another",
                                             ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    email = unique_email("elsewhere")
    cognito.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True)
    token = app.sign_in(email, client_id=client["ClientId"])["AccessToken"]
    assert _claims(token)["iss"].endswith(pool)  # signed with the same key as the app's pool: only iss differs
    answer = app.call("POST", "/billing/checkout-session", token, {"price": "pro_monthly"})
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)


def test_another_clients_token_of_the_same_pool_is_401(app: AppApi, ada: User, untouched: None) -> None:
    pool = app.info["cognito"]["user_pool_id"]
    other = app.cognito.create_user_pool_client(UserPoolId=pool, ClientName="not-the-app",
                                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    token = app.sign_in(ada.email, client_id=other["ClientId"])["AccessToken"]
    answer = app.call("GET", "/me", token)
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    assert "the token does not have a valid audience" in answer.headers["www-authenticate"]


def test_an_id_token_is_403_it_has_no_scope(app: AppApi, ada: User, untouched: None) -> None:
    assert "scope" not in _claims(ada.id_token) and _claims(ada.id_token)["aud"] == app.client_id
    for method, path in (("GET", "/me"), ("POST", "/billing/checkout-session"), ("POST", "/billing/portal-session")):
        answer = app.call(method, path, ada.id_token, {"price": "pro_monthly"} if "checkout" in path else None)
        assert (answer.status_code, answer.json()) == (403, FORBIDDEN), path


def test_another_users_sub_in_the_body_is_400(app: AppApi, ada: User, grace: User) -> None:
    before = app.snapshot(ada), app.snapshot(grace)
    for body in ({"price": "pro_monthly", "sub": grace.sub}, {"price": "pro_monthly", "customer": grace.customer}):
        answer = app.call("POST", "/billing/checkout-session", ada.access, body)
        assert answer.status_code == 400, answer.text
    answer = app.call("POST", "/billing/portal-session", ada.access, {"sub": grace.sub})
    assert answer.status_code == 400, answer.text
    assert (app.snapshot(ada), app.snapshot(grace)) == before


def test_a_price_not_allowed_is_400(app: AppApi, ada: User) -> None:
    before = app.snapshot(ada)
    product = app.stripe.v1.products.create(params={"name": "not sold", "metadata": {"plan": "cheap"}})
    sneaky = app.stripe.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1,
                                                 "recurring": {"interval": "month"}, "lookup_key": "cheap_monthly"})
    for price in ("cheap_monthly", sneaky.id, "enterprise_monthly"):
        answer = app.call("POST", "/billing/checkout-session", ada.access, {"price": price})
        assert answer.status_code == 400 and "is not one the app sells" in answer.json()["message"], price
    assert app.snapshot(ada) == before


def test_a_redirect_to_another_origin_is_400(app: AppApi, ada: User) -> None:
    before = app.snapshot(ada)
    api = app.stack.api_url
    for field, url in (("success_url", "https://evil.example.com/app/"), ("cancel_url", f"{api}/elsewhere"),
                       ("success_url", f"{api.replace('127.0.0.1', 'localhost')}/app/")):
        answer = app.call("POST", "/billing/checkout-session", ada.access, {"price": "pro_monthly", field: url})
        assert answer.status_code == 400 and field in answer.json()["message"], (field, url)
    answer = app.call("POST", "/billing/portal-session", ada.access, {"return_url": "https://evil.example.com/"})
    assert answer.status_code == 400 and "return_url" in answer.json()["message"]
    assert app.snapshot(ada) == before


def test_a_double_click_opens_one_session(app: AppApi) -> None:
    user = app.user("Dorothy")
    first = app.call("POST", "/billing/checkout-session", user.access, {"price": "pro_monthly"})
    second = app.call("POST", "/billing/checkout-session", user.access, {"price": "pro_monthly"})
    assert first.status_code == second.status_code == 200
    assert first.json()["url"] == second.json()["url"]
    assert len(app.sessions(user.customer)) == 1
    assert app.customers(user.email) == [user.customer]
