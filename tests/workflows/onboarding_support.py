"""What the onboarding workflow tests share: the three stores, the execution and its history,
Cognito trigger events, and holding a Stripe call in flight.

Stripe is read only through the official ``stripe`` SDK against the emulator; its admin API is used
for faults and the request log. DynamoDB items are returned as plain JSON values.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3.dynamodb.types
import stripe
from support import confirm, entered_states, history, sign_up, wait_for_execution, wait_until

from linkflow.local.client import StripeRequest, execution_arn

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachines" / "onboarding.asl.json"
EXECUTION_TIMEOUT = 30.0
HOLD_MS = 60_000  # a held Stripe call is released by clearing the faults, long before this


def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


def retrier_for(state: str, error: str) -> dict[str, Any]:
    """The Retry entry of ``state`` that lists ``error``."""
    return next(r for r in asl()["States"][state]["Retry"] if error in r["ErrorEquals"])


def customer_idempotency_key(sub: str) -> str:
    from linkflow_shared.onboarding import customer_idempotency_key as key

    return key(sub)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: sorted(v) if isinstance(v, set) else
                                  (int(v) if v == int(v) else float(v))))


# --- history -----------------------------------------------------------------------------------


def task_failures(events: list[dict[str, Any]], state: str) -> list[dict[str, str]]:
    """``{"error", "cause"}`` of every Lambda invocation that failed while ``state`` ran, in order."""
    current, failures = None, []
    for event in events:
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
        details = event.get("lambdaFunctionFailedEventDetails")
        if details is not None and current == state:
            failures.append({"error": details.get("error", ""), "cause": details.get("cause", "")})
    return failures


def state_output(events: list[dict[str, Any]], state: str) -> dict[str, Any]:
    """The output the last run of ``state`` exited with."""
    exits = [e["stateExitedEventDetails"] for e in events
             if "stateExitedEventDetails" in e and e["stateExitedEventDetails"]["name"] == state]
    assert exits, f"{state} never exited"
    return json.loads(exits[-1]["output"])


# --- Cognito trigger events ---------------------------------------------------------------------


def post_confirmation_event(stack: Any, username: str,
                            source: str = "PostConfirmation_ConfirmSignUp") -> dict[str, Any]:
    """The event Cognito sends PostConfirmation for ``username``, built from the user as stored."""
    pool = stack.info["cognito"]["user_pool_id"]
    user = stack.client("cognito-idp").admin_get_user(UserPoolId=pool, Username=username)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    attributes["cognito:user_status"] = user["UserStatus"]
    return {
        "version": "1",
        "region": stack.info["region"],
        "userPoolId": pool,
        "userName": user["Username"],
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": stack.info["cognito"]["client_id"]},
        "triggerSource": source,
        "request": {"userAttributes": attributes},
        "response": {},
    }


# --- the stores and the executions --------------------------------------------------------------


@dataclass
class Onboarding:
    """Handles on the running stack for the onboarding tests."""

    stack: Any
    stripe: stripe.StripeClient = field(init=False)

    def __post_init__(self) -> None:
        info = self.stack.info
        self.stripe = stripe.StripeClient(info["stripe"]["api_key"], base_addresses={"api": self.stack.stripe_url})
        self.sfn = self.stack.client("stepfunctions")
        self.ddb = self.stack.client("dynamodb")
        self.idp = self.stack.client("cognito-idp")
        self.pool = info["cognito"]["user_pool_id"]
        self.machine_arn = info["outputs"]["OnboardingStateMachineArn"]
        outputs = info["outputs"]
        self.tables = {"profiles": outputs["UserProfilesTableName"], "entitlements": outputs["EntitlementsTableName"],
                       "claims": outputs["EmailClaimsTableName"]}

    # --- users ----------------------------------------------------------------------------------
    def native_user(self, email: str) -> str:
        """Sign ``email`` up, confirm it and wait for its onboarding to succeed; answer the sub."""
        sub = sign_up(self.stack, email)
        confirm(self.stack, sub)
        done = self.finished(sub)
        assert done["status"] == "SUCCEEDED", done
        return sub

    def cognito_user(self, username: str) -> dict[str, Any] | None:
        try:
            return self.idp.admin_get_user(UserPoolId=self.pool, Username=username)
        except self.idp.exceptions.UserNotFoundException:
            return None

    def identities(self, username: str) -> list[dict[str, Any]]:
        user = self.cognito_user(username)
        assert user is not None, f"no Cognito user {username}"
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        return json.loads(attributes.get("identities") or "[]")

    def users_with_email(self, email: str) -> list[dict[str, Any]]:
        """Cognito users whose ``email`` attribute is exactly ``email`` (Cognito's filter is exact)."""
        escaped = email.replace("\\", "\\\\").replace('"', '\\"')
        return self.idp.list_users(UserPoolId=self.pool, Filter=f'email = "{escaped}"')["Users"]

    # --- executions -----------------------------------------------------------------------------
    def arn(self, sub: str) -> str:
        return execution_arn(self.machine_arn, sub)

    def describe(self, sub: str) -> dict[str, Any] | None:
        try:
            return self.sfn.describe_execution(executionArn=self.arn(sub))
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return None

    def finished(self, sub: str) -> dict[str, Any]:
        """The user's onboarding execution once it has closed."""
        wait_until(lambda: self.describe(sub), timeout=EXECUTION_TIMEOUT, what=f"the onboarding execution of {sub}")
        return wait_for_execution(self.sfn, self.arn(sub), timeout=EXECUTION_TIMEOUT)

    def events(self, sub: str) -> list[dict[str, Any]]:
        return history(self.sfn, self.arn(sub))

    def states(self, sub: str) -> list[str]:
        return entered_states(self.events(sub))

    def executions_named(self, name: str) -> list[dict[str, Any]]:
        found = []
        for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.machine_arn):
            found.extend(e for e in page["executions"] if e["name"] == name)
        return found

    # --- DynamoDB -------------------------------------------------------------------------------
    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.tables[table], Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        deserializer = boto3.dynamodb.types.TypeDeserializer()
        return _plain({k: deserializer.deserialize(v) for k, v in item.items()})

    def profile(self, sub: str) -> dict[str, Any] | None:
        return self._item("profiles", {"userId": {"S": sub}})

    def entitlement(self, sub: str) -> dict[str, Any] | None:
        return self._item("entitlements", {"cognito_sub": {"S": sub}})

    def claim(self, email: str) -> dict[str, Any] | None:
        return self._item("claims", {"email": {"S": email}})

    def profile_ids_with_email(self, email: str) -> list[str]:
        """Every profile holding ``email`` (a scan: EmailIndex is eventually consistent on AWS)."""
        ids: list[str] = []
        for page in self.ddb.get_paginator("scan").paginate(
            TableName=self.tables["profiles"], FilterExpression="email = :e",
            ExpressionAttributeValues={":e": {"S": email}}, ProjectionExpression="userId",
        ):
            ids.extend(item["userId"]["S"] for item in page["Items"])
        return ids

    def link_customer_on_profile(self, sub: str, customer_id: str) -> None:
        """What checkout's get-or-create does: link a customer to the profile if none is linked."""
        self.ddb.update_item(
            TableName=self.tables["profiles"], Key={"userId": {"S": sub}},
            UpdateExpression="SET stripeCustomerId = :c",
            ConditionExpression="attribute_exists(userId) AND attribute_not_exists(stripeCustomerId)",
            ExpressionAttributeValues={":c": {"S": customer_id}},
        )

    # --- Stripe ---------------------------------------------------------------------------------
    def customers(self, email: str) -> list[Any]:
        """Live Stripe customers with ``email`` (listing by email, as the workflow does)."""
        return list(self.stripe.v1.customers.list(params={"email": email, "limit": 100}).data)

    def stripe_log_mark(self) -> int:
        return len(self.stack.admin.stripe_requests())

    def stripe_requests(self, since: int = 0) -> list[StripeRequest]:
        return self.stack.admin.stripe_requests()[since:]

    def customer_creations(self, sub: str, since: int = 0) -> list[StripeRequest]:
        """``POST /v1/customers`` calls made with the sub's onboarding idempotency key."""
        key = customer_idempotency_key(sub)
        return [r for r in self.stripe_requests(since)
                if r["method"] == "POST" and r["path"] == "/v1/customers" and r["idempotency_key"] == key]

    @contextmanager
    def held_customer_creation(self) -> Iterator[Any]:
        """Hold the next ``POST /v1/customers`` in flight until the block ends.

        On entry a latency fault for one request is armed; inside the block, ``in_flight()`` waits
        until a request has taken it (the fault is gone from the emulator's list). Clearing the
        faults at the end releases the request.
        """
        self.stack.admin.add_stripe_fault({"method": "POST", "path": "/v1/customers", "latency_ms": HOLD_MS,
                                           "count": 1})

        def in_flight() -> None:
            wait_until(lambda: not self.stack.admin.stripe_faults(), timeout=EXECUTION_TIMEOUT,
                       what="the workflow's POST /v1/customers to be in flight")

        try:
            yield in_flight
        finally:
            self.stack.admin.clear_stripe_faults()


def confirm_while_another_path_links_a_customer(stack: Any, onboarding: Onboarding, email: str) -> tuple[str, Any]:
    """Sign ``email`` up and confirm it while the run's customer creation is held: meanwhile a
    checkout-like path creates a customer for the user and links it first. ``(sub, that customer)``."""
    from support import confirm, sign_up

    sub = sign_up(stack, email)
    with onboarding.held_customer_creation() as in_flight:
        confirm(stack, sub)
        in_flight()
        other = onboarding.stripe.v1.customers.create(params={
            "email": email, "metadata": {"cognito_user_id": sub, "cognito_sub": sub, "created_via": "checkout"}})
        onboarding.link_customer_on_profile(sub, other.id)
    return sub, other


def provider_user_id() -> str:
    """A Google-style numeric subject, unique per test."""
    return str(uuid.uuid4().int)[:21]


def outage_until() -> float:
    """An outage window end an hour ahead: past any retry budget, cleared by the test."""
    return time.time() + 3600
