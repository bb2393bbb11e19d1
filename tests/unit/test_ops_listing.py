"""Listing executions across machines and pages, and where the Stripe key comes from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from linkflow.ops.clients import Clients
from linkflow.ops.errors import Unreachable
from linkflow.ops.executions import list_executions, where_it_failed
from linkflow.ops.stack import StackResources

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PREFIX = "arn:aws:states:us-east-1:123456789012"
STACK = StackResources.from_outputs("s", {
    "UserPoolId": "p", "UserProfilesTableName": "P", "EntitlementsTableName": "E", "StripeSecretName": "s",
    "OnboardingStateMachineArn": f"{PREFIX}:stateMachine:onb",
    "SubscriptionEventsStateMachineArn": f"{PREFIX}:stateMachine:evt",
})


def _execution(machine: str, minutes_ago: int, status: str = "SUCCEEDED") -> dict:
    name = f"{machine}-{minutes_ago}"
    return {"executionArn": f"{PREFIX}:execution:{machine}:{name}", "name": name, "status": status,
            "startDate": NOW - timedelta(minutes=minutes_ago), "stopDate": NOW - timedelta(minutes=minutes_ago - 1)}


class FakeSfn:
    """ListExecutions newest first in pages of 2; GetExecutionHistory in reverse for failed ones."""

    def __init__(self, executions: dict[str, list[dict]], histories: dict[str, list[dict]] | None = None):
        self.executions = executions
        self.histories = histories or {}
        self.pages_read = 0

    def get_paginator(self, name):
        sfn = self

        class Paginator:
            def paginate(self, **kw):
                if name == "list_executions":
                    items = [e for e in sfn.executions[kw["stateMachineArn"].rsplit(":", 1)[-1]]
                             if not kw.get("statusFilter") or e["status"] == kw["statusFilter"]]
                    items.sort(key=lambda e: e["startDate"], reverse=True)
                    for start in range(0, len(items), 2):
                        sfn.pages_read += 1
                        yield {"executions": items[start:start + 2]}
                else:
                    events = list(reversed(sfn.histories[kw["executionArn"]]))
                    for start in range(0, len(events), 2):
                        yield {"events": events[start:start + 2]}

        return Paginator()


def test_newest_first_across_machines_with_since_and_limit():
    sfn = FakeSfn({"onb": [_execution("onb", m) for m in (5, 50, 500, 5000)],
                   "evt": [_execution("evt", m) for m in (1, 30, 3000)]})
    found = list_executions(sfn, STACK, since=NOW - timedelta(hours=2), limit=10, with_failure=False)
    assert [e.name for e in found] == ["evt-1", "onb-5", "evt-30", "onb-50"]
    assert [e.machine for e in found] == ["subscription-events", "onboarding", "subscription-events", "onboarding"]
    assert sfn.pages_read == 4  # stopped at the first page older than --since, on each machine
    assert [e.name for e in list_executions(sfn, STACK, limit=3, with_failure=False)] == ["evt-1", "onb-5", "evt-30"]
    only = list_executions(sfn, STACK, machine="onboarding", with_failure=False)
    assert {e.machine for e in only} == {"onboarding"} and len(only) == 4


def test_failed_ones_say_where_they_stopped():
    failed = _execution("onb", 10, "FAILED")
    history = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "WriteProfile"}},
        {"id": 3, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "WriteProfile"}},
        {"id": 4, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "CreateStripeCustomer"}},
        {"id": 5, "type": "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails": {"error": "StripeUnavailable"}},
        {"id": 6, "type": "ExecutionFailed", "executionFailedEventDetails": {"error": "StripeUnavailable"}},
    ]
    sfn = FakeSfn({"onb": [failed, _execution("onb", 5)], "evt": []}, {failed["executionArn"]: history})
    rows = {e.name: e for e in list_executions(sfn, STACK, statuses=("FAILED",))}
    assert list(rows) == ["onb-10"]
    assert (rows["onb-10"].failed_state, rows["onb-10"].error) == ("CreateStripeCustomer", "StripeUnavailable")
    assert rows["onb-10"].to_json()["duration_s"] == 60.0
    assert where_it_failed(sfn, failed["executionArn"]) == ("CreateStripeCustomer", "StripeUnavailable")


class FakeSecrets:
    def __init__(self, value: str | None):
        self.value = value
        self.calls = 0

    def get_secret_value(self, SecretId):
        self.calls += 1
        if self.value is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetSecretValue")
        return {"SecretString": self.value}


def _clients(env: dict, secrets: FakeSecrets) -> Clients:
    clients = Clients(environ=env)
    clients.__dict__["secretsmanager"] = secrets  # what the cached_property would have built
    return clients


def test_the_stripe_key_comes_from_the_stack_secret_unless_overridden():
    secrets = FakeSecrets(json.dumps({"api_key": "sk_test_from_secret", "webhook_secret": "whsec_x"}))
    client = _clients({"STRIPE_API_BASE": "http://127.0.0.1:12111/"}, secrets).stripe("linkflow/stripe")
    assert secrets.calls == 1 and client._requestor.api_key == "sk_test_from_secret"
    assert client._requestor.base_addresses["api"] == "http://127.0.0.1:12111"
    overridden = FakeSecrets(None)
    client = _clients({"STRIPE_API_KEY": "sk_test_mine"}, overridden).stripe("linkflow/stripe")
    assert overridden.calls == 0 and client._requestor.api_key == "sk_test_mine"


@pytest.mark.parametrize(("secret", "message"), [(None, "not found"), ('{"webhook_secret": "x"}', "no JSON field"),
                                                 ("not json", "no JSON field")])
def test_an_unusable_secret_is_exit_3_with_the_way_out(secret, message):
    with pytest.raises(Unreachable, match=message) as exc:
        _clients({}, FakeSecrets(secret)).stripe("linkflow/stripe")
    assert "STRIPE_API_KEY" in str(exc.value)
