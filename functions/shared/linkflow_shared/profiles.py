"""The UserProfiles table: one profile per Cognito sub.

Every write is conditional, so a retried or redriven step never clobbers what is stored.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .errors import ProfileMissing, WriteConflict, dynamodb_errors, is_condition_failure
from .models import ProfileRecord, StoreCustomerResult

EMAIL_INDEX = "EmailIndex"
STRIPE_CUSTOMER_INDEX = "StripeCustomerIndex"


def get_profile(table: Any, user_id: str) -> ProfileRecord | None:
    with dynamodb_errors():
        item = table.get_item(Key={"userId": user_id}, ConsistentRead=True).get("Item")
    return ProfileRecord.model_validate(item) if item else None


def find_profiles_by_email(table: Any, email: str) -> list[ProfileRecord]:
    """Profiles holding ``email`` (normalized) via EmailIndex: eventually consistent, never unique."""
    with dynamodb_errors():
        items = table.query(
            IndexName=EMAIL_INDEX,
            KeyConditionExpression="email = :email",
            ExpressionAttributeValues={":email": email},
        ).get("Items", [])
    return [ProfileRecord.model_validate(item) for item in items]


def find_profiles_by_customer(table: Any, customer_id: str) -> list[ProfileRecord]:
    with dynamodb_errors():
        items = table.query(
            IndexName=STRIPE_CUSTOMER_INDEX,
            KeyConditionExpression="stripeCustomerId = :id",
            ExpressionAttributeValues={":id": customer_id},
        ).get("Items", [])
    return [ProfileRecord.model_validate(item) for item in items]


def put_new_profile(table: Any, profile: ProfileRecord) -> ProfileRecord:
    """Create ``profile`` unless the user already has one; answer the stored profile."""
    try:
        with dynamodb_errors():
            table.put_item(Item=profile.item(), ConditionExpression="attribute_not_exists(userId)")
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        stored = get_profile(table, profile.user_id)
        if stored is None:
            raise WriteConflict(f"profile {profile.user_id} existed, then vanished; write it again") from None
        return stored
    return profile


def store_stripe_customer_id(table: Any, user_id: str, customer_id: str, now: str) -> StoreCustomerResult:
    """Link ``customer_id`` to the profile unless a different customer is linked already."""
    try:
        with dynamodb_errors():
            table.update_item(
                Key={"userId": user_id},
                UpdateExpression="SET stripeCustomerId = :mine, updatedAt = :now",
                ConditionExpression=(
                    "attribute_exists(userId) AND (attribute_not_exists(stripeCustomerId) OR stripeCustomerId = :mine)"
                ),
                ExpressionAttributeValues={":mine": customer_id, ":now": now},
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        stored = get_profile(table, user_id)
        if stored is None:
            raise ProfileMissing(f"profile {user_id} does not exist; cannot store its Stripe customer") from None
        if stored.stripe_customer_id and stored.stripe_customer_id != customer_id:
            return StoreCustomerResult(
                outcome="conflict", stored_customer_id=stored.stripe_customer_id, own_customer_id=customer_id
            )
        raise WriteConflict(f"profile {user_id} changed while its Stripe customer was stored") from None
    return StoreCustomerResult(outcome="stored", stored_customer_id=customer_id, own_customer_id=customer_id)


def add_provider(table: Any, user_id: str, provider: str, now: str) -> bool:
    """Record a linked identity provider on the profile; False if there is no profile or it is there."""
    try:
        with dynamodb_errors():
            table.update_item(
                Key={"userId": user_id},
                UpdateExpression=(
                    "SET providers = list_append(if_not_exists(providers, :none), :new), updatedAt = :now"
                ),
                ConditionExpression="attribute_exists(userId) AND NOT contains(providers, :provider)",
                ExpressionAttributeValues={
                    ":none": [],
                    ":new": [provider],
                    ":provider": provider,
                    ":now": now,
                },
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def delete_profile(table: Any, user_id: str) -> bool:
    """Delete the profile; False if there was none."""
    with dynamodb_errors():
        old = table.delete_item(Key={"userId": user_id}, ReturnValues="ALL_OLD").get("Attributes")
    return bool(old)
