"""Issue #11 point 3: a sign-up is never lost when PostConfirmation cannot start its onboarding.

Cognito never calls PostConfirmation again. Before the start queue, a StartExecution that failed
past the trigger's own retries failed the trigger: ``ConfirmSignUp`` answered
``UserLambdaValidationException`` while the user stayed CONFIRMED (a second confirmation is
refused), and no execution, profile, entitlement or Stripe customer would ever exist. Now the
trigger puts the start on the SQS queue and answers Cognito; StartOnboarding starts it from there
(the local stack polls the queue as Lambda's event source mapping does), and a start that keeps
failing ends in the dead-letter queue with its execution input, for an operator to send back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from onboarding_support import EXECUTION_TIMEOUT, Onboarding
from support import admin, sign_up, unique_email, wait_until

PASSWORD_CODE = "123456"  # the local Cognito accepts any confirmation code


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


@pytest.fixture(scope="module")
def queues(stack) -> dict[str, str]:
    outputs = stack.info["outputs"]
    return {"starts": outputs["OnboardingStartQueueUrl"], "dlq": outputs["OnboardingStartDeadLetterQueueUrl"]}


def _confirm_sign_up(stack: Any, email: str) -> None:
    """The user's own ConfirmSignUp (the app client's call, not the admin one)."""
    stack.client("cognito-idp").confirm_sign_up(ClientId=stack.info["cognito"]["client_id"], Username=email,
                                                ConfirmationCode=PASSWORD_CODE)


def _invocations(stack: Any, function: str) -> int:
    status, answer = admin(stack, "GET", "invocations")
    assert status == 200, answer
    return int(answer["data"].get(function, 0))


def _function_name(stack: Any, logical_id: str) -> str:
    return str(stack.info["resources"][logical_id]["name"])


def _peek(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The visible messages of a queue, left visible (VisibilityTimeout=0)."""
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                               AttributeNames=["All"]).get("Messages", [])


def _queued_for(sqs: Any, url: str, sub: str) -> list[dict[str, Any]]:
    return [m for m in _peek(sqs, url) if json.loads(m["Body"])["onboarding"]["sub"] == sub]


def test_start_execution_failing_three_times_still_onboards_the_user_from_the_queue(
        stack, onboarding, queues, clean_faults):
    starter = _function_name(stack, "StartOnboardingFunction")
    before = _invocations(stack, starter)
    email = unique_email("lost")
    sub = sign_up(stack, email, given="Katherine", family="Johnson")
    # The trigger's client is refused (past its own retries) and queues the start; the consumer's
    # first tries are refused too (its client's retries, or the message coming back after the
    # visibility timeout, depending on aws_clients' profiles), a later one starts the execution.
    status, answer = admin(stack, "POST", "faults", {"service": "stepfunctions", "operation": "StartExecution",
                                                     "count": 3})
    assert status == 200, answer

    _confirm_sign_up(stack, email)  # succeeds: the start is queued, not lost

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    assert done["name"] == sub
    assert admin(stack, "GET", "faults")[1]["data"] == [], "the three refusals were not all used"
    assert _invocations(stack, starter) > before, "the execution was not started from the queue"

    profile = onboarding.profile(sub)
    assert profile is not None and profile["email"] == email
    entitlement = onboarding.entitlement(sub)
    assert entitlement is not None and entitlement["status"] == "none"
    customer = onboarding.stripe.v1.customers.retrieve(profile["stripeCustomerId"])
    assert customer.email == email and customer.metadata["cognito_sub"] == sub

    sqs = stack.client("sqs")  # the queue kept nothing of it: the consumer deleted the message
    assert _queued_for(sqs, queues["starts"], sub) == []
    assert _queued_for(sqs, queues["dlq"], sub) == []


def test_a_start_that_keeps_failing_ends_in_the_dead_letter_queue_with_its_input(
        stack, onboarding, queues, clean_faults):
    sqs = stack.client("sqs")
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queues["starts"], AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    max_receives = int(policy["maxReceiveCount"])
    starter = _function_name(stack, "StartOnboardingFunction")
    before = _invocations(stack, starter)
    email = unique_email("dead")
    sub = sign_up(stack, email)
    # A refusal botocore does not retry (a broken role, say): every start fails, at once.
    status, answer = admin(stack, "POST", "faults", {
        "service": "stepfunctions", "operation": "StartExecution", "error": "AccessDeniedException",
        "status": 400, "count": 1000})
    assert status == 200, answer

    _confirm_sign_up(stack, email)

    dead = wait_until(lambda: _queued_for(sqs, queues["dlq"], sub), timeout=60 + max_receives * 5,
                      what="the start to reach the dead-letter queue")
    assert len(dead) == 1
    body = json.loads(dead[0]["Body"])
    assert body["onboarding"]["sub"] == sub and body["onboarding"]["email"] == email
    assert "AccessDeniedException" in body["reason"]
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= max_receives
    assert _invocations(stack, starter) - before == max_receives  # one batch per receive, then the DLQ
    assert _queued_for(sqs, queues["starts"], sub) == []
    assert onboarding.describe(sub) is None  # nothing started, nothing written
    assert onboarding.profile(sub) is None

    # Nothing is lost: once Step Functions accepts starts again, the operator sends the message back.
    admin(stack, "DELETE", "faults")
    sqs.send_message(QueueUrl=queues["starts"], MessageBody=dead[0]["Body"])
    sqs.delete_message(QueueUrl=queues["dlq"], ReceiptHandle=dead[0]["ReceiptHandle"])
    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    assert onboarding.profile(sub) is not None
    wait_until(lambda: not _queued_for(sqs, queues["starts"], sub), timeout=EXECUTION_TIMEOUT,
               what="the consumer to delete the message it started")
