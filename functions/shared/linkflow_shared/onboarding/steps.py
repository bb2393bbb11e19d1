"""The onboarding state machine's steps, one function per Task state, named as the state is.

Each takes its parsed input and its collaborators (stores, gateways) and returns one model; the
handlers in ``functions/*/app.py`` only wire them (see ``linkflow_shared.step``). Every step is
idempotent: Step Functions retries it and a redrive re-runs the failed one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from ..errors import CognitoUserNotFound, InvalidStepInput, ProfileMissing
from ..gateways import CognitoGateway, CognitoUser, StripeGateway
from ..models import external_identity, parse_timestamp, utc_now
from ..stores import EmailClaimsStore, EntitlementRecord, EntitlementsStore, ProfileRecord, ProfilesStore
from .models import (
    ClaimedEmailInput,
    EmailClaimResult,
    EntitlementSaved,
    LinkResult,
    OnboardingInput,
    ProfileSaved,
    StoreCustomerInput,
    StoreCustomerResult,
    StripeCustomerRef,
)

# Stripe keeps idempotency keys for 24 h; a redrive after that (the window is 14 days) must look
# for the customer an earlier attempt may have created before creating one.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=23)
CUSTOMER_CREATED_VIA = "onboarding"


def customer_idempotency_key(sub: str) -> str:
    return f"linkflow-onboarding-customer-{sub}"


def current_user(cognito: CognitoGateway, onboarding: OnboardingInput) -> CognitoUser:
    """The run's Cognito user; :class:`CognitoUserNotFound` if it was deleted (or deleted and
    re-created under the same username, which gives it another sub)."""
    user = cognito.get_user(onboarding.user_pool_id, onboarding.user_name)
    if user.sub != onboarding.sub:
        raise CognitoUserNotFound(f"user {onboarding.user_name} now has another sub: the run's user was deleted")
    return user


def has_verified(user: CognitoUser, email: str) -> bool:
    """Whether ``user``'s current email is ``email`` (normalized) and verified."""
    return user.email_verified and (user.email or "").strip().lower() == email


def check_duplicate_email(
    onboarding: OnboardingInput,
    *,
    cognito: CognitoGateway,
    claims: EmailClaimsStore,
    trusted_providers: Collection[str],
) -> EmailClaimResult:
    """Claim the email atomically and say what the run does next.

    ``unverified``: the user's email (as Cognito holds it now) is not verified: nothing is claimed.
    ``claimed``: this sub owns the email (also when the previous owner no longer exists in
    Cognito: a stale claim is taken over). ``link_to_existing``: a federated user of a trusted
    provider with a verified email of an account whose own email is verified. ``duplicate``: any
    other account whose email is taken.
    """
    me = current_user(cognito, onboarding)
    if not has_verified(me, onboarding.email):
        return EmailClaimResult(outcome="unverified", owner_user_id=onboarding.sub, owner_user_name=me.username)
    now = utc_now()
    claim = claims.claim(onboarding.email, onboarding.sub, now)
    mine = EmailClaimResult(outcome="claimed", owner_user_id=onboarding.sub, owner_user_name=onboarding.user_name)
    if claim.user_id == onboarding.sub:
        return mine
    owner = cognito.find_user_by_sub(onboarding.user_pool_id, claim.user_id)
    if owner is None:
        claims.take_over(onboarding.email, onboarding.sub, claim.user_id, now)
        return mine
    trusted = onboarding.is_external and onboarding.providers[0] in trusted_providers
    outcome = "link_to_existing" if trusted and has_verified(owner, onboarding.email) else "duplicate"
    return EmailClaimResult(outcome=outcome, owner_user_id=owner.sub, owner_user_name=owner.username)


def link_provider(state: ClaimedEmailInput, *, cognito: CognitoGateway, profiles: ProfilesStore) -> LinkResult:
    """Make the run's federated identity sign in as the email's owner, then record the provider.

    Cognito only links an identity that has no user of its own, so the federated user this run
    was started for (created because PreSignUp could not link it) is deleted first. Its next
    sign-in resolves to the owner's sub.
    """
    claim = state.email_claim
    if claim.outcome != "link_to_existing" or not claim.owner_user_name:
        raise InvalidStepInput("LinkProvider needs emailClaim.outcome == link_to_existing")
    pool = state.user_pool_id
    owner = cognito.get_user(pool, claim.owner_user_name)
    identity = external_identity(state.user_name, {})
    try:
        me: CognitoUser | None = current_user(cognito, state)
    except CognitoUserNotFound:
        me = None
    if me is not None and me.identity is not None:
        identity = me.identity
    if identity is None:
        raise InvalidStepInput(f"cannot tell the external identity of {state.user_name}")
    linked_now = identity not in owner.identities
    deleted = False
    if linked_now:
        deleted = me is not None and cognito.delete_user(pool, state.user_name)
        cognito.link_identity(pool, owner.username, *identity)
    updated = profiles.add_provider(owner.sub, identity[0], utc_now())
    return LinkResult(
        owner_user_id=owner.sub,
        provider_name=identity[0],
        provider_user_id=identity[1],
        linked_now=linked_now,
        federated_user_deleted=deleted,
        profile_updated=updated,
    )


