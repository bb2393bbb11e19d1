"""The UserProfiles table: one profile per Cognito sub, and the profile's link to its Stripe customer.

Every write is conditional, so a retried or redriven step never clobbers what is stored. The link
(``stripeCustomerId``, GSI ``StripeCustomerIndex``) is only ever written here, by
:meth:`ProfilesStore.link_customer`, whoever asks: onboarding, the events machine's repair.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from ..errors import ConditionFailed, WriteConflict
from .records import ProfileRecord
from .table import Item, Table

EMAIL_INDEX = "EmailIndex"
STRIPE_CUSTOMER_INDEX = "StripeCustomerIndex"

CustomerLinkOutcome = Literal["linked", "already_linked", "links_another", "no_profile"]


class ProfilesStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, user_id: str) -> ProfileRecord | None:
        return self.record(self._table.get({"userId": user_id}))

    def read(self, user_id: str) -> tuple[Table, Item]:
        """Where the profile is, for :meth:`Table.get_together` (then :meth:`record`)."""
        return self._table, {"userId": user_id}

    @staticmethod
    def record(item: Item | None) -> ProfileRecord | None:
        return ProfileRecord.model_validate(item) if item else None

    def find_by_email(self, email: str) -> list[ProfileRecord]:
        """Profiles holding ``email`` (normalized) via EmailIndex: eventually consistent, never unique."""
        items = self._table.query(EMAIL_INDEX, "email = :email", {":email": email})
        return [ProfileRecord.model_validate(item) for item in items]

    def find_by_customer(self, customer_id: str) -> list[ProfileRecord]:
        items = self._table.query(STRIPE_CUSTOMER_INDEX, "stripeCustomerId = :id", {":id": customer_id})
        return [ProfileRecord.model_validate(item) for item in items]

    def create(self, profile: ProfileRecord) -> ProfileRecord:
        """Create ``profile`` unless the user already has one; answer the stored profile."""
        try:
            self._table.put(profile.item(), condition="attribute_not_exists(userId)")
        except ConditionFailed as failed:
            if failed.item is None:
                raise WriteConflict(f"profile {profile.user_id} existed, then vanished; write it again") from None
            return ProfileRecord.model_validate(failed.item)
        return profile

    def link_customer(
        self, user_id: str, customer_id: str, now: str
    ) -> tuple[CustomerLinkOutcome, ProfileRecord | None]:
        """Write ``customer_id`` into the profile unless it links a customer already.

        ``linked``: written now; ``already_linked``: it links this one (a retry); ``links_another``:
        it links a different customer (left as it is); ``no_profile``: there is no profile.
        """
        try:
            item = self._table.update(
                {"userId": user_id},
                "SET stripeCustomerId = :c, updatedAt = :now",
                condition="attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)",
                values={":c": customer_id, ":now": now},
            )
        except ConditionFailed as failed:
            if failed.item is None:
                return "no_profile", None
            stored = ProfileRecord.model_validate(failed.item)
            if stored.stripe_customer_id == customer_id:
                return "already_linked", stored
            if stored.stripe_customer_id:
                return "links_another", stored
            raise WriteConflict(f"profile {user_id} changed while its Stripe customer was linked") from None
        return "linked", ProfileRecord.model_validate(item)

    def unlink_customer(self, user_id: str, customer_id: str, now: str) -> bool:
        """Remove ``customer_id`` from the profile if it still links that one; False otherwise."""
        try:
            self._table.update(
                {"userId": user_id},
                "REMOVE stripeCustomerId SET updatedAt = :now",
                condition="stripeCustomerId = :c",
                values={":c": customer_id, ":now": now},
            )
        except ConditionFailed:
            return False
        return True

    def set_email(self, user_id: str, old: str, new: str, now: str) -> bool:
        """Replace the profile's email ``old`` with ``new``; False if the profile changed meanwhile."""
        try:
            self._table.update(
                {"userId": user_id},
                "SET email = :new, updatedAt = :now",
                condition="email = :old",
                values={":new": new, ":old": old, ":now": now},
            )
        except ConditionFailed:
            return False
        return True

    def add_provider(self, user_id: str, provider: str, now: str) -> bool:
        """Record a linked identity provider; False if there is no profile or it is there already."""
        try:
            self._table.update(
                {"userId": user_id},
                "SET providers = list_append(if_not_exists(providers, :none), :new), updatedAt = :now",
                condition="attribute_exists(userId) AND NOT contains(providers, :provider)",
                values={":none": [], ":new": [provider], ":provider": provider, ":now": now},
            )
        except ConditionFailed:
            return False
        return True

    def delete(self, user_id: str, *, unless_linked_outside: Collection[str] | None = None) -> bool:
        """Delete the profile; False if there was none. With ``unless_linked_outside``, only when it
        links no customer or one of those (a compensation never orphans a customer it kept)."""
        if unless_linked_outside is None:
            return self._table.delete({"userId": user_id}) is not None
        allowed = sorted(unless_linked_outside)
        condition = " OR ".join(["attribute_not_exists(stripeCustomerId)"] +
                                [f"stripeCustomerId = :c{i}" for i in range(len(allowed))])
        try:
            old = self._table.delete(
                {"userId": user_id}, condition=condition, values={f":c{i}": c for i, c in enumerate(allowed)}
            )
        except ConditionFailed:
            return False
        return old is not None
