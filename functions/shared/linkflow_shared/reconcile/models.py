"""The reconcile workflow's records: one user as the snapshot saw it across the three systems, what
comparing them found, and what each fix did.

A snapshot shard is JSONL: one :class:`UserSnapshot` per line, every record keyed by the Cognito
sub (Stripe customers by the sub their metadata names, or the profile that links them).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field

from ..models import Model
from ..stores import EmailClaim, EntitlementRecord, ProfileRecord

FindingKind = Literal[
    "missing_onboarding",
    "missing_profile",
    "missing_entitlement",
    "unlinked_customer",
    "missing_customer",
    "duplicate_customers",
    "customer_metadata",
    "entitlement_drift",
    "email_drift",
    "orphan_records",
]
FINDING_KINDS: tuple[FindingKind, ...] = get_args(FindingKind)
# Fixed unless asked not to (``--fix`` names the kinds to fix; none named: these).
DEFAULT_FIXES: frozenset[FindingKind] = frozenset(FINDING_KINDS) - {"orphan_records"}


class CognitoEntry(Model):
    username: str
    sub: str
    status: str
    enabled: bool = True
    email: str | None = None
    email_verified: bool = False
    created: int | None = None  # epoch seconds

    @property
    def confirmed(self) -> bool:
        return self.status in ("CONFIRMED", "EXTERNAL_PROVIDER")


class CustomerEntry(Model):
    """A live or deleted Stripe customer and what the snapshot knows of its billing."""

    id: str
    email: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created: int = 0
    balance: int = 0
    deleted: bool = False
    subscriptions: list[dict[str, Any]] = Field(default_factory=list)
    has_invoices: bool = False

    @property
    def named_subs(self) -> set[str]:
        return {str(self.metadata[k]) for k in ("cognito_sub", "cognito_user_id") if self.metadata.get(k)}

    @property
    def billing_history(self) -> bool:
        return bool(self.subscriptions) or self.has_invoices or self.balance != 0


class UserSnapshot(Model):
    """Everything the snapshot saw for one sub."""

    sub: str
    cognito: CognitoEntry | None = None
    profile: ProfileRecord | None = None
    entitlement: EntitlementRecord | None = None
    claims: list[EmailClaim] = Field(default_factory=list)
    customers: list[CustomerEntry] = Field(default_factory=list)


class Finding(Model):
    kind: FindingKind
    sub: str
    detail: str
    customer_ids: list[str] = Field(default_factory=list)


FixStatus = Literal["fixed", "refused", "failed", "not_fixed"]


class FixOutcome(Model):
    """What happened to one finding: ``not_fixed`` (a dry run, or a kind not asked for), ``fixed``,
    ``refused`` (fixing it would lose data: ``reason`` says what), ``failed`` (an error)."""

    kind: FindingKind
    sub: str
    status: FixStatus
    reason: str | None = None


class ShardReport(Model):
    """One Map child's answer: counts only (the per-user outcomes go to S3 with the results)."""

    shard: str
    users_scanned: int = 0
    findings: dict[str, int] = Field(default_factory=dict)
    fixed: dict[str, int] = Field(default_factory=dict)
    refused: dict[str, int] = Field(default_factory=dict)
    failed: dict[str, int] = Field(default_factory=dict)
    stripe_requests: int = 0
    refusals: list[FixOutcome] = Field(default_factory=list)