def write_profile(onboarding: OnboardingInput, *, cognito: CognitoGateway, profiles: ProfilesStore) -> ProfileSaved:
    """Create the user's profile (without a Stripe customer yet; names as Cognito holds them); an
    existing one is kept. A user deleted meanwhile gets a profile without names: the next step
    that needs the user notices the deletion and rolls the run back."""
    try:
        user: CognitoUser | None = current_user(cognito, onboarding)
    except CognitoUserNotFound:
        user = None
    now = utc_now()
    profile = ProfileRecord(
        user_id=onboarding.sub,
        email=onboarding.email,
        given_name=user.given_name if user else None,
        family_name=user.family_name if user else None,
        providers=onboarding.providers,
        created_at=now,
        updated_at=now,
    )
    stored = profiles.create(profile)
    return ProfileSaved(user_id=stored.user_id, created=stored.created_at == now)


def init_entitlement(onboarding: OnboardingInput, *, entitlements: EntitlementsStore) -> EntitlementSaved:
    """Give the user an entitlement with ``status: none``; an existing (maybe newer) one is kept."""
    now = utc_now()
    record = EntitlementRecord(cognito_sub=onboarding.sub, email=onboarding.email, status="none", updated_at=now)
    stored = entitlements.create(record)
    return EntitlementSaved(cognito_sub=stored.cognito_sub, status=stored.status, created=stored.updated_at == now)


def _customer_name(user: CognitoUser) -> str | None:
    return " ".join(p for p in (user.given_name, user.family_name) if p) or None


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


def customers_of_sub(stripe: StripeGateway, *, email: str, sub: str) -> list[str]:
    """Ids of the live customers with ``email`` whose metadata names ``sub``."""
    customers = stripe.customers_with_email(email)
    return [str(c["id"]) for c in customers if (c.get("metadata") or {}).get("cognito_sub") == sub]


def create_stripe_customer(
    onboarding: OnboardingInput,
    *,
    cognito: CognitoGateway,
    profiles: ProfilesStore,
    stripe: StripeGateway,
    platform: str,
) -> StripeCustomerRef:
    """Create the user's one Stripe customer (idempotency key from the sub).

    Nothing is created for a user deleted meanwhile, nor when the profile already links a
    customer (another path created it first). ``created`` says whether this run made it.
    """
    user = current_user(cognito, onboarding)
    profile = profiles.get(onboarding.sub)
    if profile is not None and profile.stripe_customer_id:
        return StripeCustomerRef(customer_id=profile.stripe_customer_id, created=False)
    if profile is not None and profile.created_at and _idempotency_key_expired(profile.created_at):
        earlier = customers_of_sub(stripe, email=onboarding.email, sub=onboarding.sub)
        if earlier:
            return StripeCustomerRef(customer_id=earlier[0], created=True)
    customer_id = stripe.create_customer(
        email=onboarding.email,
        name=_customer_name(user),
        metadata=customer_metadata(onboarding, platform),
        idempotency_key=customer_idempotency_key(onboarding.sub),
    )
    return StripeCustomerRef(customer_id=customer_id, created=True)


def _idempotency_key_expired(first_attempt_at: str) -> bool:
    return datetime.now(UTC) - parse_timestamp(first_attempt_at) > IDEMPOTENCY_KEY_LIFETIME


def store_stripe_customer_id(
    state: StoreCustomerInput, *, cognito: CognitoGateway, profiles: ProfilesStore
) -> StoreCustomerResult:
    """Link the run's customer to the profile with a conditional write; ``conflict`` if the
    profile already links another customer (the run's own one is then deleted by compensation)."""
    current_user(cognito, state)
    own = state.stripe_customer.customer_id
    outcome, stored = profiles.link_customer(state.sub, own, utc_now())
    if outcome == "no_profile" or stored is None:
        raise ProfileMissing(f"profile {state.sub} does not exist; cannot store its Stripe customer")
    if outcome == "links_another" and stored.stripe_customer_id:
        taken = stored.stripe_customer_id
        return StoreCustomerResult(outcome="conflict", stored_customer_id=taken, own_customer_id=own)
    return StoreCustomerResult(outcome="stored", stored_customer_id=own, own_customer_id=own)
