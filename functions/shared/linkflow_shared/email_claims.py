"""The EmailClaims table: the atomic claim of a normalized email by one Cognito sub.

A GSI cannot enforce uniqueness (eventually consistent, no unique constraint), so the first
conditional write of ``{email, userId, claimedAt}`` decides who owns an email. Accounts rejected
because their email was already claimed are recorded on the owner's claim item
(``rejectedUserIds`` and ``rejections``), where an operator looking at the email finds them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .errors import WriteConflict, dynamodb_errors, is_condition_failure
from .models import EmailClaim, Rejection


def get_claim(table: Any, email: str) -> EmailClaim | None:
    with dynamodb_errors():
        item = table.get_item(Key={"email": email}, ConsistentRead=True).get("Item")
    return EmailClaim.model_validate(item) if item else None


def claim_email(table: Any, email: str, user_id: str, now: str) -> EmailClaim:
    """Claim ``email`` for ``user_id``; answer the claim as stored, whoever owns it.

    Claiming again for the same owner (a retry, a redrive) changes nothing.
    """
    try:
        with dynamodb_errors():
            stored = table.update_item(
                Key={"email": email},
                UpdateExpression="SET userId = :me, claimedAt = if_not_exists(claimedAt, :now)",
                ConditionExpression="attribute_not_exists(email) OR userId = :me",
                ExpressionAttributeValues={":me": user_id, ":now": now},
                ReturnValues="ALL_NEW",
            )["Attributes"]
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        claim = get_claim(table, email)
        if claim is None:
            raise WriteConflict("the email claim was released while it was being claimed") from None
        return claim
    return EmailClaim.model_validate(stored)


def take_over_claim(table: Any, email: str, user_id: str, stale_owner: str, now: str) -> EmailClaim:
    """Move a claim whose owner no longer exists in Cognito to ``user_id``."""
    try:
        with dynamodb_errors():
            table.update_item(
                Key={"email": email},
                UpdateExpression="SET userId = :me, claimedAt = :now, previousUserId = :stale",
                ConditionExpression="userId = :stale",
                ExpressionAttributeValues={":me": user_id, ":now": now, ":stale": stale_owner},
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        raise WriteConflict("the stale email claim changed while it was taken over") from None
    return EmailClaim(email=email, user_id=user_id, claimed_at=now)


def release_claim(table: Any, email: str, user_id: str) -> bool:
    """Delete the claim if ``user_id`` owns it; False otherwise."""
    try:
        with dynamodb_errors():
            table.delete_item(
                Key={"email": email}, ConditionExpression="userId = :me", ExpressionAttributeValues={":me": user_id}
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def record_rejection(table: Any, email: str, rejection: Rejection) -> bool:
    """Record on the owner's claim that ``rejection.user_id`` was refused this email (once).

    False if there is no claim to record it on.
    """
    try:
        with dynamodb_errors():
            table.update_item(
                Key={"email": email},
                UpdateExpression=(
                    "ADD rejectedUserIds :ids SET rejections = list_append(if_not_exists(rejections, :none), :new)"
                ),
                ConditionExpression="attribute_exists(userId) AND NOT contains(rejectedUserIds, :id)",
                ExpressionAttributeValues={
                    ":ids": {rejection.user_id},
                    ":id": rejection.user_id,
                    ":none": [],
                    ":new": [rejection.dump()],
                },
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        claim = get_claim(table, email)
        return claim is not None and rejection.user_id in claim.rejected_user_ids
    return True
