"""The Entitlements table: what each Cognito sub may use (``status`` ``none`` until it pays), and
the ordering guard the subscription-events machine writes under (see ``subscription_events.sync``).
"""

from __future__ import annotations

from ..errors import ConditionFailed, WriteConflict
from .records import EntitlementRecord
from .table import Item, Table

# Fields a sync owns: written when Stripe has a value, removed when it has none (a canceled trial
# must not keep its trial end). ``email`` is only ever set, never removed.
_SYNCED_FIELDS = (
    "status",
    "plan",
    "current_period_end",
    "trial_expires_at",
    "cancel_at_period_end",
    "features",
    "stripeCustomerId",
    "subscriptionId",
    "updatedAt",
    "syncVersion",
    "syncedAt",
    "lastEventId",
    "lastEventType",
)


class EntitlementsStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, cognito_sub: str) -> EntitlementRecord | None:
        return self.record(self._table.get({"cognito_sub": cognito_sub}))

    def read(self, cognito_sub: str) -> tuple[Table, Item]:
        """Where the entitlement is, for :meth:`Table.get_together` (then :meth:`record`)."""
        return self._table, {"cognito_sub": cognito_sub}

    @staticmethod
    def record(item: Item | None) -> EntitlementRecord | None:
        return EntitlementRecord.model_validate(item) if item else None

    def create(self, entitlement: EntitlementRecord) -> EntitlementRecord:
        """Create ``entitlement`` unless the sub has one (which may be newer); answer the stored one."""
        try:
            self._table.put(entitlement.item(), condition="attribute_not_exists(cognito_sub)")
        except ConditionFailed as failed:
            if failed.item is None:
                raise WriteConflict(f"entitlement {entitlement.cognito_sub} existed, then vanished") from None
            return EntitlementRecord.model_validate(failed.item)
        return entitlement

    def delete(self, cognito_sub: str) -> bool:
        """Delete the entitlement; False if there was none."""
        return self._table.delete({"cognito_sub": cognito_sub}) is not None

    def backfill_email(self, cognito_sub: str, email: str, now: str) -> bool:
        """Set ``email`` on an entitlement that has none; False if it has one (or there is none)."""
        return self._set_email(cognito_sub, email, now, "attribute_exists(cognito_sub) AND attribute_not_exists(email)")

    def set_email(self, cognito_sub: str, email: str, now: str) -> bool:
        """Replace the entitlement's email (it follows the verified Cognito email); False if absent."""
        return self._set_email(cognito_sub, email, now, "attribute_exists(cognito_sub)")

    def _set_email(self, cognito_sub: str, email: str, now: str, condition: str) -> bool:
        try:
            self._table.update({"cognito_sub": cognito_sub}, "SET email = :e, updatedAt = :now",
                               condition=condition, values={":e": email, ":now": now})
        except ConditionFailed:
            return False
        return True

    def delete_unpaid(self, cognito_sub: str) -> bool:
        """Delete the entitlement unless its status is a paid one; False if kept or absent."""
        try:
            old = self._table.delete(
                {"cognito_sub": cognito_sub},
                condition="attribute_not_exists(#status) OR #status IN (:none, :canceled, :expired)",
                values={":none": "none", ":canceled": "canceled", ":expired": "incomplete_expired"},
                names={"#status": "status"},
            )
        except ConditionFailed:
            return False
        return old is not None

    def read_sync_version(self, cognito_sub: str) -> int:
        """The entitlement's ``syncVersion`` (0 when it has none), read strongly consistent."""
        item = self._table.get({"cognito_sub": cognito_sub}, projection="syncVersion")
        return int((item or {}).get("syncVersion", 0))

    def write_synced(self, record: EntitlementRecord, base_version: int) -> bool:
        """Write ``record`` (at ``base_version + 1``) if the stored ``syncVersion`` is still ``base_version``.

        False when another sync wrote in between: the caller re-reads the version, re-fetches
        Stripe and tries again.
        """
        values = record.item()
        values["syncVersion"] = base_version + 1
        sets, removes, names, attrs = [], [], {}, {}
        for i, field in enumerate(_SYNCED_FIELDS):
            names[f"#f{i}"] = field
            if values.get(field) is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                attrs[f":v{i}"] = values[field]
        if values.get("email"):
            sets.append("email = :email")
            attrs[":email"] = values["email"]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "syncVersion = :base" if base_version else "attribute_not_exists(syncVersion)"
        if base_version:
            attrs[":base"] = base_version
        try:
            self._table.update(
                {"cognito_sub": record.cognito_sub}, expression, condition=condition, values=attrs, names=names
            )
        except ConditionFailed:
            return False
        return True
