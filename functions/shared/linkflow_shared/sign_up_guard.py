"""PreSignUp: one account per email, decided at the door where it can be.

- A native sign-up (``PreSignUp_SignUp``, ``PreSignUp_AdminCreateUser``) whose normalized email
  belongs to an existing user (native or federated) is rejected with
  :class:`~linkflow_shared.errors.EmailAlreadyRegistered`; Cognito hands its message to the client
  as ``UserLambdaValidationException``.
- A federated first sign-in (``PreSignUp_ExternalProvider``) with a verified email of an existing
  user links the identity to that user (``AdminLinkProviderForUser``) and returns. Cognito then
  fails this first sign-in once ("Already found an entry for username") and the retry signs in as
  the existing user: one sub, no second profile, no second Stripe customer. Raising instead would
  fail every attempt, and linking later (after the federated user exists) is refused by Cognito.
- An unverified federated email is never linked; the sign-up proceeds and the workflow's atomic
  email claim decides (it disables the account if the email is someone else's).
- Infrastructure failures fail open (the decision says so, the handler logs it): the workflow's
  claim is the authoritative check and catches what slips through here.
"""

from __future__ import annotations

from typing import Any, Literal

from .cognito import UNCONFIRMED, CognitoUser, find_user_by_sub, find_users_by_email, link_identity
from .email_claims import get_claim
from .errors import EmailAlreadyRegistered, InvalidOnboardingInput, LinkflowError
from .models import CognitoTriggerEvent, Model, normalize_email, utc_now
from .profiles import add_provider

NATIVE_SOURCES = frozenset({"PreSignUp_SignUp", "PreSignUp_AdminCreateUser"})
EXTERNAL_SOURCE = "PreSignUp_ExternalProvider"


class SignUpDecision(Model):
    action: Literal["allow", "linked", "fail_open"]
    reason: str
    owner_user_id: str | None = None


def _email_of(trigger: CognitoTriggerEvent) -> str | None:
    raw = trigger.attributes.get("email")
    if raw is None and trigger.trigger_source == EXTERNAL_SOURCE:
        return None
    try:
        return normalize_email(raw or "")
    except ValueError:
        raise InvalidOnboardingInput("invalid CognitoTriggerEvent: email: not a valid email address") from None


def existing_owner(trigger: CognitoTriggerEvent, email: str, *, idp: Any, claims_table: Any) -> CognitoUser | None:
    """The user other than the one signing up who holds ``email``: the claim owner first, then any
    confirmed or federated user Cognito finds under either spelling of the address."""
    pool = trigger.user_pool_id
    me = {trigger.user_name, trigger.attributes.get("sub", "")}
    claim = get_claim(claims_table, email)
    if claim is not None:
        owner = find_user_by_sub(idp, pool, claim.user_id)
        if owner is not None and owner.username not in me and owner.sub not in me:
            return owner
    raw = (trigger.attributes.get("email") or "").strip()
    candidates = [
        user
        for user in find_users_by_email(idp, pool, email, raw)
        if user.username not in me and user.sub not in me and user.status != UNCONFIRMED
    ]
    candidates.sort(key=lambda user: user.identity is not None)  # native accounts first
    return candidates[0] if candidates else None


def guard_sign_up(trigger: CognitoTriggerEvent, *, idp: Any, claims_table: Any, profiles_table: Any) -> SignUpDecision:
    """Decide a sign-up (see the module docstring); raises :class:`EmailAlreadyRegistered`."""
    source = trigger.trigger_source
    if source not in NATIVE_SOURCES and source != EXTERNAL_SOURCE:
        return SignUpDecision(action="allow", reason=f"{source} is not checked")
    email = _email_of(trigger)
    if email is None:
        return SignUpDecision(action="allow", reason="the provider gave no email")
    try:
        owner = existing_owner(trigger, email, idp=idp, claims_table=claims_table)
    except LinkflowError as exc:
        return SignUpDecision(action="fail_open", reason=f"owner lookup failed: {type(exc).__name__}: {exc}")
    if owner is None:
        return SignUpDecision(action="allow", reason="the email is free")
    if source in NATIVE_SOURCES:
        raise EmailAlreadyRegistered(email)
    identity = trigger.identity
    if identity is None or not trigger.email_verified:
        return SignUpDecision(action="allow", reason="unverified federated email: not linked", owner_user_id=owner.sub)
    return _link(trigger, owner, identity, profiles_table=profiles_table, idp=idp)


def _link(
    trigger: CognitoTriggerEvent, owner: CognitoUser, identity: tuple[str, str], *, idp: Any, profiles_table: Any
) -> SignUpDecision:
    provider_name, provider_user_id = identity
    try:
        link_identity(idp, trigger.user_pool_id, owner.username, provider_name, provider_user_id)
    except LinkflowError as exc:
        return SignUpDecision(
            action="fail_open", reason=f"link failed: {type(exc).__name__}: {exc}", owner_user_id=owner.sub
        )
    try:
        add_provider(profiles_table, owner.sub, provider_name, utc_now())
    except LinkflowError as exc:  # the link stands; only the profile's provider list lags
        return SignUpDecision(
            action="linked",
            reason=f"linked; profile providers not updated: {type(exc).__name__}",
            owner_user_id=owner.sub,
        )
    return SignUpDecision(action="linked", reason=f"{provider_name} identity linked", owner_user_id=owner.sub)
