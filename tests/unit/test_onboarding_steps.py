"""Onboarding steps and compensations against moto (tables and pool from template.yaml).

Stripe is the in-memory ``InMemoryStripe`` (the ``StripeGateway`` port); the SDK against the emulator
is covered by the workflow tests on the local stack.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from linkflow_shared import CognitoUserNotFound, ProfileMissing
from linkflow_shared.onboarding import (
    ClaimedEmailInput,
    DeleteCustomerInput,
    EmailClaimResult,
    OnboardingInput,
    OnboardingState,
    StoreCustomerInput,
    StoreCustomerResult,
    StripeCustomerRef,
    check_duplicate_email,
    compensate_delete_stripe_customer,
    compensate_disable_duplicate_account,
    compensate_rollback_onboarding,
    create_stripe_customer,
    customer_idempotency_key,
    init_entitlement,
    link_provider,
    store_stripe_customer_id,
    write_profile,
)
from unit_support import InMemoryStripe, linking_cognito


def native(aws: Any, email: str = "ada@example.com", spelled: str | None = None) -> OnboardingInput:
    """A native user whose Cognito email is ``spelled`` (moto refuses two users with one spelling)."""
    username, sub = aws.create_native_user((spelled or email).strip(), given_name="Ada", family_name="Lovelace")
    return OnboardingInput(user_pool_id=aws.pool_id, user_name=username, sub=sub, email=spelled or email,
                           email_verified=True)


def federated(aws: Any, email: str, verified: bool = True, provider_user_id: str = "4242") -> OnboardingInput:
    username = f"Google_{provider_user_id}"
    sub = aws.create_federated_user(username, email, verified)
    return OnboardingInput(
        user_pool_id=aws.pool_id,
        user_name=username,
        sub=sub,
        email=email,
        email_verified=verified,
        providers=["Google"],
    )


def tables(aws: Any) -> dict[str, Any]:
    return {"profiles": aws.profiles, "entitlements": aws.entitlements, "claims": aws.claims, "unlinked": aws.unlinked}


TRUSTED = ("Google", "SignInWithApple")


def outcome(aws: Any, onboarding: OnboardingInput) -> str:
    return check_duplicate_email(onboarding, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED).outcome


def onboard(aws: Any, onboarding: OnboardingInput, stripe: InMemoryStripe) -> str:
    """The happy path, step by step; answers the stored customer id."""
    assert outcome(aws, onboarding) == "claimed"
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    init_entitlement(onboarding, entitlements=aws.entitlements)
    customer = create_stripe_customer(
        onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="linkflow"
    )
    state = StoreCustomerInput(**onboarding.model_dump(), stripe_customer=customer)
    return store_stripe_customer_id(state, cognito=aws.cognito, profiles=aws.profiles).stored_customer_id


# --- happy path ---------------------------------------------------------------------------------


def test_happy_path_writes_one_profile_one_entitlement_one_customer(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws, spelled="  Ada@Example.com ")
    customer_id = onboard(aws, onboarding, stripe)

    (profile,) = aws.items("UserProfilesTable")
    assert profile["userId"] == onboarding.sub and profile["email"] == "ada@example.com"
    assert profile["givenName"] == "Ada" and profile["familyName"] == "Lovelace"
    assert profile["stripeCustomerId"] == customer_id and profile["providers"] == ["Cognito"]
    for key in ("createdAt", "updatedAt"):
        assert datetime.fromisoformat(profile[key].replace("Z", "+00:00")).tzinfo is not None
    (entitlement,) = aws.items("EntitlementsTable")
    assert entitlement == {
        "cognito_sub": onboarding.sub,
        "status": "none",
        "email": "ada@example.com",
        "updatedAt": entitlement["updatedAt"],
    }
    (claim,) = aws.items("EmailClaimsTable")
    assert claim["userId"] == onboarding.sub

    creates = [call for name, call in stripe.calls if name == "create"]
    assert len(stripe.calls) == 1 and len(creates) == 1, "exactly one Stripe call: no search, no list"
    assert creates[0]["idempotency_key"] == customer_idempotency_key(onboarding.sub)
    metadata = creates[0]["metadata"]
    assert metadata["cognito_user_id"] == metadata["cognito_sub"] == onboarding.sub
    assert metadata["user_pool_id"] == aws.pool_id
    assert {"platform", "created_via"} <= set(metadata)


def test_every_step_is_idempotent(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    first = onboard(aws, onboarding, stripe)
    profile_before = aws.profiles.get(onboarding.sub)
    # a redrive or a retry runs the steps again: nothing is duplicated or overwritten
    second = onboard(aws, onboarding, stripe)
    assert first == second
    assert len(aws.items("UserProfilesTable")) == len(aws.items("EntitlementsTable")) == 1
    profile_after = aws.profiles.get(onboarding.sub)
    assert profile_after.created_at == profile_before.created_at
    assert stripe.live() == [first]
    assert [name for name, _ in stripe.calls] == ["create"], "the stored customer is reused, not re-created"


def test_init_entitlement_keeps_a_newer_entitlement(aws):
    onboarding = native(aws)
    aws.table("EntitlementsTable").put_item(Item={"cognito_sub": onboarding.sub, "status": "active", "plan": "pro"})
    entitlement = init_entitlement(onboarding, entitlements=aws.entitlements)
    assert entitlement.status == "active"
    assert aws.entitlements.get(onboarding.sub).plan == "pro"


# --- the email claim (behaviours 7 and 8) -------------------------------------------------------


def test_the_claim_goes_to_the_first_claimer_and_names_it_to_the_second(aws):
    # Atomicity itself is DynamoDB's conditional write; moto does not lock, so racing threads
    # against it would test moto. What is ours: the condition and what each claimer is told.
    first, second = native(aws), native(aws, spelled="ADA@example.com")
    assert aws.claims.claim(first.email, first.sub, "t1").user_id == first.sub
    assert aws.claims.claim(second.email, second.sub, "t2").user_id == first.sub
    assert aws.claims.claim(first.email, first.sub, "t3").claimed_at == "t1", "a re-claim keeps the claim"
    (item,) = aws.items("EmailClaimsTable")
    assert item == {"email": "ada@example.com", "userId": first.sub, "claimedAt": "t1"}


def test_a_second_native_account_with_the_email_is_a_duplicate(aws):
    owner, other = native(aws), native(aws, spelled=" Ada@Example.com")
    assert outcome(aws, owner) == "claimed"
    result = check_duplicate_email(other, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    assert result == EmailClaimResult(outcome="duplicate", owner_user_id=owner.sub, owner_user_name=owner.user_name)


def test_a_stale_claim_whose_owner_left_cognito_is_taken_over(aws):
    gone, newcomer = native(aws), native(aws, spelled="ADA@EXAMPLE.COM")
    check_duplicate_email(gone, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    aws.idp.admin_delete_user(UserPoolId=aws.pool_id, Username=gone.user_name)
    assert outcome(aws, newcomer) == "claimed"
    claim = aws.claims.get(newcomer.email)
    assert claim.user_id == newcomer.sub and claim.previous_user_id == gone.sub


def test_the_duplicate_account_is_disabled_and_the_reason_recorded_once(aws):
    owner, other = native(aws), native(aws, spelled="Ada@example.com")
    check_duplicate_email(owner, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    result = check_duplicate_email(other, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    state = ClaimedEmailInput(**other.model_dump(), email_claim=result)
    for _ in range(2):  # a retry records nothing twice
        rejection = compensate_disable_duplicate_account(state, cognito=aws.cognito, claims=aws.claims)
    assert rejection.reason == "duplicate_native_sign_up" and rejection.cognito_disabled
    assert aws.idp.admin_get_user(UserPoolId=aws.pool_id, Username=other.user_name)["Enabled"] is False
    assert aws.idp.admin_get_user(UserPoolId=aws.pool_id, Username=owner.user_name)["Enabled"] is True
    claim = aws.claims.get(owner.email)
    assert claim.user_id == owner.sub
    assert claim.rejected_user_ids == [other.sub] and len(claim.rejections) == 1
    assert aws.items("UserProfilesTable") == []


def test_a_verified_federated_user_with_an_existing_email_is_linked_not_onboarded(aws_federated):
    aws = aws_federated
    stripe = InMemoryStripe()
    owner = native_in_federated_pool(aws)
    onboard(aws, owner, stripe)
    google = federated(aws, owner.email, verified=True)
    result = check_duplicate_email(google, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    assert result.outcome == "link_to_existing" and result.owner_user_id == owner.sub

    cognito = linking_cognito(aws.idp)
    link = link_provider(
        ClaimedEmailInput(**google.model_dump(), email_claim=result), cognito=cognito, profiles=aws.profiles
    )
    assert link.linked_now and link.federated_user_deleted and link.profile_updated
    assert cognito.links == [(aws.pool_id, owner.user_name, "Google", "4242")]
    usernames = {u["Username"] for u in aws.idp.list_users(UserPoolId=aws.pool_id)["Users"]}
    assert google.user_name not in usernames
    (profile,) = aws.items("UserProfilesTable")
    assert profile["userId"] == owner.sub and profile["providers"] == ["Cognito", "Google"]
    assert stripe.live() == [profile["stripeCustomerId"]]


def test_an_unverified_email_never_claims_nor_links(aws_federated):
    # Product rule: an unverified email never claims an address; the account is onboarded under
    # its own sub and the address stays with (or free for) whoever verified it.
    aws = aws_federated
    owner = native_in_federated_pool(aws)
    check_duplicate_email(owner, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    stranger = federated(aws, owner.email, verified=False)
    result = check_duplicate_email(stranger, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    assert result == EmailClaimResult(outcome="unverified", owner_user_id=stranger.sub,
                                      owner_user_name=stranger.user_name)
    assert aws.claims.get(owner.email).user_id == owner.sub
    newcomer = federated(aws, "new@example.com", verified=False, provider_user_id="77")
    assert check_duplicate_email(newcomer, cognito=aws.cognito, claims=aws.claims,
                                 trusted_providers=TRUSTED).outcome == "unverified"
    assert aws.claims.get("new@example.com") is None, "an unverified address stays free"


def test_a_verified_email_is_linked_only_from_a_trusted_provider_into_a_verified_owner(aws_federated):
    aws = aws_federated
    owner = native_in_federated_pool(aws)
    check_duplicate_email(owner, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    google = federated(aws, owner.email, verified=True)
    untrusted = check_duplicate_email(google, cognito=aws.cognito, claims=aws.claims, trusted_providers=("Apple",))
    assert untrusted.outcome == "duplicate", "a provider not trusted for linking is never linked"
    # The owner's email stops being verified (an email change pending verification, say).
    aws.idp.admin_update_user_attributes(UserPoolId=aws.pool_id, Username=owner.user_name,
                                         UserAttributes=[{"Name": "email_verified", "Value": "false"}])
    unverified_owner = check_duplicate_email(google, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
    assert unverified_owner.outcome == "duplicate", "never link into an owner whose email is not verified"


def native_in_federated_pool(aws: Any) -> OnboardingInput:
    username = f"native-{uuid.uuid4().hex[:8]}"
    sub = aws.create_federated_user(username, "ada@example.com", True)
    return OnboardingInput(user_pool_id=aws.pool_id, user_name=username, sub=sub, email="ada@example.com")


# --- Stripe customer (behaviours 3, 4, 9) -------------------------------------------------------


def test_no_customer_is_created_when_the_profile_already_links_one(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    aws.table("UserProfilesTable").update_item(
        Key={"userId": onboarding.sub},
        UpdateExpression="SET stripeCustomerId = :c",
        ExpressionAttributeValues={":c": "cus_checkout"},
    )
    customer = create_stripe_customer(
        onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="linkflow"
    )
    assert customer == StripeCustomerRef(customer_id="cus_checkout", created=False)
    assert stripe.calls == []


def test_a_customer_linked_by_another_path_meanwhile_is_a_conflict_and_ours_is_deleted(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    profiles = aws.table("UserProfilesTable")
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    ours = create_stripe_customer(
        onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="x"
    )
    theirs = stripe.add(onboarding.email, onboarding.sub)  # e.g. a checkout created and linked its own
    profiles.update_item(
        Key={"userId": onboarding.sub},
        UpdateExpression="SET stripeCustomerId = :c",
        ExpressionAttributeValues={":c": theirs},
    )
    stored = store_stripe_customer_id(
        StoreCustomerInput(**onboarding.model_dump(), stripe_customer=ours), cognito=aws.cognito, profiles=aws.profiles
    )
    assert stored == StoreCustomerResult(
        outcome="conflict", stored_customer_id=theirs, own_customer_id=ours.customer_id
    )
    deletion = compensate_delete_stripe_customer(
        DeleteCustomerInput(**onboarding.model_dump(), stripe_customer=ours, stored_customer=stored),
        stripe=stripe,
        unlinked=aws.unlinked,
    )
    assert deletion.deleted_customer_id == ours.customer_id and deletion.kept_customer_id == theirs
    assert stripe.live() == [theirs]
    assert aws.profiles.get(onboarding.sub).stripe_customer_id == theirs


def test_a_customer_this_run_did_not_create_is_never_deleted(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    theirs = stripe.add(onboarding.email, onboarding.sub)
    other = stripe.add(onboarding.email, onboarding.sub)
    state = DeleteCustomerInput(
        **onboarding.model_dump(),
        stripe_customer=StripeCustomerRef(customer_id=other, created=False),
        stored_customer=StoreCustomerResult(outcome="conflict", stored_customer_id=theirs, own_customer_id=other),
    )
    assert compensate_delete_stripe_customer(state, stripe=stripe, unlinked=aws.unlinked).deleted_customer_id is None
    assert sorted(stripe.live()) == sorted([theirs, other])


def test_storing_on_a_vanished_profile_is_terminal(aws):
    onboarding = native(aws)
    state = StoreCustomerInput(
        **onboarding.model_dump(), stripe_customer=StripeCustomerRef(customer_id="cus_1", created=True)
    )
    with pytest.raises(ProfileMissing):
        store_stripe_customer_id(state, cognito=aws.cognito, profiles=aws.profiles)


def test_a_redrive_after_the_idempotency_key_expired_finds_the_earlier_customer(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    profiles = aws.table("UserProfilesTable")
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    profiles.update_item(
        Key={"userId": onboarding.sub},
        UpdateExpression="SET createdAt = :t",
        ExpressionAttributeValues={":t": two_days_ago},
    )
    earlier = stripe.add(onboarding.email, onboarding.sub)
    stripe.add(onboarding.email, str(uuid.uuid4()))  # someone else's customer with the same email
    customer = create_stripe_customer(
        onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="x"
    )
    assert customer == StripeCustomerRef(customer_id=earlier, created=True)
    assert [name for name, _ in stripe.calls] == ["list"]


# --- user deleted mid-run (behaviour 10) --------------------------------------------------------


@pytest.mark.parametrize("step", ["check", "create", "store"])
def test_a_step_notices_the_user_was_deleted(aws, step):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    aws.idp.admin_delete_user(UserPoolId=aws.pool_id, Username=onboarding.user_name)
    with pytest.raises(CognitoUserNotFound):
        if step == "check":
            check_duplicate_email(onboarding, cognito=aws.cognito, claims=aws.claims, trusted_providers=TRUSTED)
        elif step == "create":
            create_stripe_customer(onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="x")
        else:
            state = StoreCustomerInput(
                **onboarding.model_dump(), stripe_customer=StripeCustomerRef(customer_id="cus_1", created=True)
            )
            store_stripe_customer_id(state, cognito=aws.cognito, profiles=aws.profiles)
    assert stripe.calls == [], "no customer is created for a deleted user"
    assert aws.profiles.get(onboarding.sub).stripe_customer_id is None


def test_the_rollback_removes_everything_the_run_created(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    bystander = native(aws, "grace@example.com")
    onboard(aws, bystander, stripe)
    customer_id = onboard(aws, onboarding, stripe)
    aws.idp.admin_delete_user(UserPoolId=aws.pool_id, Username=onboarding.user_name)
    state = OnboardingState(
        **onboarding.model_dump(), stripe_customer=StripeCustomerRef(customer_id=customer_id, created=True)
    )
    for _ in range(2):  # idempotent: a retried rollback finds nothing left to do
        result = compensate_rollback_onboarding(state, stripe=stripe, **tables(aws))
    assert result.deleted_customer_ids == [] and not result.profile_deleted
    assert [p["userId"] for p in aws.items("UserProfilesTable")] == [bystander.sub]
    assert [e["cognito_sub"] for e in aws.items("EntitlementsTable")] == [bystander.sub]
    assert [c["email"] for c in aws.items("EmailClaimsTable")] == ["grace@example.com"]
    assert len(stripe.live()) == 1 and customer_id not in stripe.live()


def test_the_rollback_reports_what_it_removed(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    customer_id = onboard(aws, onboarding, stripe)
    result = compensate_rollback_onboarding(OnboardingState(**onboarding.model_dump()), stripe=stripe, **tables(aws))
    assert result.deleted_customer_ids == [customer_id]
    assert result.profile_deleted and result.entitlement_deleted and result.email_claim_released


# --- compensations never lose money (issue #11.5) -----------------------------------------------


def test_the_runs_customer_with_a_subscription_is_kept_and_recorded(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    write_profile(onboarding, cognito=aws.cognito, profiles=aws.profiles)
    ours = create_stripe_customer(onboarding, cognito=aws.cognito, profiles=aws.profiles, stripe=stripe, platform="x")
    stripe.subscriptions[ours.customer_id] = [{"id": "sub_1", "status": "active"}]
    state = DeleteCustomerInput(
        **onboarding.model_dump(),
        stripe_customer=ours,
        stored_customer=StoreCustomerResult(outcome="conflict", stored_customer_id="cus_other",
                                            own_customer_id=ours.customer_id),
    )
    deletion = compensate_delete_stripe_customer(state, stripe=stripe, unlinked=aws.unlinked)
    assert (deletion.deleted_customer_id, deletion.refused) == (None, "has_subscriptions")
    assert stripe.live() == [ours.customer_id]
    record = aws.unlinked.get(ours.customer_id)
    assert (record.reason, record.metadata_sub) == ("kept_by_compensation:has_subscriptions", onboarding.sub)


@pytest.mark.parametrize("billing, reason", [
    ({"balance": -500}, "non_zero_balance"),
    ({"invoices": ["in_1"]}, "has_invoices"),
    ({"created_via": "checkout"}, "created_via_checkout"),
])
def test_the_rollback_keeps_customers_with_billing_history_and_what_links_them(aws, billing, reason):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    customer_id = onboard(aws, onboarding, stripe)
    customer = stripe.customers[customer_id]
    customer["balance"] = billing.get("balance", 0)
    stripe.invoices[customer_id] = billing.get("invoices", [])
    if "created_via" in billing:
        customer["metadata"]["created_via"] = billing["created_via"]
    result = compensate_rollback_onboarding(OnboardingState(**onboarding.model_dump()), stripe=stripe, **tables(aws))
    assert result.kept_customers == {customer_id: reason} and result.deleted_customer_ids == []
    assert stripe.live() == [customer_id]
    assert not result.profile_deleted and aws.profiles.get(onboarding.sub).stripe_customer_id == customer_id
    assert not result.email_claim_released, "the email stays claimed while the user's records remain"
    assert aws.unlinked.get(customer_id).reason == f"kept_by_compensation:{reason}"


def test_the_rollback_never_deletes_a_paid_entitlement(aws):
    stripe = InMemoryStripe()
    onboarding = native(aws)
    onboard(aws, onboarding, stripe)
    aws.table("EntitlementsTable").update_item(
        Key={"cognito_sub": onboarding.sub}, UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": "active"})
    result = compensate_rollback_onboarding(OnboardingState(**onboarding.model_dump()), stripe=stripe, **tables(aws))
    assert not result.entitlement_deleted and aws.entitlements.get(onboarding.sub).status == "active"
    assert not result.email_claim_released
