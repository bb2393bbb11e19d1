"""Records, events and step inputs/outputs, one pydantic model each.

Field names are snake_case in Python; on the wire (DynamoDB items, state machine JSON, Cognito
events) they keep the names of the existing system (camelCase, except the entitlement's
``cognito_sub``/``current_period_end``/``trial_expires_at``). Dump with :meth:`Model.dump`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from .errors import InvalidEventInput, InvalidOnboardingInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
NATIVE_PROVIDER = "Cognito"
# Cognito prefixes a federated user's username with the provider name; social providers appear
# lower-cased in some places, so map them back to the ProviderName AdminLinkProviderForUser wants.
_SOCIAL_PROVIDERS = {
    "google": "Google",
    "facebook": "Facebook",
    "signinwithapple": "SignInWithApple",
    "loginwithamazon": "LoginWithAmazon",
}


def normalize_email(raw: str) -> str:
    """The form an email is stored and claimed in: trimmed, lower-cased, shape-checked."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not a valid email address")
    return email


def mask_email(email: str) -> str:
    """``a***@example.com``: enough to tell users apart in a log line, not enough to mail them."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError("not a UUID") from exc


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Email = Annotated[str, AfterValidator(normalize_email)]
Sub = Annotated[str, AfterValidator(_uuid)]
NonBlank = Annotated[str, AfterValidator(_not_blank)]


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds, the timestamp format of every record."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The wire form: aliases, JSON types."""
        return self.model_dump(by_alias=True, mode="json")


M = TypeVar("M", bound=Model)


