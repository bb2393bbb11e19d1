"""The subscription-events state machine's steps (``SyncEntitlement`` lives in ``sync.py`` with
the argument for its ordering guard).

ResolveCustomer: which user the event's customer belongs to. The profile's ``stripeCustomerId``
is the link (GSI ``StripeCustomerIndex``). The customer's metadata (``cognito_sub``,
``cognito_user_id``: the old system wrote one and searched the other) is the fallback; a profile
found that way gets its link written back, unless it already links another customer (then the
customer is reported unlinked: a person must decide).
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import StripeNotFound
from ..gateways import StripeGateway
from ..models import utc_now
from ..stores import ProfileRecord, ProfilesStore, UnlinkedCustomer, UnlinkedCustomersStore
from .models import CustomerLink, EventHint, ResolvedCustomerInput, UnlinkedCustomerInput, UnlinkResult

METADATA_KEYS = ("cognito_sub", "cognito_user_id")


def _linked(
    customer_id: str,
    profile: ProfileRecord,
    how: Literal["profile_index", "customer_metadata"],
    repaired: bool = False,
) -> CustomerLink:
    return CustomerLink(
        outcome="linked",
        customer_id=customer_id,
        sub=profile.user_id,
        email=profile.email,
        resolved_by=how,
        profile_repaired=repaired,
    )


def resolve_customer(hint: EventHint, *, profiles: ProfilesStore, stripe: StripeGateway) -> CustomerLink:
    """Which user the event's customer belongs to (see :class:`CustomerLink` for the outcomes)."""
    customer_id = hint.customer_id
    linked = profiles.find_by_customer(customer_id)
    if len(linked) == 1:
        return _linked(customer_id, linked[0], "profile_index")
    if len(linked) > 1:
        return CustomerLink(outcome="unlinked", customer_id=customer_id, reason="linked_to_several_users")
    try:
        customer = stripe.retrieve_customer(customer_id)
    except StripeNotFound:
        return CustomerLink(outcome="unlinked", customer_id=customer_id, reason="unknown_customer")
    if customer.get("deleted"):
        return CustomerLink(outcome="deleted", customer_id=customer_id, reason="customer_deleted")
    return _resolve_by_metadata(customer_id, customer, profiles)


def _resolve_by_metadata(customer_id: str, customer: dict[str, Any], profiles: ProfilesStore) -> CustomerLink:
    metadata = customer.get("metadata") or {}
    subs = list(dict.fromkeys(str(metadata[k]).strip() for k in METADATA_KEYS if str(metadata.get(k) or "").strip()))
    email = customer.get("email")
    if not subs:
        return CustomerLink(
            outcome="unlinked", customer_id=customer_id, customer_email=email, reason="no_user_in_metadata"
        )
    reason = "no_profile_for_metadata_user"
    for sub in subs:
        outcome, profile = profiles.link_customer(sub, customer_id, utc_now())
        if profile is not None and outcome in ("linked", "already_linked"):
            return _linked(customer_id, profile, "customer_metadata", repaired=outcome == "linked")
        if outcome == "links_another":
            reason = "profile_links_another_customer"
    return CustomerLink(
        outcome="unlinked", customer_id=customer_id, customer_email=email, reason=reason, metadata_sub=subs[0]
    )


def record_unlinked_customer(state: UnlinkedCustomerInput, *, unlinked: UnlinkedCustomersStore) -> UnlinkedCustomer:
    """Note a Stripe customer no user owns, once per event, for operators to settle. The execution
    succeeds: an unlinked customer is a fact to look at, not a failure to retry."""
    link = state.customer
    return unlinked.record(
        link.customer_id,
        reason=link.reason or "unknown",
        event_id=state.event_id,
        event_type=state.event_type,
        now=utc_now(),
        metadata_sub=link.metadata_sub,
        email=link.customer_email,
    )


def unlink_deleted_customer(state: ResolvedCustomerInput, *, profiles: ProfilesStore) -> UnlinkResult:
    """Remove the deleted customer from the profile (only if the profile still links that one)."""
    customer_id = state.customer.customer_id
    unlinked = profiles.unlink_customer(state.sub, customer_id, utc_now())
    return UnlinkResult(user_id=state.sub, customer_id=customer_id, unlinked=unlinked)
