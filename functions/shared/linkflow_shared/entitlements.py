"""The Entitlements table: what each Cognito sub may use (``status`` ``none`` until it pays)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .errors import WriteConflict, dynamodb_errors, is_condition_failure
from .models import EntitlementRecord


def get_entitlement(table: Any, cognito_sub: str) -> EntitlementRecord | None:
    with dynamodb_errors():
        item = table.get_item(Key={"cognito_sub": cognito_sub}, ConsistentRead=True).get("Item")
    return EntitlementRecord.model_validate(item) if item else None


def put_new_entitlement(table: Any, entitlement: EntitlementRecord) -> EntitlementRecord:
    """Create ``entitlement`` unless the sub has one (which may be newer); answer the stored one."""
    try:
        with dynamodb_errors():
            table.put_item(Item=entitlement.item(), ConditionExpression="attribute_not_exists(cognito_sub)")
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        stored = get_entitlement(table, entitlement.cognito_sub)
        if stored is None:
            raise WriteConflict(f"entitlement {entitlement.cognito_sub} existed, then vanished") from None
        return stored
    return entitlement


def delete_entitlement(table: Any, cognito_sub: str) -> bool:
    """Delete the entitlement; False if there was none."""
    with dynamodb_errors():
        old = table.delete_item(Key={"cognito_sub": cognito_sub}, ReturnValues="ALL_OLD").get("Attributes")
    return bool(old)
