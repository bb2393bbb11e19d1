"""The onboarding workflow: how it starts and the steps of its state machine.

Each step takes one parsed input and its clients/tables as arguments and returns one model; the
handlers in ``functions/*/app.py`` only parse, call and dump. Every step is idempotent: Step
Functions retries it and a redrive re-runs the failed one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from .cognito import CognitoUser, delete_user, find_user_by_sub, get_user, link_identity
from .email_claims import claim_email, take_over_claim
from .entitlements import put_new_entitlement
from .errors import CognitoUserNotFound, InvalidOnboardingInput, OnboardingStartFailed, error_code
from .models import (
    ClaimedEmailInput,
    EmailClaimResult,
    EntitlementRecord,
    LinkResult,
    OnboardingInput,
    ProfileRecord,
    StoreCustomerInput,
    StoreCustomerResult,
    StripeCustomerRef,
    external_identity,
    parse_timestamp,
    utc_now,
)
from .profiles import add_provider, get_profile, put_new_profile, store_stripe_customer_id
from .stripe_gateway import create_customer, customers_of_sub

# Stripe keeps idempotency keys for 24 h; a redrive after that (the window is 14 days) must look
# for the customer an earlier attempt may have created before creating one.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=23)
CUSTOMER_CREATED_VIA = "onboarding"


def onboarding_execution_name(sub: str) -> str:
    """The onboarding execution of a user is named by its sub: one execution per user, ever."""
    return sub


def start_onboarding(sfn: Any, state_machine_arn: str, onboarding: OnboardingInput) -> bool:
    """Start the user's onboarding execution; False if it was started before (Cognito retried).

    The input holds no timestamp, so a start repeated while the execution runs returns the same
    execution; a start after it closed raises ``ExecutionAlreadyExists``, which is not an error.
    """
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=onboarding_execution_name(onboarding.sub),
            input=json.dumps(onboarding.dump()),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise OnboardingStartFailed(f"StartExecution failed ({error_code(exc)})") from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise OnboardingStartFailed(f"Step Functions could not be reached: {exc}") from exc
    return True


def write_profile(onboarding: OnboardingInput, *, profiles_table: Any) -> ProfileRecord:
    """Create the user's profile (without a Stripe customer yet); an existing one is kept."""
    now = utc_now()
    profile = ProfileRecord(
        user_id=onboarding.sub,
        email=onboarding.email,
        given_name=onboarding.given_name,
        family_name=onboarding.family_name,
        providers=onboarding.providers,
        created_at=now,
        updated_at=now,
    )
    return put_new_profile(profiles_table, profile)


def customer_idempotency_key(sub: str) -> str:
    return f"linkflow-onboarding-customer-{sub}"


def current_user(idp: Any, onboarding: OnboardingInput) -> CognitoUser:
    """The run's Cognito user; :class:`CognitoUserNotFound` if it was deleted (or deleted and
    re-created under the same username, which gives it another sub)."""
    user = get_user(idp, onboarding.user_pool_id, onboarding.user_name)
    if user.sub != onboarding.sub:
        raise CognitoUserNotFound(f"user {onboarding.user_name} now has another sub: the run's user was deleted")
    return user


def check_duplicate_email(onboarding: OnboardingInput, *, idp: Any, claims_table: Any) -> EmailClaimResult:
    """Claim the email atomically and say what the run does next.

    ``claimed``: this sub owns the email (also when the previous owner no longer exists in
    Cognito: a stale claim is taken over). ``link_to_existing``: a federated user with a verified
    email of an existing account. ``duplicate``: any other account whose email is taken.
    """
    current_user(idp, onboarding)
    now = utc_now()
    claim = claim_email(claims_table, onboarding.email, onboarding.sub, now)
    if claim.user_id == onboarding.sub:
        return EmailClaimResult(outcome="claimed", owner_user_id=onboarding.sub, owner_user_name=onboarding.user_name)
    owner = find_user_by_sub(idp, onboarding.user_pool_id, claim.user_id)
    if owner is None:
        take_over_claim(claims_table, onboarding.email, onboarding.sub, claim.user_id, now)
        return EmailClaimResult(outcome="claimed", owner_user_id=onboarding.sub, owner_user_name=onboarding.user_name)
    outcome = "link_to_existing" if onboarding.is_external and onboarding.email_verified else "duplicate"
    return EmailClaimResult(outcome=outcome, owner_user_id=owner.sub, owner_user_name=owner.username)


