"""The subscription-events workflow's input and step inputs/outputs.

As in onboarding, the input models are views of the execution state, which each Task's
``ResultPath`` grows by one field (``customer``, ``sync``, ``unlinked``, ``unlink``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ..models import Model, NonBlank
from ..stores import EntitlementRecord, UnlinkedCustomer


class EventHint(Model):
    """The subscription-events execution input: which Stripe event happened to which customer.

    Only a hint: the machine re-fetches the customer's current state from Stripe and never reads
    the event's object. ``created`` is kept for operators; it never decides order.
    """

    event_id: NonBlank
    event_type: NonBlank
    customer_id: NonBlank
    object_id: str | None = None
    created: int | None = None
    livemode: bool = False


class CustomerLink(Model):
    """ResolveCustomer's answer: which user (sub) the Stripe customer belongs to.

    ``linked``: the sub is known (``resolved_by`` says how; ``profile_repaired`` when the profile's
    ``stripeCustomerId`` was written from the customer's metadata). ``unlinked``: no user owns it
    (``reason`` says why). ``deleted``: the customer is deleted in Stripe and no profile links it
    any more, so there is nothing left to update.
    """

    outcome: Literal["linked", "unlinked", "deleted"]
    customer_id: str
    sub: str | None = None
    email: str | None = None
    resolved_by: Literal["profile_index", "customer_metadata"] | None = None
    profile_repaired: bool = False
    reason: str | None = None
    metadata_sub: str | None = None
    customer_email: str | None = None


class SyncResult(Model):
    """SyncEntitlement's answer: the entitlement as written and the version it was written at."""

    sync_version: int
    customer_deleted: bool
    attempts: int
    entitlement: EntitlementRecord


class UnlinkResult(Model):
    """UnlinkDeletedCustomer's answer."""

    user_id: str
    customer_id: str
    unlinked: bool


class LinkedEventInput(EventHint):
    """The event hint with ResolveCustomer's answer (the state after ``ResultPath: $.customer``)
    and the later results the state may carry."""

    customer: CustomerLink
    sync: SyncResult | None = None
    unlinked: UnlinkedCustomer | None = None
    unlink: UnlinkResult | None = None


class ResolvedCustomerInput(LinkedEventInput):
    """SyncEntitlement's and UnlinkDeletedCustomer's input: the customer belongs to a user."""

    @model_validator(mode="after")
    def _resolved(self) -> ResolvedCustomerInput:
        if self.customer.outcome != "linked" or not self.customer.sub:
            raise ValueError("customer.outcome must be linked, with a sub")
        return self

    @property
    def sub(self) -> str:
        return str(self.customer.sub)


class UnlinkedCustomerInput(LinkedEventInput):
    """RecordUnlinkedCustomer's input: no user owns the customer."""

    @model_validator(mode="after")
    def _unlinked(self) -> UnlinkedCustomerInput:
        if self.customer.outcome != "unlinked":
            raise ValueError("customer.outcome must be unlinked")
        return self
