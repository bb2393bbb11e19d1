"""The onboarding workflow's events and step inputs/outputs.

The execution state grows as the machine runs: each Task's ``ResultPath`` adds one field. The
input models are views of that state (:class:`OnboardingState` declares every field a step may
find; a step's own input model makes required what it builds on), and a unit test holds every
``ResultPath`` to a field of the next step's input model.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..models import NATIVE_PROVIDER, Email, Model, NonBlank, Sub, external_identity, parse_step_input
from ..stores import Rejection

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


class SignUpDecision(Model):
    """PreSignUp's decision (logged; Cognito gets the event back unchanged)."""

    action: Literal["allow", "linked", "fail_open"]
    reason: str
    owner_user_id: str | None = None


# --- the execution input and the step results ---------------------------------------------------
# (the queued-start models follow OnboardingInput, which they carry)


class OnboardingInput(Model):
    """The execution input the PostConfirmation trigger starts the onboarding machine with.

    It carries the email (most steps need it) and no names: execution histories are kept and
    shown to operators, so the steps that need a name (WriteProfile, CreateStripeCustomer) read
    it from Cognito. An input from an older version that still has names parses; they are ignored.
    """

    user_pool_id: NonBlank
    user_name: NonBlank
    sub: Sub
    email: Email
    email_verified: bool = False
    providers: list[str] = Field(default_factory=lambda: [NATIVE_PROVIDER])

    @classmethod
    def from_trigger(cls, event: CognitoTriggerEvent) -> OnboardingInput:
        attrs = event.attributes
        identity = event.identity
        return parse_step_input(
            cls,
            {
                "userPoolId": event.user_pool_id,
                "userName": event.user_name,
                "sub": attrs.get("sub"),
                "email": attrs.get("email"),
                "emailVerified": event.email_verified,
                "providers": [identity[0]] if identity else [NATIVE_PROVIDER],
            },
        )

    @property
    def is_external(self) -> bool:
        return NATIVE_PROVIDER not in self.providers


class EmailClaimResult(Model):
    """CheckDuplicateEmail's answer: who owns the email and what this run does about it.

    ``unverified``: the account's email is not verified, so it claims nothing; the run onboards it
    under its own sub and the address stays free for whoever verifies it first.
    """

    outcome: Literal["claimed", "unverified", "link_to_existing", "duplicate"]
    owner_user_id: str
    owner_user_name: str | None = None


class ProfileSaved(Model):
    """WriteProfile's answer (no personal data: it stays in the execution history)."""

    user_id: str
    created: bool


class EntitlementSaved(Model):
    """InitEntitlement's answer."""

    cognito_sub: str = Field(alias="cognito_sub")
    status: str
    created: bool


class StripeCustomerRef(Model):
    """CreateStripeCustomer's answer; ``created``: this run made it."""

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
    """CompensateDeleteStripeCustomer's answer; ``refused``: why the run's customer was left in
    place (recorded in UnlinkedStripeCustomers for an operator)."""

    deleted_customer_id: str | None
    kept_customer_id: str
    refused: str | None = None


class RollbackResult(Model):
    """CompensateRollbackOnboarding's answer: what this run had created and is now gone, and what
    it refused to remove (customer id → why; recorded in UnlinkedStripeCustomers)."""

    deleted_customer_ids: list[str]
    profile_deleted: bool
    entitlement_deleted: bool
    email_claim_released: bool
    kept_customers: dict[str, str] = Field(default_factory=dict)


class StepError(BaseModel):
    """What a Catch with ``ResultPath: $.error`` puts in the state."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    Error: str = ""
    Cause: str | None = None


# --- the execution state, and each step's view of it --------------------------------------------


class OnboardingState(OnboardingInput):
    """The whole execution state: the input plus every step result so far (by its ``ResultPath``)."""

    email_claim: EmailClaimResult | None = None
    link: LinkResult | None = None
    rejection: Rejection | None = None
    profile: ProfileSaved | None = None
    entitlement: EntitlementSaved | None = None
    stripe_customer: StripeCustomerRef | None = None
    stored_customer: StoreCustomerResult | None = None
    deleted_customer: CustomerDeletion | None = None
    error: StepError | None = None


class ClaimedEmailInput(OnboardingState):
    """LinkProvider's and CompensateDisableDuplicateAccount's input: the claim decided the path."""

    email_claim: EmailClaimResult


class StoreCustomerInput(OnboardingState):
    """StoreStripeCustomerId's input."""

    stripe_customer: StripeCustomerRef


class DeleteCustomerInput(OnboardingState):
    """CompensateDeleteStripeCustomer's input: the run's customer and the one the profile kept."""

    stripe_customer: StripeCustomerRef
    stored_customer: StoreCustomerResult


# --- the durable start queue (PostConfirmation -> SQS -> StartOnboarding) -----------------------


class StartQueue(Protocol):
    """Where a start that Step Functions refused waits (SQS in AWS and on the local stack)."""

    def put(self, onboarding: OnboardingInput, *, reason: str) -> None: ...


class QueuedStart(BaseModel):
    """One SQS record whose body is ``{"onboarding": <execution input>, "reason": ...}``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    message_id: str = Field(alias="messageId")
    onboarding: OnboardingInput = Field(alias="body")

    @field_validator("onboarding", mode="before")
    @classmethod
    def _from_body(cls, body: Any) -> Any:
        if not isinstance(body, str):
            return body
        message = json.loads(body)  # not JSON: a ValueError, reported as InvalidStepInput
        return message.get("onboarding") if isinstance(message, dict) else message


class QueuedStarts(BaseModel):
    """The SQS event the StartOnboarding function receives."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    records: list[QueuedStart] = Field(alias="Records")


class BatchItemFailure(Model):
    item_identifier: str


class BatchResult(Model):
    """``{"batchItemFailures": [...]}``: only those messages return to the queue."""

    batch_item_failures: list[BatchItemFailure]