def parse_input(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; a failure is an :class:`InvalidOnboardingInput`.

    The message names the fields and what is wrong with them, never their values (emails are
    personal data and end up in execution histories and logs).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidOnboardingInput(f"invalid {model.__name__}: {problems}") from None


def external_identity(user_name: str, attributes: dict[str, str]) -> tuple[str, str] | None:
    """``(ProviderName, provider user id)`` of a federated user, ``None`` for a native one."""
    raw = attributes.get("identities")
    if raw:
        try:
            identities = json.loads(raw)
        except json.JSONDecodeError:
            identities = []
        primary = [i for i in identities if i.get("primary")] or identities
        if primary and primary[0].get("providerName") and primary[0].get("userId"):
            return str(primary[0]["providerName"]), str(primary[0]["userId"])
    prefix, sep, provider_user_id = user_name.partition("_")
    if not sep or not provider_user_id:
        return None
    if prefix.lower() in _SOCIAL_PROVIDERS:
        return _SOCIAL_PROVIDERS[prefix.lower()], provider_user_id
    return None


# --- Cognito trigger events ---------------------------------------------------------------------


class TriggerRequest(Model):
    user_attributes: dict[str, str] = Field(default_factory=dict)


class CognitoTriggerEvent(Model):
    """The part of a Cognito user pool trigger event linkflow reads (PreSignUp, PostConfirmation)."""

    user_pool_id: NonBlank
    user_name: NonBlank
    trigger_source: NonBlank
    request: TriggerRequest = Field(default_factory=TriggerRequest)

    @property
    def attributes(self) -> dict[str, str]:
        return self.request.user_attributes

    @property
    def email_verified(self) -> bool:
        return str(self.attributes.get("email_verified", "")).lower() == "true"

    @property
    def identity(self) -> tuple[str, str] | None:
        return external_identity(self.user_name, self.attributes)


# --- onboarding state machine -------------------------------------------------------------------


class OnboardingInput(Model):
    """The execution input the PostConfirmation trigger starts the onboarding machine with."""

    user_pool_id: NonBlank
    user_name: NonBlank
    sub: Sub
    email: Email
    given_name: str | None = None
    family_name: str | None = None
    email_verified: bool = False
    providers: list[str] = Field(default_factory=lambda: [NATIVE_PROVIDER])

    @classmethod
    def from_trigger(cls, event: CognitoTriggerEvent) -> OnboardingInput:
        attrs = event.attributes
        identity = event.identity
        return parse_input(
            cls,
            {
                "userPoolId": event.user_pool_id,
                "userName": event.user_name,
                "sub": attrs.get("sub"),
                "email": attrs.get("email"),
                "givenName": attrs.get("given_name"),
                "familyName": attrs.get("family_name"),
                "emailVerified": event.email_verified,
                "providers": [identity[0]] if identity else [NATIVE_PROVIDER],
            },
        )

    @property
    def is_external(self) -> bool:
        return NATIVE_PROVIDER not in self.providers


class EmailClaimResult(Model):
    """CheckDuplicateEmail's answer: who owns the email and what this run does about it."""

    outcome: Literal["claimed", "link_to_existing", "duplicate"]
    owner_user_id: str
    owner_user_name: str | None = None


class StripeCustomerRef(Model):
    customer_id: NonBlank
    created: bool


class StoreCustomerResult(Model):
    """StoreStripeCustomerId's answer; ``conflict`` means another path stored a different customer."""

    outcome: Literal["stored", "conflict"]
    stored_customer_id: str
    own_customer_id: str


class LinkResult(Model):
    """LinkProvider's answer: the external identity now resolves to the owner's sub."""

    owner_user_id: str
    provider_name: str
    provider_user_id: str
    linked_now: bool
    federated_user_deleted: bool
    profile_updated: bool


class CustomerDeletion(Model):
    """CompensateDeleteStripeCustomer's answer."""

    deleted_customer_id: str | None
    kept_customer_id: str


class RollbackResult(Model):
    """CompensateRollbackOnboarding's answer: what this run had created and is now gone."""

    deleted_customer_ids: list[str]
    profile_deleted: bool
    entitlement_deleted: bool
    email_claim_released: bool


class StepError(BaseModel):
    """What a Catch with ``ResultPath: $.error`` puts in the state."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    Error: str = ""
    Cause: str | None = None


class OnboardingState(OnboardingInput):
    """The whole execution state (the input plus the step results so far), as a rollback sees it."""

    email_claim: EmailClaimResult | None = None
    stripe_customer: StripeCustomerRef | None = None
    stored_customer: StoreCustomerResult | None = None
    error: StepError | None = None


class ClaimedEmailInput(OnboardingInput):
    """LinkProvider's and CompensateDisableDuplicateAccount's input: the claim decided the path."""

    email_claim: EmailClaimResult


class StoreCustomerInput(OnboardingInput):
    """StoreStripeCustomerId's input."""

    stripe_customer: StripeCustomerRef


class DeleteCustomerInput(OnboardingInput):
    """CompensateDeleteStripeCustomer's input: the run's customer and the one the profile kept."""

    stripe_customer: StripeCustomerRef
    stored_customer: StoreCustomerResult


# --- records ------------------------------------------------------------------------------------


class ProfileRecord(Model):
    """A UserProfiles item (PK ``userId``).

    Records are validated where they are built (from a parsed :class:`OnboardingInput`), not
    where they are read, so items written by the previous system still load.
    """

    user_id: str
    email: str
    given_name: str | None = None
    family_name: str | None = None
    stripe_customer_id: str | None = None
    providers: list[str] = Field(default_factory=lambda: [NATIVE_PROVIDER])
    created_at: str | None = None
    updated_at: str | None = None

    def item(self) -> dict[str, Any]:
        """The DynamoDB item: absent optional attributes stay absent (sparse GSI, no NULL keys)."""
        return {k: v for k, v in self.dump().items() if v is not None}


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


class EntitlementRecord(Model):
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
    # Written by the subscription-events machine (see subscription_sync.py): Stripe's flag, and the
    # ordering guard (a counter every sync write bumps with a conditional write) with its context.
    cancel_at_period_end: bool | None = Field(default=None, alias="cancel_at_period_end")
    sync_version: int | None = None
    synced_at: str | None = None
    last_event_id: str | None = None
    last_event_type: str | None = None

    def item(self) -> dict[str, Any]:
        return {k: v for k, v in self.dump().items() if v is not None}


class Rejection(Model):
    """Why an account was disabled instead of onboarded (kept on the owner's email claim)."""

    user_id: str
    user_name: str
    owner_user_id: str
    reason: Literal["duplicate_native_sign_up", "unverified_external_email", "duplicate_external_sign_up"]
    cognito_disabled: bool
    rejected_at: str


class EmailClaim(Model):
    """An EmailClaims item (PK ``email``): the atomic claim of a normalized email by one user."""

    email: str
    user_id: str
    claimed_at: str | None = None
    previous_user_id: str | None = None
    rejected_user_ids: list[str] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)


# --- subscription events ------------------------------------------------------------------------


def parse_event_input(model: type[M], data: Any) -> M:
    """:func:`parse_input` for the subscription-events steps: a failure is an
    :class:`InvalidEventInput` (terminal; the message names fields, never values)."""
    try:
        return parse_input(model, data)
    except InvalidOnboardingInput as exc:
        raise InvalidEventInput(str(exc)) from None


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


class LinkedEventInput(EventHint):
    """The event hint with ResolveCustomer's answer (the state after ``ResultPath: $.customer``)."""

    customer: CustomerLink


class ResolvedCustomerInput(LinkedEventInput):
    """SyncEntitlement's and UnlinkDeletedCustomer's input: the customer belongs to a user."""

    @model_validator(mode="after")
    def _resolved(self) -> ResolvedCustomerInput:
        if self.customer.outcome != "linked" or not self.customer.sub:
            raise ValueError("customer.outcome must be linked, with a sub")
        return self


class UnlinkedCustomerInput(LinkedEventInput):
    """RecordUnlinkedCustomer's input: no user owns the customer."""

    @model_validator(mode="after")
    def _unlinked(self) -> UnlinkedCustomerInput:
        if self.customer.outcome != "unlinked":
            raise ValueError("customer.outcome must be unlinked")
        return self


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


class UnlinkedCustomer(Model):
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

    def item(self) -> dict[str, Any]:
        return {k: v for k, v in self.dump().items() if v is not None}
