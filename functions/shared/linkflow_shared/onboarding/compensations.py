"""Onboarding compensations: undo or fence off what a run must not leave behind.

Like the steps, each is idempotent (a retry or redrive finds its work done and says so), and each
is named as its ``Compensate...`` state is. A compensation never loses money or data: it deletes
only a Stripe customer onboarding created for this sub (metadata ``created_via: onboarding``)
that is empty (no subscription of any status, no invoice, a zero balance); anything else stays
and is recorded in UnlinkedStripeCustomers for an operator. Profile and entitlement deletes are
conditional: never an entitlement with a paid status, never a profile linking a kept customer.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidStepInput, StripeNotFound
from ..gateways import CognitoGateway, StripeGateway
from ..models import utc_now
from ..stores import EmailClaimsStore, EntitlementsStore, ProfilesStore, Rejection, UnlinkedCustomersStore
from .models import ClaimedEmailInput, CustomerDeletion, DeleteCustomerInput, OnboardingState, RollbackResult
from .steps import CUSTOMER_CREATED_VIA, customers_of_sub

COMPENSATION_EVENT = "onboarding.compensation"


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


def why_keep(stripe: StripeGateway, customer: dict[str, Any], sub: str) -> str | None:
    """Why deleting ``customer`` would be wrong (``None``: it is onboarding's own, and empty)."""
    metadata = customer.get("metadata") or {}
    if metadata.get("cognito_sub") != sub:
        return "belongs_to_another_user"
    if metadata.get("created_via") != CUSTOMER_CREATED_VIA:
        return f"created_via_{metadata.get('created_via') or 'unknown'}"
    if customer.get("balance"):
        return "non_zero_balance"
    if stripe.list_subscriptions(str(customer["id"])):
        return "has_subscriptions"
    if stripe.has_invoices(str(customer["id"])):
        return "has_invoices"
    return None


def delete_customer_of_sub(stripe: StripeGateway, customer_id: str, sub: str) -> tuple[bool, str | None]:
    """``(deleted, refused)``: delete ``customer_id`` if it is onboarding's empty customer for
    ``sub``; a customer already gone is ``(False, None)``, one that must stay says why."""
    try:
        customer = stripe.retrieve_customer(customer_id)
    except StripeNotFound:
        return False, None
    if customer.get("deleted"):
        return False, None
    refused = why_keep(stripe, customer, sub)
    if refused is None:
        stripe.delete_customer(customer_id)
    return refused is None, refused


def _record_kept(unlinked: UnlinkedCustomersStore, customer_id: str, reason: str, state: OnboardingState) -> None:
    unlinked.record(
        customer_id,
        reason=f"kept_by_compensation:{reason}",
        event_id=f"onboarding-{state.sub}",
        event_type=COMPENSATION_EVENT,
        now=utc_now(),
        metadata_sub=state.sub,
    )


def compensate_delete_stripe_customer(
    state: DeleteCustomerInput, *, stripe: StripeGateway, unlinked: UnlinkedCustomersStore
) -> CustomerDeletion:
    """Delete the customer this run created when the profile already links another one."""
    stored = state.stored_customer
    own = state.stripe_customer.customer_id
    if not state.stripe_customer.created or own == stored.stored_customer_id:
        return CustomerDeletion(deleted_customer_id=None, kept_customer_id=stored.stored_customer_id)
    deleted, refused = delete_customer_of_sub(stripe, own, state.sub)
    if refused is not None:
        _record_kept(unlinked, own, refused, state)
    return CustomerDeletion(
        deleted_customer_id=own if deleted else None, kept_customer_id=stored.stored_customer_id, refused=refused
    )


def compensate_rollback_onboarding(
    state: OnboardingState,
    *,
    stripe: StripeGateway,
    profiles: ProfilesStore,
    entitlements: EntitlementsStore,
    claims: EmailClaimsStore,
    unlinked: UnlinkedCustomersStore,
) -> RollbackResult:
    """Remove what onboarding created for a user deleted from Cognito mid-run: the Stripe
    customer(s) it made for this sub, the profile, the entitlement and the email claim (if owned),
    each only as far as the module docstring allows."""
    customer_ids = set(customers_of_sub(stripe, email=state.email, sub=state.sub))
    if state.stripe_customer is not None and state.stripe_customer.created:
        customer_ids.add(state.stripe_customer.customer_id)
    deleted: list[str] = []
    kept: dict[str, str] = {}
    for customer_id in sorted(customer_ids):
        gone, refused = delete_customer_of_sub(stripe, customer_id, state.sub)
        if gone:
            deleted.append(customer_id)
        elif refused is not None:
            kept[customer_id] = refused
            _record_kept(unlinked, customer_id, refused, state)
    entitlement_deleted = entitlements.delete_unpaid(state.sub)
    profile_deleted = False if kept else profiles.delete(state.sub, unless_linked_outside=deleted)
    # The email stays claimed while anything of the user stays (a paid entitlement, a profile
    # linking a kept customer): an operator settles those first.
    remains = bool(kept) or entitlements.get(state.sub) is not None or profiles.get(state.sub) is not None
    return RollbackResult(
        deleted_customer_ids=deleted,
        profile_deleted=profile_deleted,
        entitlement_deleted=entitlement_deleted,
        email_claim_released=False if remains else claims.release(state.email, state.sub),
        kept_customers=kept,
    )
