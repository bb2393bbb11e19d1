"""The one way linkflow talks to a DynamoDB table: every call through the error taxonomy, and one
conditional-write primitive.

A write with a ``condition`` that does not hold raises :class:`~linkflow_shared.errors.ConditionFailed`
carrying the item as stored at that moment (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so a
store decides what a lost condition means without a second read. Only the classes in this
package touch a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import dynamodb_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table as BotoTable

Item = dict[str, Any]


def _conditional(
    condition: str | None, values: Mapping[str, Any] | None, names: Mapping[str, str] | None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if condition:
        kwargs["ConditionExpression"] = condition
        kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if values:
        kwargs["ExpressionAttributeValues"] = dict(values)
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    return kwargs


class Table:
    """A DynamoDB table resource behind linkflow's errors (see the module docstring)."""

    def __init__(self, table: BotoTable) -> None:
        self._table = table

    @property
    def name(self) -> str:
        return self._table.name

    def get(self, key: Item, *, projection: str | None = None) -> Item | None:
        """The item, read strongly consistent; ``None`` if there is none."""
        kwargs: dict[str, Any] = {"Key": key, "ConsistentRead": True}
        if projection:
            kwargs["ProjectionExpression"] = projection
        with dynamodb_errors():
            return self._table.get_item(**kwargs).get("Item")

    def put(self, item: Item, *, condition: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        with dynamodb_errors():
            self._table.put_item(Item=item, **_conditional(condition, values, None))

    def update(
        self,
        key: Item,
        expression: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Item:
        """Apply ``expression``; answer the item as written (``ALL_NEW``)."""
        with dynamodb_errors():
            answer = self._table.update_item(
                Key=key, UpdateExpression=expression, ReturnValues="ALL_NEW", **_conditional(condition, values, names)
            )
        return dict(answer.get("Attributes") or {})

    def delete(
        self,
        key: Item,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Item | None:
        """Delete the item; answer what was deleted (``None``: there was nothing)."""
        with dynamodb_errors():
            answer = self._table.delete_item(Key=key, ReturnValues="ALL_OLD", **_conditional(condition, values, names))
        return answer.get("Attributes")

    def query(self, index: str, condition: str, values: Mapping[str, Any]) -> list[Item]:
        """Every item an index query answers (eventually consistent, as GSIs are)."""
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dict(values),
        }
        return self._pages("query", kwargs)

    def scan(self) -> list[Item]:
        """Every item (for the small tables of exceptions, never for users)."""
        return self._pages("scan", {"ConsistentRead": True})

    def scan_segment(self, segment: int, segments: int) -> list[Item]:
        """One segment of a parallel scan (the reconcile snapshot reads a table in ``segments``)."""
        return self._pages("scan", {"Segment": segment, "TotalSegments": segments})

    def _pages(self, operation: str, kwargs: dict[str, Any]) -> list[Item]:
        items: list[Item] = []
        call = getattr(self._table, operation)
        while True:
            with dynamodb_errors():
                page = call(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
