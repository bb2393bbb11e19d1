"""The app's routes as steps (moto's tables and pool, Stripe as the in-memory port): who the caller
is, what each route answers, and every hostile request answered without writing anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from linkflow_shared.app_api import (
    ApiRequest,
    AppConfig,
    create_checkout_session,
    create_portal_session,
    get_me,
    under_origin,
)
from linkflow_shared.errors import DynamoDBRequestRejected, DynamoDBUnavailable
from linkflow_shared.stores import EntitlementRecord, ProfileRecord, Table
from unit_support import InMemoryStripe

ORIGIN = "https://app.example.com/app"


def request(sub: str | None, body: Any = None, token_use: str = "access", username: str | None = None) -> ApiRequest:
    claims = {"sub": sub, "token_use": token_use, "username": username or sub} if sub else {}
    event = {"requestContext": {"http": {"method": "POST"}, "authorizer": {"jwt": {"claims": claims}}},
             "body": body if isinstance(body, str) or body is None else json.dumps(body)}
    return ApiRequest.model_validate(event)


@pytest.fixture
def app(aws):
    username, sub = aws.create_native_user("ada@example.com")
    stripe = InMemoryStripe()
    stripe.prices = {"pro_monthly": "price_pro", "hidden_price": "price_hidden"}
    config = AppConfig(origin=ORIGIN, allowed_prices=("pro_monthly",), user_pool_id=aws.pool_id, platform="linkflow")
    return {"aws": aws, "sub": sub, "username": username, "stripe": stripe, "config": config}


def checkout(app: dict[str, Any], req: ApiRequest, now: float = 1000.0):
    return create_checkout_session(req, profiles=app["aws"].profiles, cognito=app["aws"].cognito,
                                   stripe=app["stripe"], config=app["config"], now=now)


def test_me_answers_the_callers_profile_and_entitlement(app):
    aws, sub = app["aws"], app["sub"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com", status="active", plan="pro",
                                              features=["exports"], current_period_end=99, cancel_at_period_end=True))
    answer = get_me(request(sub), profiles=aws.profiles, entitlements=aws.entitlements)
    assert (answer.status, answer.body) == (200, {"sub": sub, "email": "ada@example.com", "entitlement": {
        "status": "active", "plan": "pro", "features": ["exports"], "current_period_end": 99, "trial_end": None,
        "cancel_at_period_end": True}})


class Reads:
    """The DynamoDB reads a store makes: ``get`` per item, ``transact`` per TransactGetItems;
    ``cancel`` makes TransactGetItems fail with those cancellation reasons."""

    def __init__(self, monkeypatch, stores, cancel: list[str] | None = None) -> None:
        self.calls: list[str] = []
        client = stores[0]._table._table.meta.client
        transact, get = client.transact_get_items, Table.get

        def counted_transact(**kwargs):
            self.calls.append("transact")
            if cancel:
                reasons = [{"Code": code} for code in cancel]
                raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "canceled"},
                                   "CancellationReasons": reasons}, "TransactGetItems")
            return transact(**kwargs)

        def counted_get(table, key, **kwargs):
            self.calls.append("get")
            return get(table, key, **kwargs)

        monkeypatch.setattr(client, "transact_get_items", counted_transact)
        monkeypatch.setattr(Table, "get", counted_get)


def test_me_reads_both_records_in_one_round_trip(app, monkeypatch):
    aws, sub = app["aws"], app["sub"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com", status="trialing"))
    profiles, entitlements = aws.profiles, aws.entitlements
    reads = Reads(monkeypatch, (profiles, entitlements))
    answer = get_me(request(sub), profiles=profiles, entitlements=entitlements)
    assert answer.body["email"] == "ada@example.com" and answer.body["entitlement"]["status"] == "trialing"
    assert reads.calls == ["transact"]


@pytest.mark.parametrize("stored", ["profile only", "nothing"])
def test_me_without_an_entitlement_or_a_profile(app, stored):
    aws, sub = app["aws"], app["sub"]
    if stored == "profile only":
        aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    answer = get_me(request(sub), profiles=aws.profiles, entitlements=aws.entitlements)
    email = "ada@example.com" if stored == "profile only" else None  # the token's claims carry no email here
    assert (answer.status, answer.body) == (200, {"sub": sub, "email": email, "entitlement": {
        "status": "none", "plan": None, "features": [], "current_period_end": None, "trial_end": None,
        "cancel_at_period_end": False}})


def test_me_reads_one_by_one_when_a_write_in_flight_cancels_the_snapshot(app, monkeypatch):
    aws, sub = app["aws"], app["sub"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com", status="active", plan="pro"))
    profiles, entitlements = aws.profiles, aws.entitlements
    reads = Reads(monkeypatch, (profiles, entitlements), cancel=["None", "TransactionConflict"])
    answer = get_me(request(sub), profiles=profiles, entitlements=entitlements)
    assert answer.body["entitlement"]["plan"] == "pro" and answer.body["email"] == "ada@example.com"
    assert reads.calls == ["transact", "get", "get"]


def test_any_other_cancellation_is_an_error_not_a_second_read(app, monkeypatch):
    aws, sub = app["aws"], app["sub"]
    profiles, entitlements = aws.profiles, aws.entitlements
    reads = Reads(monkeypatch, (profiles, entitlements), cancel=["ValidationError", "TransactionConflict"])
    with pytest.raises(DynamoDBRequestRejected):
        get_me(request(sub), profiles=profiles, entitlements=entitlements)
    assert reads.calls == ["transact"]


def test_checkout_for_a_linked_user_is_one_stripe_call_and_a_double_click_is_one_session(app):
    aws, sub, stripe = app["aws"], app["sub"], app["stripe"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com", stripe_customer_id="cus_1"))
    first = checkout(app, request(sub, {"price": "pro_monthly"}))
    again = checkout(app, request(sub, {"price": "pro_monthly"}), now=1001.0)
    assert first.status == again.status == 200 and first.body == again.body and len(stripe.sessions) == 1
    (call,) = [c for name, c in stripe.calls if name == "checkout"][:1]
    assert call["customer"] == "cus_1" and call["sub"] == sub and call["price_id"] == "price_pro"
    assert call["success_url"].startswith(ORIGIN) and call["cancel_url"].startswith(ORIGIN)
    assert [name for name, _ in stripe.calls].count("create") == 0, "no customer created for a linked user"


def test_checkout_gets_or_creates_the_customer_through_onboardings_path(app):
    aws, sub, stripe = app["aws"], app["sub"], app["stripe"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    answer = checkout(app, request(sub, {"price": "pro_monthly"}, username=app["username"]))
    assert answer.status == 200
    (created,) = [c for name, c in stripe.calls if name == "create"]
    assert created["idempotency_key"] == f"linkflow-onboarding-customer-{sub}", "onboarding's key: never two"
    assert aws.profiles.get(sub).stripe_customer_id == stripe.live()[0]
    assert not [name for name, _ in stripe.calls if name == "list"], "never a Stripe search or list"


@pytest.mark.parametrize("case, req, status", [
    ("no token", lambda sub: request(None, {"price": "pro_monthly"}), 401),
    ("an ID token", lambda sub: request(sub, {"price": "pro_monthly"}, token_use="id"), 401),
    ("a price not allowed", lambda sub: request(sub, {"price": "hidden_price"}), 400),
    ("a redirect to another origin", lambda sub: request(sub, {"price": "pro_monthly",
                                                            "success_url": "https://evil.example.com/x"}), 400),
    ("a look-alike host", lambda sub: request(sub, {"price": "pro_monthly",
                                                    "cancel_url": "https://app.example.com.evil.com/app"}), 400),
    ("another user's sub in the body", lambda sub: request(sub, {"price": "pro_monthly", "sub": "someone"}), 400),
    ("not JSON", lambda sub: request(sub, "{nope"), 400),
])
def test_hostile_checkouts_are_refused_and_write_nothing(app, case, req, status):
    aws, sub, stripe = app["aws"], app["sub"], app["stripe"]
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    before = aws.items("UserProfilesTable")
    answer = checkout(app, req(sub))
    assert answer.status == status, (case, answer.body)
    if status == 401:
        assert answer.body == {"message": "Unauthorized"}
    assert [name for name, _ in stripe.calls if name in ("create", "checkout")] == []
    assert aws.items("UserProfilesTable") == before


def test_no_profile_yet_is_409_and_the_portal_needs_a_customer(app):
    aws, sub, stripe = app["aws"], app["sub"], app["stripe"]
    assert checkout(app, request(sub, {"price": "pro_monthly"})).status == 409
    portal = create_portal_session(request(sub, {}), profiles=aws.profiles, stripe=stripe, config=app["config"])
    assert portal.status == 409
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com", stripe_customer_id="cus_1"))
    portal = create_portal_session(request(sub, {}), profiles=aws.profiles, stripe=stripe, config=app["config"])
    assert portal.status == 200 and portal.body["url"].endswith("cus_1")
    assert stripe.calls[-1][1]["return_url"].startswith(ORIGIN)


def test_the_origin_check():
    assert under_origin("https://app.example.com/app/billing?x=1", ORIGIN)
    assert under_origin("https://app.example.com/app", ORIGIN)
    assert not under_origin("https://app.example.com/application", ORIGIN)
    assert not under_origin("http://app.example.com/app", ORIGIN)
    assert not under_origin("https://user:pw@app.example.com/app", ORIGIN)
    assert not under_origin("https://app.example.com:8443/app", ORIGIN)


def test_the_me_handler_builds_its_tables_once_per_warm_environment(aws, load_handler, context, monkeypatch):
    from linkflow_shared import aws_clients

    handler = load_handler("GetMeFunction")
    _, sub = aws.create_native_user("grace@example.com")
    aws.profiles.create(ProfileRecord(user_id=sub, email="grace@example.com"))
    event = {"requestContext": {"http": {"method": "GET"},
                                "authorizer": {"jwt": {"claims": {"sub": sub, "token_use": "access"}}}}}
    first = handler(event, context)

    def no_new_table(name: str) -> None:
        raise AssertionError(f"Table {name} built again on a warm invocation")

    for resource in aws_clients._thread.resources.values():  # the only way a Table is built
        monkeypatch.setattr(resource, "Table", no_new_table)
    answers = [first, *(handler(event, context) for _ in range(2))]
    assert [json.loads(a["body"])["email"] for a in answers] == ["grace@example.com"] * 3
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # another endpoint: built again for it
    with pytest.raises(DynamoDBUnavailable):  # nothing listens there: what matters is that it was asked
        handler(event, context)


def test_tables_are_kept_per_thread_name_and_endpoint(monkeypatch):
    import threading

    from linkflow_shared import aws_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    aws_clients.clear_cache()
    first = aws_clients.dynamodb_table("Profiles")
    assert aws_clients.dynamodb_table("Profiles") is first
    assert aws_clients.dynamodb_table("Entitlements") is not first
    assert aws_clients.dynamodb_table("Profiles", endpoint_url="http://127.0.0.1:10") is not first
    elsewhere: list[object] = []
    thread = threading.Thread(target=lambda: elsewhere.append(aws_clients.dynamodb_table("Profiles")))
    thread.start()
    thread.join()
    assert elsewhere[0] is not first, "boto3 resources are not thread-safe: one per thread"
    aws_clients.clear_cache()
    assert aws_clients.dynamodb_table("Profiles") is not first
