"""The EmailClaims table: the atomic claim of a normalized email by one Cognito sub.

A GSI cannot enforce uniqueness (eventually consistent, no unique constraint), so the first
conditional write of ``{email, userId, claimedAt}`` decides who owns an email. Accounts rejected
because their email was already claimed are recorded on the owner's claim item
(``rejectedUserIds`` and ``rejections``), where an operator looking at the email finds them.
"""

from __future__ import annotations

from ..errors import ConditionFailed, WriteConflict
from .records import EmailClaim, Rejection
from .table import Table


class EmailClaimsStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, email: str) -> EmailClaim | None:
        item = self._table.get({"email": email})
        return EmailClaim.model_validate(item) if item else None

    def claim(self, email: str, user_id: str, now: str) -> EmailClaim:
        """Claim ``email`` for ``user_id``; answer the claim as stored, whoever owns it.

        Claiming again for the same owner (a retry, a redrive) changes nothing.
        """
        try:
            stored = self._table.update(
                {"email": email},
                "SET userId = :me, claimedAt = if_not_exists(claimedAt, :now)",
                condition="attribute_not_exists(email) OR userId = :me",
                values={":me": user_id, ":now": now},
            )
        except ConditionFailed as failed:
            if failed.item is None:
                raise WriteConflict("the email claim was released while it was being claimed") from None
            return EmailClaim.model_validate(failed.item)
        return EmailClaim.model_validate(stored)

    def take_over(self, email: str, user_id: str, stale_owner: str, now: str) -> EmailClaim:
        """Move a claim whose owner no longer exists in Cognito to ``user_id``."""
        try:
            stored = self._table.update(
                {"email": email},
                "SET userId = :me, claimedAt = :now, previousUserId = :stale",
                condition="userId = :stale",
                values={":me": user_id, ":now": now, ":stale": stale_owner},
            )
        except ConditionFailed:
            raise WriteConflict("the stale email claim changed while it was taken over") from None
        return EmailClaim.model_validate(stored)

    def release(self, email: str, user_id: str) -> bool:
        """Delete the claim if ``user_id`` owns it; False otherwise."""
        try:
            self._table.delete({"email": email}, condition="userId = :me", values={":me": user_id})
        except ConditionFailed:
            return False
        return True

    def record_rejection(self, email: str, rejection: Rejection) -> bool:
        """Record on the owner's claim that ``rejection.user_id`` was refused this email (once).

        False if there is no claim to record it on.
        """
        try:
            self._table.update(
                {"email": email},
                "ADD rejectedUserIds :ids SET rejections = list_append(if_not_exists(rejections, :none), :new)",
                condition="attribute_exists(userId) AND NOT contains(rejectedUserIds, :id)",
                values={
                    ":ids": {rejection.user_id},
                    ":id": rejection.user_id,
                    ":none": [],
                    ":new": [rejection.dump()],
                },
            )
        except ConditionFailed as failed:
            return failed.item is not None and rejection.user_id in (failed.item.get("rejectedUserIds") or ())
        return True