def link_provider(state: ClaimedEmailInput, *, idp: Any, profiles_table: Any) -> LinkResult:
    """Make the run's federated identity sign in as the email's owner, then record the provider.

    Cognito only links an identity that has no user of its own, so the federated user this run
    was started for (created because PreSignUp could not link it) is deleted first. Its next
    sign-in resolves to the owner's sub.
    """
    claim = state.email_claim
    if claim.outcome != "link_to_existing" or not claim.owner_user_name:
        raise InvalidOnboardingInput("LinkProvider needs emailClaim.outcome == link_to_existing")
    pool = state.user_pool_id
    owner = get_user(idp, pool, claim.owner_user_name)
    identity = external_identity(state.user_name, {})
    try:
        me: CognitoUser | None = current_user(idp, state)
    except CognitoUserNotFound:
        me = None
    if me is not None and me.identity is not None:
        identity = me.identity
    if identity is None:
        raise InvalidOnboardingInput(f"cannot tell the external identity of {state.user_name}")
    linked_now = identity not in owner.identities
    deleted = False
    if linked_now:
        deleted = me is not None and delete_user(idp, pool, state.user_name)
        link_identity(idp, pool, owner.username, *identity)
    updated = add_provider(profiles_table, owner.sub, identity[0], utc_now())
    return LinkResult(
        owner_user_id=owner.sub,
        provider_name=identity[0],
        provider_user_id=identity[1],
        linked_now=linked_now,
        federated_user_deleted=deleted,
        profile_updated=updated,
    )


def init_entitlement(onboarding: OnboardingInput, *, entitlements_table: Any) -> EntitlementRecord:
    """Give the user an entitlement with ``status: none``; an existing (maybe newer) one is kept."""
    record = EntitlementRecord(cognito_sub=onboarding.sub, email=onboarding.email, status="none", updated_at=utc_now())
    return put_new_entitlement(entitlements_table, record)


def _customer_name(onboarding: OnboardingInput) -> str | None:
    return " ".join(p for p in (onboarding.given_name, onboarding.family_name) if p) or None


def customer_metadata(onboarding: OnboardingInput, platform: str) -> dict[str, str]:
    return {
        "cognito_user_id": onboarding.sub,
        "cognito_sub": onboarding.sub,
        "cognito_username": onboarding.user_name,
        "user_pool_id": onboarding.user_pool_id,
        "platform": platform,
        "created_via": CUSTOMER_CREATED_VIA,
        "signup_provider": onboarding.providers[0] if onboarding.providers else "Cognito",
    }


def create_stripe_customer(
    onboarding: OnboardingInput, *, idp: Any, profiles_table: Any, stripe: Any, platform: str
) -> StripeCustomerRef:
    """Create the user's one Stripe customer (idempotency key from the sub).

    Nothing is created for a user deleted meanwhile, nor when the profile already links a
    customer (another path created it first). ``created`` says whether this run made it.
    """
    current_user(idp, onboarding)
    profile = get_profile(profiles_table, onboarding.sub)
    if profile is not None and profile.stripe_customer_id:
        return StripeCustomerRef(customer_id=profile.stripe_customer_id, created=False)
    if profile is not None and profile.created_at and _idempotency_key_expired(profile.created_at):
        earlier = customers_of_sub(stripe, email=onboarding.email, sub=onboarding.sub)
        if earlier:
            return StripeCustomerRef(customer_id=earlier[0], created=True)
    customer_id = create_customer(
        stripe,
        email=onboarding.email,
        name=_customer_name(onboarding),
        metadata=customer_metadata(onboarding, platform),
        idempotency_key=customer_idempotency_key(onboarding.sub),
    )
    return StripeCustomerRef(customer_id=customer_id, created=True)


def _idempotency_key_expired(first_attempt_at: str) -> bool:
    return datetime.now(UTC) - parse_timestamp(first_attempt_at) > IDEMPOTENCY_KEY_LIFETIME


def store_customer_id(state: StoreCustomerInput, *, idp: Any, profiles_table: Any) -> StoreCustomerResult:
    """Link the run's customer to the profile with a conditional write; ``conflict`` if the
    profile already links another customer (the run's own one is then deleted by compensation)."""
    current_user(idp, state)
    return store_stripe_customer_id(profiles_table, state.sub, state.stripe_customer.customer_id, utc_now())
