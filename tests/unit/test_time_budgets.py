"""Time budgets (issue #11 point 7): what a step may spend inside fits its Lambda ``Timeout``, which
fits its state's ``TimeoutSeconds``; a Lambda timeout is retried (every step is idempotent); and
PreSignUp answers within Cognito's 5 s however slow its calls are.

The arithmetic reads the ASL, the template and the constants in code (``aws_clients.PROFILES``,
the Stripe HTTP timeouts), so raising one of them without the others fails here. What it cannot
read is how many calls a step makes: :data:`TASK_CALLS` counts them from the step's code, at its
worst, and :func:`test_every_task_of_both_machines_is_counted` makes a new Task count its own.

Why each bound:

- One AWS call takes at most ``aws_clients.worst_call_seconds(profile)`` (connect + read timeout
  per attempt, plus botocore's backoff between attempts); one Stripe request at most
  ``HTTP_TIMEOUT_SECONDS`` (connect + read, the SDK never retries: ``max_network_retries=0``).
- A step's calls run one after another, so its worst case is their sum, plus
  :data:`COMPUTE_ALLOWANCE` for its own work. That must fit the function's ``Timeout``: otherwise a
  slow dependency surfaces as ``Sandbox.Timedout`` rather than as the step's own error.
- Step Functions' ``TimeoutSeconds`` counts the whole Invoke, cold start included, and Lambda gives
  init up to 10 s outside ``Timeout``: ``TimeoutSeconds >= Timeout + INIT_ALLOWANCE``, so the
  function always stops before the state gives up on it (no run still writing while a retry runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from linkflow_shared import EmailAlreadyRegistered, aws_clients
from linkflow_shared.gateways import CognitoUser, stripe
from linkflow_shared.onboarding import CognitoTriggerEvent, triggers
from linkflow_shared.stores import EmailClaim
from unit_support import ROOT, TEMPLATE

INIT_ALLOWANCE = 10  # Lambda's init phase may take up to 10 s, outside the function's Timeout
COMPUTE_ALLOWANCE = 2  # the step's own work between calls (parsing, logging, a cold client)
COGNITO_TRIGGER_SECONDS = 5  # Cognito waits this long for a trigger, then fails the sign-up
# SyncEntitlement and the compensations read a customer's subscriptions: one page (a customer with
# more than 100 subscriptions is not expected) and at most this many products not in the cache.
PRODUCTS_PER_LISTING = 2
# A compensation checks a customer before deleting it: retrieve, subscriptions, then either their
# products (the customer is kept) or its invoices and the delete.
STRIPE_PER_CUSTOMER_CHECK = 2 + max(PRODUCTS_PER_LISTING, 2)


@dataclass(frozen=True)
class Calls:
    """What one invocation of a step calls, one after the other, at its worst."""

    aws: int = 0  # DynamoDB, Cognito, Step Functions calls through the "task" profile
    secret: int = 0  # Secrets Manager reads (the Stripe key; cached 5 min, counted once)
    stripe: int = 0  # Stripe HTTP requests

    def worst_seconds(self) -> float:
        aws = aws_clients.worst_call_seconds("task")
        return (self.aws + self.secret) * aws + self.stripe * stripe.HTTP_TIMEOUT_SECONDS


# Counted from linkflow_shared/onboarding/{steps,compensations}.py and subscription_events/*.py.
TASK_CALLS: dict[str, Calls] = {
    # AdminGetUser (current user), claim UpdateItem, ListUsers (claim owner), take-over UpdateItem
    "onboarding:CheckDuplicateEmail": Calls(aws=4),
    # AdminGetUser (owner), AdminGetUser (run's user), AdminDeleteUser, AdminLinkProviderForUser,
    # add-provider UpdateItem
    "onboarding:LinkProvider": Calls(aws=5),
    # AdminGetUser (names from Cognito), conditional PutItem (the stored item comes with a failure)
    "onboarding:WriteProfile": Calls(aws=2),
    "onboarding:InitEntitlement": Calls(aws=1),  # conditional PutItem
    # AdminGetUser, profile GetItem; key; customers by email (a redrive after 23 h), create
    "onboarding:CreateStripeCustomer": Calls(aws=2, secret=1, stripe=2),
    "onboarding:StoreStripeCustomerId": Calls(aws=2),  # AdminGetUser, conditional UpdateItem
    # key; the customer check; UnlinkedStripeCustomers UpdateItem
    "onboarding:CompensateDeleteStripeCustomer": Calls(aws=1, secret=1, stripe=STRIPE_PER_CUSTOMER_CHECK),
    "onboarding:CompensateDisableDuplicateAccount": Calls(aws=2),  # AdminDisableUser, claim UpdateItem
    # key; customers by email, then per customer of the sub (at most 2: the run's and a raced one)
    # the customer check; AWS: 2 records of kept customers, entitlement delete, profile delete,
    # entitlement and profile reads, claim release
    "onboarding:CompensateRollbackOnboarding": Calls(aws=7, secret=1, stripe=1 + 2 * STRIPE_PER_CUSTOMER_CHECK),
    # StripeCustomerIndex Query; key; customer retrieve; link UpdateItem per sub named in metadata (2)
    "subscription-events:ResolveCustomer": Calls(aws=3, secret=1, stripe=1),
    # per write attempt (WRITE_ATTEMPTS): version GetItem, customer, subscriptions, guarded UpdateItem;
    # products once (then cached)
    "subscription-events:SyncEntitlement": Calls(aws=2 * 3, secret=1, stripe=2 * 3 + PRODUCTS_PER_LISTING),
    "subscription-events:RecordUnlinkedCustomer": Calls(aws=1),  # guarded UpdateItem
    "subscription-events:UnlinkDeletedCustomer": Calls(aws=1),  # conditional UpdateItem
}

MACHINES = {
    "onboarding": ("OnboardingStateMachine", ROOT / "statemachines" / "onboarding.asl.json"),
    "subscription-events": ("SubscriptionEventsStateMachine", ROOT / "statemachines" / "subscription_events.asl.json"),
}


def _tasks() -> list[tuple[str, str, dict[str, Any]]]:
    """(``machine:state``, function logical id, state) for every Task of both machines."""
    found = []
    for machine, (logical_id, path) in MACHINES.items():
        substitutions = TEMPLATE["Resources"][logical_id]["Properties"]["DefinitionSubstitutions"]
        for name, state in json.loads(Path(path).read_text())["States"].items():
            if state["Type"] != "Task":
                continue
            placeholder = state["Resource"].removeprefix("${").removesuffix("}")
            function = substitutions[placeholder]["Fn::GetAtt"][0]
            found.append((f"{machine}:{name}", function, state))
    return found


TASKS = _tasks()


def lambda_timeout(logical_id: str) -> int:
    props = TEMPLATE["Resources"][logical_id]["Properties"]
    return int(props.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))


def test_every_task_of_both_machines_is_counted():
    assert {name for name, _, _ in TASKS} == set(TASK_CALLS)


def test_every_call_is_bounded_and_tried_once():
    """The profiles the arithmetic relies on: finite timeouts, and no retry hidden in a client (the
    caller's policy retries, so one policy decides)."""
    assert set(aws_clients.PROFILES) == set(aws_clients.TIMEOUTS)
    for name, config in aws_clients.PROFILES.items():
        timeouts = aws_clients.TIMEOUTS[name]
        assert (config.connect_timeout, config.read_timeout) == (timeouts.connect, timeouts.read), name
        assert config.retries == {"mode": "standard", "total_max_attempts": 1}, name
        assert timeouts.worst_call_seconds() == timeouts.connect + timeouts.read, name
    client = stripe.build_client("sk_test_budget", api_base="http://127.0.0.1:1")
    assert client._requestor._options.max_network_retries == 0
    connect, read = client._requestor._client._timeout
    assert connect + read == stripe.HTTP_TIMEOUT_SECONDS


def test_a_retrying_profile_counts_its_attempts_and_backoff():
    retrying = aws_clients.Timeouts(connect=1, read=2, attempts=3)
    assert retrying.worst_call_seconds() == 3 * 3 + 1 + 2  # backoff up to 1 s, then up to 2 s
    assert retrying.config().retries == {"mode": "standard", "total_max_attempts": 3}


@pytest.mark.parametrize("name, function, state", TASKS, ids=[name for name, _, _ in TASKS])
def test_a_steps_calls_fit_its_lambda_timeout_which_fits_its_state_timeout(name, function, state):
    worst = TASK_CALLS[name].worst_seconds()
    timeout = lambda_timeout(function)
    assert worst + COMPUTE_ALLOWANCE <= timeout, (
        f"{name}: its calls may take {worst:.1f} s (+{COMPUTE_ALLOWANCE} s) but {function} stops after {timeout} s"
    )
    assert timeout + INIT_ALLOWANCE <= state["TimeoutSeconds"], (
        f"{name}: TimeoutSeconds {state['TimeoutSeconds']} leaves no room for {function}'s {timeout} s and its init"
    )


@pytest.mark.parametrize("name, function, state", TASKS, ids=[name for name, _, _ in TASKS])
def test_a_lambda_timeout_is_retried_because_every_step_is_idempotent(name, function, state):
    # Every onboarding and subscription-events step is idempotent (conditional writes, Stripe
    # idempotency keys, version guards: see each step's docstring), so a run cut short by its
    # Timeout, or abandoned by the state's, is safe to run again.
    retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
    assert {"Sandbox.Timedout", "States.Timeout"} <= retried, name


# --- outside the machines: the triggers and the ingress -----------------------------------------


def test_post_confirmation_starts_or_queues_within_cognitos_wait():
    worst = 2 * aws_clients.worst_call_seconds("trigger")  # StartExecution, then SQS SendMessage
    assert worst + COMPUTE_ALLOWANCE <= lambda_timeout("PostConfirmationFunction") <= COGNITO_TRIGGER_SECONDS


def test_the_webhook_ingress_answers_within_its_timeout():
    # the signing secrets (read through the task profile, cached), then StartExecution
    worst = aws_clients.worst_call_seconds("task") + aws_clients.worst_call_seconds("ingress")
    assert worst + COMPUTE_ALLOWANCE <= lambda_timeout("StripeWebhookFunction")


def test_pre_sign_up_budget_fits_cognitos_wait():
    timeout = lambda_timeout("PreSignUpFunction")
    assert timeout <= COGNITO_TRIGGER_SECONDS
    assert triggers.PRE_SIGN_UP_BUDGET_SECONDS + 1 <= timeout
    deadline = triggers.pre_sign_up_deadline()
    assert deadline.per_call == aws_clients.worst_call_seconds("trigger")
    # the usual case, a claim lookup and one ListUsers per spelling, fits with room to spare
    assert 3 * deadline.per_call <= triggers.PRE_SIGN_UP_BUDGET_SECONDS + deadline.per_call


# --- PreSignUp under injected latency -----------------------------------------------------------


class Clock:
    """Simulated time: the fakes below advance it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Slow:
    """Every call takes ``latency`` seconds of simulated time (never more than a real client's
    timeouts allow: that is what bounds a real call)."""

    def __init__(self, clock: Clock, latency: float, *, claim_owner: str | None = None,
                 owner: CognitoUser | None = None) -> None:
        self.clock, self.latency = clock, latency
        self.claim_owner, self.owner = claim_owner, owner
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.clock.now += self.latency

    # EmailClaimsStore
    def get(self, email: str) -> EmailClaim | None:
        self._call("GetItem")
        if self.claim_owner is None:
            return None
        return EmailClaim(email=email, user_id=self.claim_owner, claimed_at="2026-01-01T00:00:00Z")

    # CognitoGateway
    def find_user_by_sub(self, user_pool_id: str, sub: str) -> CognitoUser | None:
        self._call("ListUsers")
        return self.owner

    def find_users_by_email(self, user_pool_id: str, *emails: str) -> list[CognitoUser]:
        for _ in dict.fromkeys(e for e in emails if e):
            self._call("ListUsers")
        return [self.owner] if self.owner else []

    def link_identity(self, *args: str) -> None:
        self._call("AdminLinkProviderForUser")

    # ProfilesStore
    def add_provider(self, user_id: str, provider: str, now: str) -> bool:
        self._call("UpdateItem")
        return True


OWNER = CognitoUser(username="owner", sub="owner-sub", email="ada@example.com", email_verified=True,
                    status="CONFIRMED")


def sign_up(source: str, email: str = "ada@example.com", **extra: str) -> CognitoTriggerEvent:
    attributes = {"email": email, "email_verified": "true", **extra}
    return CognitoTriggerEvent.model_validate({
        "version": "1", "region": "us-east-1", "userPoolId": "us-east-1_pool", "userName": extra.get("sub", "new"),
        "triggerSource": source, "callerContext": {"awsSdkVersion": "x", "clientId": "client"},
        "request": {"userAttributes": attributes}, "response": {},
    })


def decide(trigger: CognitoTriggerEvent, slow: Slow, clock: Clock) -> triggers.SignUpDecision:
    deadline = triggers.Deadline(triggers.PRE_SIGN_UP_BUDGET_SECONDS, aws_clients.worst_call_seconds("trigger"),
                                 clock=clock)
    return triggers.pre_sign_up(trigger, cognito=slow, claims=slow, profiles=slow,  # type: ignore[arg-type]
                                trusted_providers={"Google"}, deadline=deadline)


GOOGLE = {"sub": "google-sub", "identities": json.dumps([{"providerName": "Google", "userId": "g-1"}])}


def test_fast_calls_decide_as_before():
    clock = Clock()
    with pytest.raises(EmailAlreadyRegistered):
        decide(sign_up("PreSignUp_SignUp"), Slow(clock, 0.05, owner=OWNER), clock)
    clock = Clock()
    slow = Slow(clock, 0.05, claim_owner=OWNER.sub, owner=OWNER)
    linked = decide(sign_up("PreSignUp_ExternalProvider", **GOOGLE), slow, clock)
    assert linked.action == "linked" and slow.calls[-2:] == ["AdminLinkProviderForUser", "UpdateItem"]


@pytest.mark.parametrize("latency", [0.4, 0.9, 1.2, aws_clients.worst_call_seconds("trigger")])
@pytest.mark.parametrize("source, extra", [("PreSignUp_SignUp", {}), ("PreSignUp_ExternalProvider", GOOGLE)],
                         ids=["native", "google"])
def test_slow_calls_never_outlast_the_budget(latency, source, extra):
    for claim_owner in (None, OWNER.sub):
        clock = Clock()
        started = clock.now
        slow = Slow(clock, latency, claim_owner=claim_owner, owner=OWNER)
        try:
            decision = decide(sign_up(source, email="Ada@Example.com", **extra), slow, clock)
        except EmailAlreadyRegistered:
            decision = None  # the lookup finished in time: the rejection stands
        assert clock.now - started <= triggers.PRE_SIGN_UP_BUDGET_SECONDS, (latency, slow.calls)
        if decision is not None and decision.action == "fail_open":
            assert "DeadlineSpent" in decision.reason


def test_a_lookup_that_cannot_finish_in_time_fails_open_instead_of_timing_out():
    clock = Clock()
    # No claim yet; two spellings of the address need two ListUsers, which no longer fit after a
    # 1.5 s claim read: without the deadline the trigger would run 4.5 s and Cognito would give up.
    slow = Slow(clock, aws_clients.worst_call_seconds("trigger"), owner=OWNER)
    decision = decide(sign_up("PreSignUp_SignUp", email="Ada@Example.com"), slow, clock)
    assert decision.action == "fail_open" and "DeadlineSpent" in decision.reason
    assert slow.calls == ["GetItem"]


def test_a_link_that_fits_is_made_and_the_profile_update_that_does_not_is_left_to_the_workflow():
    clock = Clock()
    slow = Slow(clock, 1.0, claim_owner=OWNER.sub, owner=OWNER)
    decision = decide(sign_up("PreSignUp_ExternalProvider", **GOOGLE), slow, clock)
    assert slow.calls == ["GetItem", "ListUsers", "AdminLinkProviderForUser"]
    assert decision.action == "linked" and "profile providers not updated: DeadlineSpent" in decision.reason
