"""Which execution an operator means, which stack, which user: bad input is exit 2, in one line."""

from __future__ import annotations

import botocore.exceptions as boto_errors
import pytest
import stripe
from botocore.exceptions import ClientError

from linkflow.ops.errors import EXIT_UNREACHABLE, EXIT_USAGE, UsageError, explain
from linkflow.ops.executions import history, resolve
from linkflow.ops.stack import StackResources, load_stack
from linkflow.ops.users import classify

PREFIX = "arn:aws:states:us-east-1:123456789012"
ONBOARDING = f"{PREFIX}:stateMachine:linkflow-prod-onboarding"
EVENTS = f"{PREFIX}:stateMachine:linkflow-prod-subscription-events"
OUTPUTS = {"UserPoolId": "us-east-1_x", "OnboardingStateMachineArn": ONBOARDING, "UserProfilesTableName": "P",
           "EntitlementsTableName": "E", "StripeSecretName": "linkflow/stripe", "Stage": "prod"}


def _stack(**extra) -> StackResources:
    return StackResources.from_outputs("linkflow-prod", {**OUTPUTS, **extra})


class FakeSfn:
    def __init__(self, existing: set[str]):
        self.existing = existing

    def describe_execution(self, executionArn):
        if executionArn not in self.existing:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": "nope"}}, "DescribeExecution")
        return {"executionArn": executionArn, "status": "FAILED"}


def test_the_events_machine_may_be_absent_until_it_is_deployed():
    stack = _stack()
    assert stack.machines == {"onboarding": ONBOARDING}
    with pytest.raises(UsageError, match="no subscription-events state machine"):
        stack.selected("subscription-events")
    assert set(_stack(SubscriptionEventsStateMachineArn=EVENTS).selected(None)) == {"onboarding",
                                                                                    "subscription-events"}


def test_a_stack_without_linkflow_outputs_is_refused():
    with pytest.raises(UsageError, match="UserPoolId"):
        StackResources.from_outputs("other", {"Foo": "bar"})


def test_unknown_or_missing_stack_is_a_usage_error():
    class Cfn:
        meta = type("Meta", (), {"region_name": "eu-west-1"})()

        def describe_stacks(self, StackName):
            raise ClientError({"Error": {"Code": "ValidationError",
                                         "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")

    with pytest.raises(UsageError, match="unknown stack 'nope'.*eu-west-1"):
        load_stack(Cfn(), "nope")
    with pytest.raises(UsageError, match="LINKFLOW_STACK"):
        load_stack(Cfn(), None)


def test_a_bare_name_is_looked_up_in_every_machine():
    stack = _stack(SubscriptionEventsStateMachineArn=EVENTS)
    in_events = f"{PREFIX}:execution:linkflow-prod-subscription-events:evt_123"
    key, desc = resolve(FakeSfn({in_events}), stack, "evt_123")
    assert (key, desc["executionArn"]) == ("subscription-events", in_events)
    with pytest.raises(UsageError, match="unknown execution.*'evt_999'.*onboarding or subscription-events"):
        resolve(FakeSfn(set()), stack, "evt_999")
    both = {f"{PREFIX}:execution:linkflow-prod-onboarding:x", f"{PREFIX}:execution:linkflow-prod-subscription-events:x"}
    with pytest.raises(UsageError, match="pass the ARN"):
        resolve(FakeSfn(both), stack, "x")


@pytest.mark.parametrize(("ref", "message"), [
    ("arn:aws:states:us-east-1:123456789012:execution:onlytwo", "malformed execution ARN"),
    (f"{PREFIX}:stateMachine:linkflow-prod-onboarding", "malformed execution ARN"),
    ("arn:aws:lambda:us-east-1:123456789012:function:x", "malformed execution ARN"),
    (f"{PREFIX}:execution:someone-elses-machine:abc", "not of stack 'linkflow-prod'"),
    (f"{PREFIX}:execution:linkflow-prod-onboarding:gone", "unknown execution"),
    ("has spaces in it", "neither an execution ARN nor an execution name"),
])
def test_bad_execution_references(ref, message):
    with pytest.raises(UsageError, match=message):
        resolve(FakeSfn(set()), _stack(), ref)


def test_history_follows_every_page():
    class Paginator:
        def paginate(self, executionArn, PaginationConfig):
            size = PaginationConfig["PageSize"]
            events = [{"id": i} for i in range(1, 24)]
            for start in range(0, len(events), size):
                yield {"events": events[start:start + size]}

    class Sfn:
        def get_paginator(self, name):
            assert name == "get_execution_history"
            return Paginator()

    assert [e["id"] for e in history(Sfn(), "arn", page_size=5)] == list(range(1, 24))


@pytest.mark.parametrize(("query", "kind", "value"), [
    ("4D54C1F7-4d03-455b-b60a-99c1282deeff", "sub", "4d54c1f7-4d03-455b-b60a-99c1282deeff"),
    (" Ada@Example.com ", "email", "ada@example.com"),
    ("cus_NffrFeUfNV2Hib", "customer", "cus_NffrFeUfNV2Hib"),
])
def test_user_queries(query, kind, value):
    assert classify(query) == (kind, value)


@pytest.mark.parametrize("query", ["not-a-uuid", "12345", "cus_", "cus_bad id", "@example.com", "a@b"])
def test_bad_user_queries(query):
    with pytest.raises(UsageError) as exc:
        classify(query)
    assert exc.value.exit_code == EXIT_USAGE


def test_sdk_failures_become_one_line_and_the_right_exit_code():
    refused = boto_errors.EndpointConnectionError(endpoint_url="https://states.eu-west-1.amazonaws.com/")
    assert (explain(refused).exit_code, str(explain(refused))) == (
        EXIT_UNREACHABLE, "cannot reach AWS at https://states.eu-west-1.amazonaws.com/: connection failed")
    assert explain(boto_errors.NoCredentialsError()).exit_code == EXIT_UNREACHABLE
    assert explain(boto_errors.ProfileNotFound(profile="x")).exit_code == EXIT_USAGE
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no\nmore"}}, "ListExecutions")
    assert str(explain(denied)) == "AWS refused the credentials for ListExecutions: AccessDeniedException: no"
    down = stripe.APIConnectionError("Unexpected error communicating with Stripe.\n\n(Network error: ConnectionError: "
                                     "HTTPConnectionPool(...): [Errno 111] Connection refused'))")
    assert str(explain(down, "http://127.0.0.1:9")) == (
        "cannot reach Stripe at http://127.0.0.1:9: connection failed ([Errno 111] Connection refused)")
    assert str(explain(stripe.APIConnectionError("Read timed out."), "https://api.stripe.com")) == (
        "cannot reach Stripe at https://api.stripe.com: timed out")
    refused.kwargs["error"] = "Failed to establish a new connection: [Errno 111] Connection refused"
    assert str(explain(refused)).endswith("connection failed ([Errno 111] Connection refused)")
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = refused
    assert explain(wrapped).exit_code == EXIT_UNREACHABLE
    assert explain(ValueError("a bug")) is None
