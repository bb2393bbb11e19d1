"""The one way linkflow talks to a DynamoDB table: every call through the error taxonomy, and one
conditional-write primitive.

A write with a ``condition`` that does not hold raises :class:`~linkflow_shared.errors.ConditionFailed`
carrying the item as stored at that moment (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so a
store decides what a lost condition means without a second read. Only the classes in this
package touch a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..errors import dynamodb_errors, error_code

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

    def scan_page(self, segment: int, segments: int, limit: int,
                  start: Item | None = None) -> tuple[list[Item], Item | None]:
        """One Scan request of one segment of a parallel scan (the reconcile snapshot resumes
        between pages): at most ``limit`` items from ``start`` (an earlier page's
        ``LastEvaluatedKey``), and this page's ``LastEvaluatedKey`` (``None``: the segment's end)."""
        kwargs: dict[str, Any] = {"Segment": segment, "TotalSegments": segments, "Limit": limit}
        if start:
            kwargs["ExclusiveStartKey"] = start
        with dynamodb_errors():
            page = self._table.scan(**kwargs)
        last = page.get("LastEvaluatedKey")
        return list(page.get("Items", [])), (dict(last) if last else None)

    @staticmethod
    def get_together(reads: Sequence[tuple[Table, Item]]) -> list[Item | None]:
        """Items of several tables, each by its key, in one round trip (``TransactGetItems``):
        read as one serializable snapshot, so at least as fresh as :meth:`get`'s strongly
        consistent read. IAM: ``dynamodb:GetItem`` on each table (a transaction's ``Get`` is
        authorized as ``GetItem``; no other action). Each item costs two read units instead of one.
        A write in flight on one of the items cancels the transaction (``TransactionConflict``):
        the items are then read one by one with :meth:`get`."""
        if len(reads) < 2:
            return [table.get(key) for table, key in reads]
        request: list[Any] = [{"Get": {"TableName": table.name, "Key": dict(key)}} for table, key in reads]
        with dynamodb_errors():
            try:
                # the resource's own client: it takes and answers items as Python values, as `get` does
                answer = reads[0][0]._table.meta.client.transact_get_items(TransactItems=request)
            except ClientError as exc:
                if not _conflict(exc):
                    raise
                return [table.get(key) for table, key in reads]
        responses = answer.get("Responses") or [{} for _ in reads]  # None or {}: that item does not exist
        return [dict(response["Item"]) if response and response.get("Item") else None for response in responses]

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


def _conflict(exc: ClientError) -> bool:
    """A transaction canceled only because a write to one of its items was in flight."""
    if error_code(exc) != "TransactionCanceledException":
        return False
    cancellation: Any = dict(exc.response).get("CancellationReasons") or []  # not in botocore's error TypedDict
    reasons = [str(reason.get("Code", "None")) for reason in cancellation]
    return "TransactionConflict" in reasons and set(reasons) <= {"TransactionConflict", "None"}
