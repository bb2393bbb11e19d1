"""The link between a Stripe customer and a user: resolve it, repair it, drop it when Stripe deletes
the customer.

The profile's ``stripeCustomerId`` is the link (GSI ``StripeCustomerIndex``). The customer's
metadata (``cognito_sub``, ``cognito_user_id``: the old system wrote one and searched the other)
is the fallback; a profile found that way gets its link written back, unless it already links
another customer (then the customer is reported unlinked: a person must decide).
"""

from __future__ import annotations

from typing import Any, Literal

import stripe as stripe_sdk
from botocore.exceptions import ClientError

from .errors import InvalidEventInput, WriteConflict, dynamodb_errors, is_condition_failure
from .models import CustomerLink, EventHint, LinkedEventInput, ProfileRecord, UnlinkResult, utc_now
from .profiles import find_profiles_by_customer, get_profile
from .subscription_sync import retrieve_customer

METADATA_KEYS = ("cognito_sub", "cognito_user_id")
Repair = Literal["repaired", "already_linked", "links_another", "no_profile"]


def _linked(customer_id: str, profile: ProfileRecord, how: Any, repaired: bool = False) -> CustomerLink:
    return CustomerLink(
        outcome="linked",
        customer_id=customer_id,
        sub=profile.user_id,
        email=profile.email,
        resolved_by=how,
        profile_repaired=repaired,
    )


def resolve_customer(hint: EventHint, *, profiles_table: Any, stripe: stripe_sdk.StripeClient) -> CustomerLink:
    """Which user the event's customer belongs to (see :class:`CustomerLink` for the outcomes)."""
    customer_id = hint.customer_id
    profiles = find_profiles_by_customer(profiles_table, customer_id)
    if len(profiles) == 1:
        return _linked(customer_id, profiles[0], "profile_index")
    if len(profiles) > 1:
        return CustomerLink(outcome="unlinked", customer_id=customer_id, reason="linked_to_several_users")
    customer = retrieve_customer(stripe, customer_id)
    if customer is None:
        return CustomerLink(outcome="unlinked", customer_id=customer_id, reason="unknown_customer")
    if customer.get("deleted"):
        return CustomerLink(outcome="deleted", customer_id=customer_id, reason="customer_deleted")
    metadata = customer.get("metadata") or {}
    subs = list(dict.fromkeys(str(metadata[k]).strip() for k in METADATA_KEYS if str(metadata.get(k) or "").strip()))
    unlinked = {"outcome": "unlinked", "customer_id": customer_id, "customer_email": customer.get("email")}
    if not subs:
        return CustomerLink(**unlinked, reason="no_user_in_metadata")
    reason = "no_profile_for_metadata_user"
    for sub in subs:
        outcome, profile = repair_customer_link(profiles_table, sub, customer_id, utc_now())
        if profile is not None and outcome in ("repaired", "already_linked"):
            return _linked(customer_id, profile, "customer_metadata", repaired=outcome == "repaired")
        if outcome == "links_another":
            reason = "profile_links_another_customer"
    return CustomerLink(**unlinked, reason=reason, metadata_sub=subs[0])


def repair_customer_link(
    profiles_table: Any, user_id: str, customer_id: str, now: str
) -> tuple[Repair, ProfileRecord | None]:
    """Write ``customer_id`` into the profile of ``user_id`` if it links no customer yet."""
    try:
        with dynamodb_errors():
            item = profiles_table.update_item(
                Key={"userId": user_id},
                UpdateExpression="SET stripeCustomerId = :c, updatedAt = :now",
                ConditionExpression="attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)",
                ExpressionAttributeValues={":c": customer_id, ":now": now},
                ReturnValues="ALL_NEW",
            )["Attributes"]
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        profile = get_profile(profiles_table, user_id)
        if profile is None:
            return "no_profile", None
        if profile.stripe_customer_id == customer_id:
            return "already_linked", profile
        if profile.stripe_customer_id:
            return "links_another", profile
        raise WriteConflict(f"profile {user_id} changed while its Stripe customer was repaired") from None
    return "repaired", ProfileRecord.model_validate(item)


def unlink_deleted_customer(state: LinkedEventInput, *, profiles_table: Any) -> UnlinkResult:
    """Remove the deleted customer from the profile (only if the profile still links that one)."""
    link = state.customer
    if link.outcome != "linked" or not link.sub:
        raise InvalidEventInput("UnlinkDeletedCustomer needs customer.outcome == linked and a sub")
    try:
        with dynamodb_errors():
            profiles_table.update_item(
                Key={"userId": link.sub},
                UpdateExpression="REMOVE stripeCustomerId SET updatedAt = :now",
                ConditionExpression="stripeCustomerId = :c",
                ExpressionAttributeValues={":c": link.customer_id, ":now": utc_now()},
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return UnlinkResult(user_id=link.sub, customer_id=link.customer_id, unlinked=False)
    return UnlinkResult(user_id=link.sub, customer_id=link.customer_id, unlinked=True)
