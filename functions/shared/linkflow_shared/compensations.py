"""Onboarding compensations: undo or fence off what a run must not leave behind.

Like the steps, each is idempotent (a retry or redrive finds its work done and says so).
"""

from __future__ import annotations

from typing import Any

from .cognito import disable_user
from .email_claims import record_rejection, release_claim
from .entitlements import delete_entitlement
from .errors import InvalidOnboardingInput
from .models import (
    ClaimedEmailInput,
    CustomerDeletion,
    DeleteCustomerInput,
    OnboardingState,
    Rejection,
    RollbackResult,
    utc_now,
)
from .profiles import delete_profile
from .stripe_gateway import customers_of_sub, delete_customer_of_sub


def disable_duplicate_account(state: ClaimedEmailInput, *, idp: Any, claims_table: Any) -> Rejection:
    """Disable the run's account, whose email another account had claimed, and record why on that
    account's email claim (``rejectedUserIds`` / ``rejections``)."""
    claim = state.email_claim
    if claim.outcome == "claimed":
        raise InvalidOnboardingInput("CompensateDisableDuplicateAccount needs an email claimed by another user")
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
        cognito_disabled=disable_user(idp, state.user_pool_id, state.user_name),
        rejected_at=utc_now(),
    )
    record_rejection(claims_table, state.email, rejection)
    return rejection


def delete_duplicate_customer(state: DeleteCustomerInput, *, stripe: Any) -> CustomerDeletion:
    """Delete the customer this run created when the profile already links another one."""
    stored = state.stored_customer
    own = state.stripe_customer.customer_id
    if not state.stripe_customer.created or own == stored.stored_customer_id:
        return CustomerDeletion(deleted_customer_id=None, kept_customer_id=stored.stored_customer_id)
    deleted = delete_customer_of_sub(stripe, own, state.sub)
    return CustomerDeletion(deleted_customer_id=own if deleted else None, kept_customer_id=stored.stored_customer_id)


def rollback_onboarding(
    state: OnboardingState, *, stripe: Any, profiles_table: Any, entitlements_table: Any, claims_table: Any
) -> RollbackResult:
    """Remove what onboarding created for a user deleted from Cognito mid-run: the Stripe
    customer(s) made for this sub, the profile, the entitlement and the email claim (if owned)."""
    customer_ids = set(customers_of_sub(stripe, email=state.email, sub=state.sub))
    if state.stripe_customer is not None and state.stripe_customer.created:
        customer_ids.add(state.stripe_customer.customer_id)
    deleted = [cid for cid in sorted(customer_ids) if delete_customer_of_sub(stripe, cid, state.sub)]
    return RollbackResult(
        deleted_customer_ids=deleted,
        profile_deleted=delete_profile(profiles_table, state.sub),
        entitlement_deleted=delete_entitlement(entitlements_table, state.sub),
        email_claim_released=release_claim(claims_table, state.email, state.sub),
    )
