"""The records the tables hold, one model each (see docs for their attributes)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..models import NATIVE_PROVIDER, Model, Record


class ProfileRecord(Record):
    """A UserProfiles item (PK ``userId``).

    Records are validated where they are built (from a parsed step input), not where they are
    read, so items written by the previous system still load.
    """

    user_id: str
    email: str
    given_name: str | None = None
    family_name: str | None = None
    stripe_customer_id: str | None = None
    providers: list[str] = Field(default_factory=lambda: [NATIVE_PROVIDER])
    created_at: str | None = None
    updated_at: str | None = None


EntitlementStatus = Literal[
    "none",
    "trialing",
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "paused",
]


class EntitlementRecord(Record):
    """An Entitlements item (PK ``cognito_sub``)."""

    cognito_sub: str = Field(alias="cognito_sub")
    email: str | None = None
    status: EntitlementStatus = "none"
    plan: str | None = None
    current_period_end: int | None = Field(default=None, alias="current_period_end")
    trial_expires_at: int | None = Field(default=None, alias="trial_expires_at")
    stripe_customer_id: str | None = None
    subscription_id: str | None = None
    updated_at: str | None = None
    # Written by the subscription-events machine (see subscription_events/sync.py): Stripe's flag,
    # and the ordering guard (a counter every sync write bumps with a conditional write).
    cancel_at_period_end: bool | None = Field(default=None, alias="cancel_at_period_end")
    # The lookup keys of the customer's active Stripe Entitlements, refreshed on every sync.
    features: list[str] | None = None
    sync_version: int | None = None
    synced_at: str | None = None
    last_event_id: str | None = None
    last_event_type: str | None = None


class Rejection(Model):
    """Why an account was disabled instead of onboarded (kept on the owner's email claim)."""

    user_id: str
    user_name: str
    owner_user_id: str
    reason: Literal["duplicate_native_sign_up", "unverified_external_email", "duplicate_external_sign_up"]
    cognito_disabled: bool
    rejected_at: str


class EmailClaim(Record):
    """An EmailClaims item (PK ``email``): the atomic claim of a normalized email by one user."""

    email: str
    user_id: str
    claimed_at: str | None = None
    previous_user_id: str | None = None
    rejected_user_ids: list[str] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)


class UnlinkedCustomer(Record):
    """An UnlinkedCustomers item (PK ``stripeCustomerId``): a Stripe customer no user owns."""

    stripe_customer_id: str
    reason: str
    metadata_sub: str | None = None
    email: str | None = None
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    last_event_id: str | None = None
    last_event_type: str | None = None
    event_count: int = 0
