"""Reconcile: what comparing one user's records finds (every kind), what each fix does (on moto's
tables and pool, Stripe as the in-memory port), dry runs, refusals, and that a fixed user is
found clean by the next comparison."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from linkflow_shared.reconcile import FINDING_KINDS, Repairer, UserSnapshot, find
from linkflow_shared.reconcile.models import CognitoEntry, CustomerEntry
from linkflow_shared.stores import EmailClaim, EntitlementRecord, ProfileRecord
from unit_support import InMemoryStripe

SUB = str(uuid.uuid4())
POOL = "us-east-1_pool"


def cognito(**fields: Any) -> CognitoEntry:
    base = {"username": SUB, "sub": SUB, "status": "CONFIRMED", "email": "ada@example.com", "email_verified": True}
    return CognitoEntry.model_validate({**base, **fields})


def customer(cid: str = "cus_A", **fields: Any) -> CustomerEntry:
    metadata = {"cognito_sub": SUB, "cognito_user_id": SUB, "user_pool_id": POOL}
    return CustomerEntry.model_validate({"id": cid, "email": "ada@example.com", "metadata": metadata, **fields})


def healthy(**changes: Any) -> UserSnapshot:
    user = UserSnapshot(
        sub=SUB, cognito=cognito(),
        profile=ProfileRecord(user_id=SUB, email="ada@example.com", stripe_customer_id="cus_A"),
        entitlement=EntitlementRecord(cognito_sub=SUB, email="ada@example.com", status="none",
                                      stripe_customer_id="cus_A"),
        claims=[EmailClaim(email="ada@example.com", user_id=SUB)],
        customers=[customer()],
    )
    return user.model_copy(update=changes)


def kinds(user: UserSnapshot, status: str | None = "SUCCEEDED") -> list[str]:
    return [f.kind for f in find(user, onboarding_status=status)]


def test_a_healthy_user_has_no_finding():
    assert kinds(healthy()) == []


@pytest.mark.parametrize("status, expected", [
    ("RUNNING", []), ("SUCCEEDED", ["missing_profile"]), ("FAILED", ["missing_onboarding"]),
    ("TIMED_OUT", ["missing_onboarding"]), (None, ["missing_onboarding"]),
])
def test_a_user_without_a_profile_depends_on_its_onboarding(status, expected):
    assert kinds(healthy(profile=None), status) == expected


def test_every_kind_is_found_and_named_exactly():
    active = {"id": "sub_1", "status": "active", "created": 1, "items": {"data": [
        {"current_period_end": 99, "price": {"lookup_key": "pro", "product": {"metadata": {}}}}]}}
    found = {
        "missing_entitlement": kinds(healthy(entitlement=None)),
        "unlinked_customer": kinds(healthy(profile=ProfileRecord(user_id=SUB, email="ada@example.com"))),
        "missing_customer": kinds(healthy(profile=ProfileRecord(user_id=SUB, email="ada@example.com"),
                                          customers=[])),
        "duplicate_customers": kinds(healthy(customers=[customer(), customer("cus_B")])),
        "customer_metadata": kinds(healthy(customers=[customer(metadata={"cognito_sub": SUB})])),
        "entitlement_drift": kinds(healthy(customers=[customer(subscriptions=[active])])),
        "email_drift": kinds(healthy(cognito=cognito(email="ada.new@example.com"))),
        "orphan_records": kinds(healthy(cognito=None)),
    }
    found["missing_customer"] += kinds(healthy(customers=[customer(deleted=True)]))
    for kind, got in found.items():
        assert kind in got, (kind, got)
    assert set(found) | {"missing_profile", "missing_onboarding"} == set(FINDING_KINDS)


def test_a_profile_linking_a_deleted_customer_is_missing_its_customer():
    found = find(healthy(customers=[customer(deleted=True)]), onboarding_status="SUCCEEDED")
    assert [(f.kind, f.customer_ids) for f in found] == [("missing_customer", ["cus_A"])]


def test_what_is_not_a_finding():
    assert kinds(healthy(cognito=cognito(status="UNCONFIRMED"), profile=None)) == []
    assert kinds(healthy(cognito=cognito(enabled=False), profile=None), None) == [], "a disabled duplicate"
    assert kinds(healthy(cognito=cognito(email="other@example.com", email_verified=False))) == [], (
        "an unverified Cognito email decides nothing")


# --- repairs on moto's tables -------------------------------------------------------------------


@pytest.fixture
def world(aws):
    username, sub = aws.create_native_user("ada@example.com", given_name="Ada", family_name="Lovelace")
    stripe = InMemoryStripe()
    repairer = Repairer(
        cognito=aws.cognito, stripe=stripe, profiles=aws.profiles, entitlements=aws.entitlements,
        claims=aws.claims, sfn=aws.sfn, onboarding_state_machine_arn="arn:aws:states:us-east-1:123456789012:"
        "stateMachine:linkflow-dev-onboarding", user_pool_id=aws.pool_id, platform="linkflow", run_id="run1",
        fix_kinds=set(FINDING_KINDS) - {"orphan_records"},
    )
    return {"aws": aws, "sub": sub, "username": username, "stripe": stripe, "repairer": repairer}


def snapshot_of(world: dict[str, Any]) -> UserSnapshot:
    aws, sub, stripe = world["aws"], world["sub"], world["stripe"]
    user = aws.idp.admin_get_user(UserPoolId=aws.pool_id, Username=world["username"])
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    claim = aws.claims.get("ada@example.com")
    return UserSnapshot(
        sub=sub,
        cognito=CognitoEntry(username=world["username"], sub=sub, status="CONFIRMED", email=attrs["email"],
                             email_verified=attrs.get("email_verified") == "true"),
        profile=aws.profiles.get(sub), entitlement=aws.entitlements.get(sub),
        claims=[claim] if claim is not None and claim.user_id == sub else [],
        customers=[CustomerEntry.model_validate({**c, "subscriptions": stripe.subscriptions.get(c["id"], [])})
                   for c in stripe.customers.values()],
    )


def repair_all(world: dict[str, Any], status: str | None = "SUCCEEDED") -> list[Any]:
    user = snapshot_of(world)
    return [world["repairer"].fix(f, user) for f in find(user, onboarding_status=status)]


def test_a_missing_profile_is_rebuilt_with_entitlement_and_customer_and_then_nothing_is_found(world):
    outcomes = repair_all(world)
    assert [(o.kind, o.status) for o in outcomes] == [("missing_profile", "fixed")]
    aws, sub = world["aws"], world["sub"]
    profile = aws.profiles.get(sub)
    assert profile.given_name == "Ada" and profile.stripe_customer_id in world["stripe"].live()
    assert aws.entitlements.get(sub).email == "ada@example.com"
    world["aws"].claims.claim("ada@example.com", sub, "t")
    assert repair_all(world) == [], "a run right after a run finds nothing"


def test_an_unlinked_customer_is_linked_not_duplicated(world):
    aws, sub, stripe = world["aws"], world["sub"], world["stripe"]
    aws.claims.claim("ada@example.com", sub, "t")
    cid = stripe.add("ada@example.com", sub, metadata={"cognito_user_id": sub, "cognito_sub": sub,
                                                       "user_pool_id": aws.pool_id})
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com"))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com"))
    assert [(o.kind, o.status) for o in repair_all(world)] == [("unlinked_customer", "fixed")]
    assert aws.profiles.get(sub).stripe_customer_id == cid and stripe.live() == [cid]
    assert repair_all(world) == []


def test_duplicates_are_deleted_only_when_empty_and_a_dry_run_changes_nothing(world):
    aws, sub, stripe = world["aws"], world["sub"], world["stripe"]
    aws.claims.claim("ada@example.com", sub, "t")
    metadata = {"cognito_user_id": sub, "cognito_sub": sub, "user_pool_id": aws.pool_id}
    kept = stripe.add("ada@example.com", sub, metadata=dict(metadata))
    empty = stripe.add("ada@example.com", sub, metadata=dict(metadata))
    paying = stripe.add("ada@example.com", sub, metadata=dict(metadata), balance=-100)
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com", stripe_customer_id=kept))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com", stripe_customer_id=kept))
    world["repairer"].dry_run = True
    assert [(o.kind, o.status) for o in repair_all(world)] == [("duplicate_customers", "not_fixed")]
    assert sorted(stripe.live()) == sorted([kept, empty, paying])
    world["repairer"].dry_run = False
    (outcome,) = repair_all(world)
    assert outcome.status == "refused" and paying in (outcome.reason or "")
    assert sorted(stripe.live()) == sorted([kept, paying]), "the empty duplicate is gone, the paying one stays"


def test_customer_metadata_and_email_drift_are_repaired_everywhere(world):
    aws, sub, stripe, username = world["aws"], world["sub"], world["stripe"], world["username"]
    aws.claims.claim("ada@example.com", sub, "t")
    cid = stripe.add("ada@example.com", sub, metadata={"cognito_sub": sub})
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com", stripe_customer_id=cid))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com", stripe_customer_id=cid))
    aws.idp.admin_update_user_attributes(UserPoolId=aws.pool_id, Username=username, UserAttributes=[
        {"Name": "email", "Value": "ada.new@example.com"}, {"Name": "email_verified", "Value": "true"}])
    outcomes = {o.kind: o.status for o in repair_all(world)}
    assert outcomes == {"customer_metadata": "fixed", "email_drift": "fixed"}
    assert stripe.customers[cid]["metadata"]["user_pool_id"] == aws.pool_id
    assert stripe.customers[cid]["email"] == "ada.new@example.com"
    assert aws.profiles.get(sub).email == aws.entitlements.get(sub).email == "ada.new@example.com"
    assert aws.claims.get("ada.new@example.com").user_id == sub and aws.claims.get("ada@example.com") is None
    updates = [c for name, c in stripe.calls if name == "update"]
    assert all(u["idempotency_key"].startswith("linkflow-reconcile-") for u in updates)


def test_orphans_are_only_reported_unless_asked_and_paid_ones_never_deleted(world):
    aws, stripe = world["aws"], world["stripe"]
    gone = str(uuid.uuid4())
    aws.profiles.create(ProfileRecord(user_id=gone, email="gone@example.com"))
    aws.entitlements.create(EntitlementRecord(cognito_sub=gone, email="gone@example.com", status="active"))
    orphan = UserSnapshot(sub=gone, profile=aws.profiles.get(gone), entitlement=aws.entitlements.get(gone))
    (finding,) = find(orphan, onboarding_status=None)
    assert world["repairer"].fix(finding, orphan).status == "not_fixed"
    world["repairer"].fix_kinds = {"orphan_records"}
    outcome = world["repairer"].fix(finding, orphan)
    assert outcome.status == "refused" and "active" in (outcome.reason or "")
    assert aws.profiles.get(gone) is not None and stripe.calls == []


def test_a_link_to_a_deleted_customer_is_replaced_by_a_live_one(world):
    aws, sub, stripe = world["aws"], world["sub"], world["stripe"]
    aws.claims.claim("ada@example.com", sub, "t")
    gone = stripe.add("ada@example.com", sub, metadata={"cognito_user_id": sub, "cognito_sub": sub,
                                                        "user_pool_id": aws.pool_id})
    stripe.customers[gone]["deleted"] = True
    aws.profiles.create(ProfileRecord(user_id=sub, email="ada@example.com", stripe_customer_id=gone))
    aws.entitlements.create(EntitlementRecord(cognito_sub=sub, email="ada@example.com"))
    assert [(o.kind, o.status) for o in repair_all(world)] == [("missing_customer", "fixed")]
    linked = aws.profiles.get(sub).stripe_customer_id
    assert linked != gone and linked in stripe.live()
    assert repair_all(world) == []
