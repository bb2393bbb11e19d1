"""Onboarding compensations: undo or fence off what a run must not leave behind.

Like the steps, each is idempotent (a retry or redrive finds its work done and says so), and each
is named as its ``Compensate...`` state is.
"""

from __future__ import annotations

from ..errors import InvalidStepInput, StripeNotFound
from ..gateways import CognitoGateway, StripeGateway
from ..models import utc_now
from ..stores import EmailClaimsStore, EntitlementsStore, ProfilesStore, Rejection
from .models import ClaimedEmailInput, CustomerDeletion, DeleteCustomerInput, OnboardingState, RollbackResult
from .steps import customers_of_sub


def compensate_disable_duplicate_account(
    state: ClaimedEmailInput, *, cognito: CognitoGateway, claims: EmailClaimsStore
) -> Rejection:
    """Disable the run's account, whose email another account had claimed, and record why on that
    account's email claim (``rejectedUserIds`` / ``rejections``)."""
    claim = state.email_claim
    if claim.outcome == "claimed":
        raise InvalidStepInput("CompensateDisableDuplicateAccount needs an email claimed by another user")
    if not state.is_external:
        reason = "duplicate_native_sign_up"
    elif not state.email_verified:
        reason = "unverified_external_email"
    else:
        reason = "duplicate_external_sign_up"
    rejection = Rejection(
        user_id=state.sub,
        user_name=state.user_name,
        owner_user_id=claim.owner_user_id,
        reason=reason,
        cognito_disabled=cognito.disable_user(state.user_pool_id, state.user_name),
        rejected_at=utc_now(),
    )
    claims.record_rejection(state.email, rejection)
    return rejection


def delete_customer_of_sub(stripe: StripeGateway, customer_id: str, sub: str) -> bool:
    """Delete ``customer_id`` if it belongs to ``sub``; False if it is gone or someone else's."""
    try:
        customer = stripe.retrieve_customer(customer_id)
    except StripeNotFound:
        return False
    if customer.get("deleted") or (customer.get("metadata") or {}).get("cognito_sub") != sub:
        return False
    stripe.delete_customer(customer_id)
    return True


def compensate_delete_stripe_customer(state: DeleteCustomerInput, *, stripe: StripeGateway) -> CustomerDeletion:
    """Delete the customer this run created when the profile already links another one."""
    stored = state.stored_customer
    own = state.stripe_customer.customer_id
    if not state.stripe_customer.created or own == stored.stored_customer_id:
        return CustomerDeletion(deleted_customer_id=None, kept_customer_id=stored.stored_customer_id)
    deleted = delete_customer_of_sub(stripe, own, state.sub)
    return CustomerDeletion(deleted_customer_id=own if deleted else None, kept_customer_id=stored.stored_customer_id)


def compensate_rollback_onboarding(
    state: OnboardingState,
    *,
    stripe: StripeGateway,
    profiles: ProfilesStore,
    entitlements: EntitlementsStore,
    claims: EmailClaimsStore,
) -> RollbackResult:
    """Remove what onboarding created for a user deleted from Cognito mid-run: the Stripe
    customer(s) made for this sub, the profile, the entitlement and the email claim (if owned)."""
    customer_ids = set(customers_of_sub(stripe, email=state.email, sub=state.sub))
    if state.stripe_customer is not None and state.stripe_customer.created:
        customer_ids.add(state.stripe_customer.customer_id)
    deleted = [cid for cid in sorted(customer_ids) if delete_customer_of_sub(stripe, cid, state.sub)]
    return RollbackResult(
        deleted_customer_ids=deleted,
        profile_deleted=profiles.delete(state.sub),
        entitlement_deleted=entitlements.delete(state.sub),
        email_claim_released=claims.release(state.email, state.sub),
    )
