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


# --- subscription events: the ordering guard --------------------------------------------------

# Fields a sync owns: written when Stripe has a value, removed when it has none (a canceled trial
# must not keep its trial end). ``email`` is only ever set, never removed.
_SYNCED_FIELDS = (
    "status",
    "plan",
    "current_period_end",
    "trial_expires_at",
    "cancel_at_period_end",
    "stripeCustomerId",
    "subscriptionId",
    "updatedAt",
    "syncVersion",
    "syncedAt",
    "lastEventId",
    "lastEventType",
)


def read_sync_version(table: Any, cognito_sub: str) -> int:
    """The entitlement's ``syncVersion`` (0 when it has none), read strongly consistent."""
    with dynamodb_errors():
        item = table.get_item(
            Key={"cognito_sub": cognito_sub},
            ConsistentRead=True,
            ProjectionExpression="syncVersion",
        ).get("Item")
    return int((item or {}).get("syncVersion", 0))


def write_synced_entitlement(table: Any, record: EntitlementRecord, base_version: int) -> bool:
    """Write ``record`` (at ``base_version + 1``) if the stored ``syncVersion`` is still ``base_version``.

    False when another sync wrote in between: the caller re-reads the version, re-fetches Stripe
    and tries again (see ``subscription_sync`` for why this keeps the newest view).
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
    if base_version:
        condition = "syncVersion = :base"
        attrs[":base"] = base_version
    else:
        condition = "attribute_not_exists(syncVersion)"
    try:
        with dynamodb_errors():
            table.update_item(
                Key={"cognito_sub": record.cognito_sub},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attrs,
            )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True
