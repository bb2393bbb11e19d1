"""The UnlinkedCustomers table: Stripe customers with events but no user, for operators to settle.

One item per customer (PK ``stripeCustomerId``): why it is unlinked, when it was first and last
seen, the last event and how many distinct events named it. Recording is idempotent per event (a
retried or redriven step does not count the same event twice).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConditionFailed
from .records import UnlinkedCustomer
from .table import Table


class UnlinkedCustomersStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(
        self,
        customer_id: str,
        *,
        reason: str,
        event_id: str,
        event_type: str,
        now: str,
        metadata_sub: str | None = None,
        email: str | None = None,
    ) -> UnlinkedCustomer:
        """Note that ``event_id`` named ``customer_id``, which no user owns (once per event)."""
        values: dict[str, Any] = {":reason": reason, ":now": now, ":event": event_id, ":type": event_type, ":one": 1}
        sets = [
            "reason = :reason",
            "lastSeenAt = :now",
            "firstSeenAt = if_not_exists(firstSeenAt, :now)",
            "lastEventId = :event",
            "lastEventType = :type",
        ]
        for field, value in (("metadataSub", metadata_sub), ("email", email)):
            if value:
                sets.append(f"{field} = :{field}")
                values[f":{field}"] = value
        try:
            item = self._table.update(
                {"stripeCustomerId": customer_id},
                "SET " + ", ".join(sets) + " ADD eventCount :one",
                condition="attribute_not_exists(lastEventId) OR lastEventId <> :event",
                values=values,
            )
        except ConditionFailed as failed:
            if failed.item is None:  # cannot happen: the condition holds for a missing item
                return UnlinkedCustomer(stripe_customer_id=customer_id, reason=reason)
            return UnlinkedCustomer.model_validate(failed.item)
        return UnlinkedCustomer.model_validate(item)

    def get(self, customer_id: str) -> UnlinkedCustomer | None:
        item = self._table.get({"stripeCustomerId": customer_id})
        return UnlinkedCustomer.model_validate(item) if item else None

    def list_all(self) -> list[UnlinkedCustomer]:
        """Every unlinked customer (a scan: the table holds exceptions, not users)."""
        return [UnlinkedCustomer.model_validate(item) for item in self._table.scan()]
