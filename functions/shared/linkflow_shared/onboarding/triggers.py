"""The Cognito triggers that open the onboarding workflow.

PreSignUp (:func:`pre_sign_up`): one account per email, decided at the door where it can be.

- A native sign-up (``PreSignUp_SignUp``, ``PreSignUp_AdminCreateUser``) whose normalized email
  belongs to an existing user (native or federated) is rejected with
  :class:`~linkflow_shared.errors.EmailAlreadyRegistered`; Cognito hands its message to the client
  as ``UserLambdaValidationException``.
- A federated first sign-in (``PreSignUp_ExternalProvider``) from a provider trusted for linking
  (``TRUSTED_LINKING_PROVIDERS``), whose email is verified and belongs to an existing user whose own
  email is verified, links the identity to that user (``AdminLinkProviderForUser``) and returns. Cognito then
  fails this first sign-in once ("Already found an entry for username") and the retry signs in as
  the existing user: one sub, no second profile, no second Stripe customer. Raising instead would
  fail every attempt, and linking later (after the federated user exists) is refused by Cognito.
- Anything else is never linked: an unverified federated email, an untrusted provider, an owner
  whose email is not verified (an attacker's unverified address change must not capture the
  victim's later sign-in). The sign-up proceeds and the workflow's atomic email claim decides.
- Only verified emails count as taken: an account holding an unverified copy of an address cannot
  block its real owner. A federated sign-in without an email is refused
  (:class:`~linkflow_shared.errors.EmailMissing`): every account has an email, and PostConfirmation
  could not onboard it.
- Infrastructure failures fail open (the decision says so, the handler logs it): the workflow's
  claim is the authoritative check and catches what slips through here. So does a slow one: the
  trigger's calls share one :class:`Deadline` of ``PRE_SIGN_UP_BUDGET_SECONDS`` inside Cognito's
  5 s, and a call that might not finish within what is left is not made; the trigger fails open
  instead of timing out (which Cognito would report as a failed sign-up).

PostConfirmation (:func:`post_confirmation`): only ``PostConfirmation_ConfirmSignUp`` (native
confirmation, or a federated user's first sign-in) starts the onboarding execution, named by the
sub; no Stripe or DynamoDB work happens in the trigger. Cognito never calls PostConfirmation again,
so a start is never lost: when StartExecution fails, the start goes to a durable queue (SQS, with a
dead-letter queue and an alarm) whose consumer, :func:`start_onboarding`, starts the same
execution later (same name: a start that did happen makes the queued one a no-op).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws_clients
from ..errors import (
    EmailAlreadyRegistered,
    EmailMissing,
    InvalidStepInput,
    LinkflowError,
    OnboardingStartFailed,
    error_code,
)
from ..gateways import UNCONFIRMED, CognitoGateway, CognitoUser
from ..models import normalize_email, utc_now
from ..stores import EmailClaimsStore, ProfilesStore
from .models import (
    BatchItemFailure,
    BatchResult,
    CognitoTriggerEvent,
    OnboardingInput,
    QueuedStarts,
    SignUpDecision,
    StartQueue,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

NATIVE_SOURCES = frozenset({"PreSignUp_SignUp", "PreSignUp_AdminCreateUser"})
EXTERNAL_SOURCE = "PreSignUp_ExternalProvider"
CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
# Cognito waits 5 s for a trigger, cold start included; the rest is for starting and answering.
PRE_SIGN_UP_BUDGET_SECONDS = 3.5


class DeadlineSpent(Exception):
    """The next call might not finish within what is left of the budget."""


class Deadline:
    """One time budget for a sequence of calls that may each take up to ``per_call`` seconds (the
    worst case its client's timeouts allow). A call is made only if it fits whole in what is left,
    so the sequence ends within the budget however slow each call turns out to be."""

    def __init__(self, budget: float, per_call: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = clock() + budget
        self.per_call = per_call

    def remaining(self) -> float:
        return self._ends - self._clock()

    def check(self, calls: int, before: str) -> None:
        """Raise :class:`DeadlineSpent` unless ``calls`` more calls fit in what is left."""
        left, needed = self.remaining(), calls * self.per_call
        if left < needed:
            raise DeadlineSpent(f"{left:.2f} s left of the budget, {before} may take {needed:.2f} s")


def pre_sign_up_deadline() -> Deadline:
    """PreSignUp's budget, its calls bounded by the ``trigger`` client profile."""
    return Deadline(PRE_SIGN_UP_BUDGET_SECONDS, aws_clients.worst_call_seconds("trigger"))


def onboarding_execution_name(sub: str) -> str:
    """The onboarding execution of a user is named by its sub: one execution per user, ever."""
    return sub


def start_onboarding_execution(sfn: SFNClient, state_machine_arn: str, onboarding: OnboardingInput) -> bool:
    """Start the user's onboarding execution; False if it was started before (Cognito retried).

    The input holds no timestamp, so a start repeated while the execution runs returns the same
    execution; a start after it closed raises ``ExecutionAlreadyExists``, which is not an error.
    """
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=onboarding_execution_name(onboarding.sub),
            input=json.dumps(onboarding.dump()),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise OnboardingStartFailed(f"StartExecution failed ({error_code(exc)})") from exc
    except BotoCoreError as exc:
        raise OnboardingStartFailed(f"Step Functions could not be reached: {type(exc).__name__}") from exc
    return True


Started = Literal["started", "already_started", "queued", "not_a_sign_up"]


def post_confirmation(
    trigger: CognitoTriggerEvent, *, sfn: SFNClient, state_machine_arn: str, queue: Callable[[], StartQueue]
) -> Started:
    """Start the user's onboarding, or queue the start if Step Functions refuses it now (``queue``
    is asked for only then).

    Only a failure to queue as well fails the trigger (Cognito then reports the confirmation as
    failed, and the user can confirm again): the start is either made, queued or visibly refused.
    """
    if trigger.trigger_source != CONFIRM_SIGN_UP:
        return "not_a_sign_up"
    onboarding = OnboardingInput.from_trigger(trigger)
    try:
        started = start_onboarding_execution(sfn, state_machine_arn, onboarding)
    except OnboardingStartFailed as failed:
        queue().put(onboarding, reason=str(failed))
        return "queued"
    return "started" if started else "already_started"


def start_onboarding(batch: QueuedStarts, *, sfn: SFNClient, state_machine_arn: str) -> BatchResult:
    """The queue's consumer: start each queued onboarding (an execution that exists already is
    done); a start that fails again goes back to the queue, and after its retries to the DLQ."""
    failures = []
    for record in batch.records:
        try:
            start_onboarding_execution(sfn, state_machine_arn, record.onboarding)
        except OnboardingStartFailed:
            failures.append(BatchItemFailure(item_identifier=record.message_id))
    return BatchResult(batch_item_failures=failures)


def _email_of(trigger: CognitoTriggerEvent) -> str:
    raw = trigger.attributes.get("email")
    if not (raw or "").strip() and trigger.trigger_source == EXTERNAL_SOURCE:
        identity = trigger.identity
        raise EmailMissing(identity[0] if identity else "this provider")
    try:
        return normalize_email(raw or "")
    except ValueError:
        raise InvalidStepInput("invalid CognitoTriggerEvent: email: not a valid email address") from None


def existing_owner(
    trigger: CognitoTriggerEvent,
    email: str,
    *,
    cognito: CognitoGateway,
    claims: EmailClaimsStore,
    deadline: Deadline | None = None,
) -> CognitoUser | None:
    """The user other than the one signing up who holds ``email``: the claim owner first, then any
    confirmed or federated user Cognito finds under either spelling of the address. Each call is
    made only if it fits in ``deadline`` (:class:`DeadlineSpent` otherwise)."""
    pool = trigger.user_pool_id
    me = {trigger.user_name, trigger.attributes.get("sub", "")}
    _before(deadline, 1, "reading the email claim")
    claim = claims.get(email)
    if claim is not None:
        _before(deadline, 1, "looking up the claim's owner")
        owner = cognito.find_user_by_sub(pool, claim.user_id)
        if owner is not None and owner.username not in me and owner.sub not in me:
            return owner
    raw = (trigger.attributes.get("email") or "").strip()
    _before(deadline, len({email, raw} - {""}), "listing the users with the email")  # one ListUsers a spelling
    candidates = [
        user
        for user in cognito.find_users_by_email(pool, email, raw)
        if user.username not in me and user.sub not in me and user.status != UNCONFIRMED and user.email_verified
    ]
    candidates.sort(key=lambda user: user.identity is not None)  # native accounts first
    return candidates[0] if candidates else None


def _before(deadline: Deadline | None, calls: int, what: str) -> None:
    if deadline is not None:
        deadline.check(calls, what)


def pre_sign_up(
    trigger: CognitoTriggerEvent,
    *,
    cognito: CognitoGateway,
    claims: EmailClaimsStore,
    profiles: ProfilesStore,
    trusted_providers: Collection[str],
    deadline: Deadline | None = None,
) -> SignUpDecision:
    """Decide a sign-up (see the module docstring) within ``deadline`` (by default
    :func:`pre_sign_up_deadline`, started now); raises :class:`EmailAlreadyRegistered` and
    :class:`EmailMissing`."""
    deadline = deadline or pre_sign_up_deadline()
    source = trigger.trigger_source
    if source not in NATIVE_SOURCES and source != EXTERNAL_SOURCE:
        return SignUpDecision(action="allow", reason=f"{source} is not checked")
    email = _email_of(trigger)
    try:
        owner = existing_owner(trigger, email, cognito=cognito, claims=claims, deadline=deadline)
    except (LinkflowError, DeadlineSpent) as exc:
        return SignUpDecision(action="fail_open", reason=f"owner lookup failed: {type(exc).__name__}: {exc}")
    if owner is None:
        return SignUpDecision(action="allow", reason="the email is free")
    if source in NATIVE_SOURCES:
        raise EmailAlreadyRegistered(email)
    identity = trigger.identity
    refusal = _not_linkable(trigger, identity, owner, email, trusted_providers)
    if refusal is not None or identity is None:
        return SignUpDecision(action="allow", reason=f"not linked: {refusal}", owner_user_id=owner.sub)
    return _link(trigger, owner, identity, cognito=cognito, profiles=profiles, deadline=deadline)


def _not_linkable(
    trigger: CognitoTriggerEvent,
    identity: tuple[str, str] | None,
    owner: CognitoUser,
    email: str,
    trusted_providers: Collection[str],
) -> str | None:
    """Why this federated sign-in must not be linked into ``owner`` (``None``: it may)."""
    if identity is None:
        return "the external identity cannot be told"
    if not trigger.email_verified:
        return "the provider did not verify the email"
    if identity[0] not in trusted_providers:
        return f"{identity[0]} is not trusted for linking"
    if not owner.email_verified or (owner.email or "").strip().lower() != email:
        return "the owner's email is not verified"
    return None


def _link(
    trigger: CognitoTriggerEvent,
    owner: CognitoUser,
    identity: tuple[str, str],
    *,
    cognito: CognitoGateway,
    profiles: ProfilesStore,
    deadline: Deadline,
) -> SignUpDecision:
    provider_name, provider_user_id = identity
    try:
        deadline.check(1, "linking the identity")
        cognito.link_identity(trigger.user_pool_id, owner.username, provider_name, provider_user_id)
    except (LinkflowError, DeadlineSpent) as exc:  # the workflow's LinkProvider links it later
        return SignUpDecision(
            action="fail_open", reason=f"link failed: {type(exc).__name__}: {exc}", owner_user_id=owner.sub
        )
    try:
        deadline.check(1, "recording the provider on the profile")
        profiles.add_provider(owner.sub, provider_name, utc_now())
    except (LinkflowError, DeadlineSpent) as exc:  # the link stands; only the profile's provider list lags
        return SignUpDecision(
            action="linked",
            reason=f"linked; profile providers not updated: {type(exc).__name__}",
            owner_user_id=owner.sub,
        )
    return SignUpDecision(action="linked", reason=f"{provider_name} identity linked", owner_user_id=owner.sub)
