"""The UnlinkedCustomers table: Stripe customers with events but no user, for operators to settle.

One item per customer (PK ``stripeCustomerId``): why it is unlinked, when it was first and last
seen, the last event and how many distinct events named it. Recording is idempotent per event (a
retried or redriven step does not count the same event twice), and the execution that records it
succeeds: an unlinked customer is a fact to look at, not a failure to retry.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .errors import InvalidEventInput, dynamodb_errors, is_condition_failure
from .models import LinkedEventInput, UnlinkedCustomer, utc_now


def record_unlinked_customer(state: LinkedEventInput, *, table: Any) -> UnlinkedCustomer:
    link = state.customer
    if link.outcome != "unlinked":
        raise InvalidEventInput("RecordUnlinkedCustomer needs customer.outcome == unlinked")
    now = utc_now()
    values: dict[str, Any] = {
        ":reason": link.reason or "unknown",
        ":now": now,
        ":event": state.event_id,
        ":type": state.event_type,
        ":one": 1,
    }
    sets = [
        "reason = :reason",
        "lastSeenAt = :now",
        "firstSeenAt = if_not_exists(firstSeenAt, :now)",
        "lastEventId = :event",
        "lastEventType = :type",
    ]
    for field, value in (("metadataSub", link.metadata_sub), ("email", link.customer_email)):
        if value:
            sets.append(f"{field} = :{field}")
            values[f":{field}"] = value
    try:
        with dynamodb_errors():
            item = table.update_item(
                Key={"stripeCustomerId": link.customer_id},
                UpdateExpression="SET " + ", ".join(sets) + " ADD eventCount :one",
                ConditionExpression="attribute_not_exists(lastEventId) OR lastEventId <> :event",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        stored = get_unlinked_customer(table, link.customer_id)
        if stored is None:  # deleted by an operator meanwhile: nothing more to record
            return UnlinkedCustomer(stripe_customer_id=link.customer_id, reason=link.reason or "unknown")
        return stored
    return UnlinkedCustomer.model_validate(item)


def get_unlinked_customer(table: Any, customer_id: str) -> UnlinkedCustomer | None:
    with dynamodb_errors():
        item = table.get_item(Key={"stripeCustomerId": customer_id}, ConsistentRead=True).get("Item")
    return UnlinkedCustomer.model_validate(item) if item else None


def list_unlinked_customers(table: Any) -> list[UnlinkedCustomer]:
    """Every unlinked customer (a scan: the table holds exceptions, not users)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        with dynamodb_errors():
            page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return [UnlinkedCustomer.model_validate(i) for i in items]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
