"""Onboarding on the local stack, the way it mostly goes: a native sign-up is confirmed, one
execution writes one profile, one entitlement and one Stripe customer; Cognito delivering the
PostConfirmation trigger again changes nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from onboarding_support import Onboarding, customer_idempotency_key, post_confirmation_event
from support import confirm, sign_up, unique_email

HAPPY_PATH = ["CheckDuplicateEmail", "RouteByEmailClaim", "WriteProfile", "InitEntitlement", "CreateStripeCustomer",
              "StoreStripeCustomerId", "RouteByStoredCustomer", "OnboardingComplete"]
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


def _utc(value: str) -> datetime:
    assert ISO_UTC.match(value), f"not ISO-8601 UTC: {value!r}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == UTC.utcoffset(None)
    return parsed


def test_native_sign_up_gets_one_profile_one_entitlement_and_one_stripe_customer(stack, onboarding):
    email = unique_email("happy")
    mark = onboarding.stripe_log_mark()
    sub = sign_up(stack, email.upper(), given="Grace", family="Hopper")
    confirm(stack, sub)

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    assert onboarding.states(sub) == HAPPY_PATH
    calls = onboarding.stripe_requests(mark)  # read before the test's own Stripe calls

    profile = onboarding.profile(sub)
    assert profile is not None
    assert (profile["userId"], profile["email"]) == (sub, email)  # lower-cased
    assert (profile["givenName"], profile["familyName"]) == ("Grace", "Hopper")
    assert profile["providers"] == ["Cognito"]
    assert _utc(profile["createdAt"]) <= _utc(profile["updatedAt"])
    assert onboarding.profile_ids_with_email(email) == [sub]

    assert onboarding.entitlement(sub) == {"cognito_sub": sub, "email": email, "status": "none",
                                           "updatedAt": onboarding.entitlement(sub)["updatedAt"]}
    _utc(onboarding.entitlement(sub)["updatedAt"])
    assert onboarding.claim(email)["userId"] == sub

    (customer,) = onboarding.customers(email)
    assert customer.id == profile["stripeCustomerId"]
    assert customer.name == "Grace Hopper"
    assert customer.metadata["cognito_user_id"] == customer.metadata["cognito_sub"] == sub
    assert customer.metadata["user_pool_id"] == onboarding.pool
    assert customer.metadata["created_via"] == "onboarding" and customer.metadata["platform"]

    creations = [c for c in calls if c["method"] == "POST" and c["path"] == "/v1/customers"]
    assert [(c["status"], c["idempotency_key"], c["replayed"]) for c in creations] == [
        (200, customer_idempotency_key(sub), False)]
    assert not [c for c in calls if "search" in c["path"]], calls


def test_post_confirmation_delivered_again_while_running_and_after_starts_no_second_execution(stack, onboarding):
    lam = stack.client("lambda")
    function = stack.info["resources"]["PostConfirmationFunction"]["name"]
    email = unique_email("twice")
    sub = sign_up(stack, email)

    with onboarding.held_customer_creation() as in_flight:
        confirm(stack, sub)
        in_flight()
        first = onboarding.describe(sub)
        assert first is not None and first["status"] == "RUNNING"
        event = post_confirmation_event(stack, sub)
        retried = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        assert "FunctionError" not in retried
        assert json.loads(retried["Payload"].read()) == event  # the trigger hands Cognito its event back

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    again = lam.invoke(FunctionName=function, Payload=json.dumps(post_confirmation_event(stack, sub)).encode())
    assert "FunctionError" not in again

    (execution,) = onboarding.executions_named(sub)
    assert (execution["executionArn"], execution["startDate"]) == (first["executionArn"], first["startDate"])
    assert onboarding.states(sub).count("CheckDuplicateEmail") == 1
    assert len(onboarding.customers(email)) == 1
    assert len(onboarding.customer_creations(sub)) == 1


def test_post_confirmation_after_a_forgotten_password_starts_nothing(stack, onboarding):
    function = stack.info["resources"]["PostConfirmationFunction"]["name"]
    email = unique_email("forgot")
    sub = sign_up(stack, email)  # not confirmed: had anything started, it would be this user's only execution
    event = post_confirmation_event(stack, sub, source="PostConfirmation_ConfirmForgotPassword")

    answer = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())

    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == event
    assert onboarding.describe(sub) is None
    assert onboarding.executions_named(sub) == []
    assert onboarding.profile(sub) is None and onboarding.claim(email) is None
