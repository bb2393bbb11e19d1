"""Onboarding when a dependency fails: transient Stripe and DynamoDB errors are retried by the
state machine (visible in the history), and a Stripe outage longer than the retry budget fails the
execution at CreateStripeCustomer, leaving a usable account that a redrive completes."""

from __future__ import annotations

import pytest
from linkflow_shared.aws_clients import PROFILES
from onboarding_support import Onboarding, outage_until, retrier_for, task_failures
from support import admin, confirm, sign_up, stripe_admin, unique_email


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


def test_stripe_429s_and_500s_are_retried_at_create_stripe_customer_and_one_customer_results(
        stack, onboarding, clean_faults):
    for status in (429, 500):
        stripe_admin(stack, "POST", "faults", {"method": "POST", "path": "/v1/customers", "status": status,
                                               "count": 2})
    email = unique_email("flaky")
    sub = sign_up(stack, email)
    confirm(stack, sub)

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    events = onboarding.events(sub)
    failures = task_failures(events, "CreateStripeCustomer")
    assert [f["error"] for f in failures] == ["StripeUnavailable"] * 4
    assert ["HTTP 429" in f["cause"] for f in failures] == [True, True, False, False]
    assert all("HTTP 500" in f["cause"] for f in failures[2:])
    assert onboarding.states(sub).count("CreateStripeCustomer") == 1  # retried inside the state

    assert [c["status"] for c in onboarding.customer_creations(sub)] == [429, 429, 500, 500, 200]
    (customer,) = onboarding.customers(email)
    assert onboarding.profile(sub)["stripeCustomerId"] == customer.id


def test_stripe_outage_past_the_retry_budget_fails_at_the_stripe_task_and_a_redrive_completes_it(
        stack, onboarding, clean_faults):
    stripe_admin(stack, "POST", "faults", {"path": "/v1", "status": 503, "until": outage_until()})  # all of Stripe
    email = unique_email("outage")
    sub = sign_up(stack, email)
    confirm(stack, sub)

    failed = onboarding.finished(sub)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "StripeUnavailable"
    assert failed["redriveStatus"] == "REDRIVABLE"
    before = onboarding.states(sub)
    assert before == ["CheckDuplicateEmail", "RouteByEmailClaim", "WriteProfile", "InitEntitlement",
                      "CreateStripeCustomer"]
    budget = 1 + retrier_for("CreateStripeCustomer", "StripeUnavailable")["MaxAttempts"]
    failures = task_failures(onboarding.events(sub), "CreateStripeCustomer")
    assert [f["error"] for f in failures] == ["StripeUnavailable"] * budget
    # The account is usable while Stripe is down.
    profile = onboarding.profile(sub)
    assert profile is not None and profile["email"] == email and "stripeCustomerId" not in profile
    assert onboarding.entitlement(sub)["status"] == "none"

    stripe_admin(stack, "DELETE", "faults")  # the outage ends
    assert onboarding.customers(email) == []
    onboarding.sfn.redrive_execution(executionArn=failed["executionArn"])
    done = onboarding.finished(sub)

    assert done["status"] == "SUCCEEDED", done
    assert done["executionArn"] == failed["executionArn"] and done["redriveCount"] == 1
    after = onboarding.states(sub)
    for state in before[:-1]:
        assert after.count(state) == 1, (state, after)
    assert after.count("CreateStripeCustomer") == 2  # re-entered by the redrive, nothing before it
    assert after[len(before):] == ["CreateStripeCustomer", "StoreStripeCustomerId", "RouteByStoredCustomer",
                                   "OnboardingComplete"]
    (customer,) = onboarding.customers(email)
    assert onboarding.profile(sub)["stripeCustomerId"] == customer.id
    assert [c["status"] for c in onboarding.customer_creations(sub)] == [503] * budget + [200]
    assert customer.metadata["cognito_sub"] == sub


def test_dynamodb_throttling_on_the_profile_write_is_retried_by_the_state_machine(stack, onboarding, clean_faults):
    table = stack.info["outputs"]["UserProfilesTableName"]
    per_invocation = PROFILES["task"].retries["total_max_attempts"]  # the function's own boto3 retries
    status, _ = admin(stack, "POST", "faults", {"service": "dynamodb", "operation": "PutItem", "resource": table,
                                                "count": 2 * per_invocation})
    assert status == 200
    email = unique_email("throttled")
    sub = sign_up(stack, email)
    confirm(stack, sub)

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    failures = task_failures(onboarding.events(sub), "WriteProfile")
    assert [f["error"] for f in failures] == ["DynamoDBThrottled", "DynamoDBThrottled"]
    assert all("ProvisionedThroughputExceededException" in f["cause"] for f in failures)
    assert onboarding.states(sub).count("WriteProfile") == 1
    assert admin(stack, "GET", "faults")[1]["data"] == []  # every throttle was spent on the write
    (customer,) = onboarding.customers(email)
    profile = onboarding.profile(sub)
    assert profile["email"] == email and profile["stripeCustomerId"] == customer.id
    assert len(onboarding.customer_creations(sub)) == 1
