"""Static checks on statemachines/*.asl.json: error names exist, retries are well-formed, the happy
path keeps its budget, and every substitution is one the template provides."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from linkflow_shared import errors
from unit_support import ROOT, TEMPLATE

ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))

# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
STATES_ERRORS = {
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
    "States.BranchFailed",
}
# Retry/Catch can never match these two (States.ALL does not either): listing them is a mistake.
UNMATCHABLE = {"States.Runtime", "States.DataLimitExceeded"}
# AWS's recommended Lambda retrier, plus throttled invocations.
LAMBDA_RETRIER = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
}
LAMBDA_ERRORS = LAMBDA_RETRIER | {"Lambda.TooManyRequestsException"}
# A function that runs past its own Timeout fails the task with this error (not States.Timeout, which
# is the state's TimeoutSeconds running out).
SANDBOX_ERRORS = {"Sandbox.Timedout"}
OUR_ERRORS = {
    name
    for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.LinkflowError)
    and cls not in (errors.LinkflowError, errors.RetryableError, errors.TerminalError)
}
RETRYABLE = {cls.__name__ for cls in errors.RETRYABLE_ERRORS}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def states_of(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those nested in Parallel branches and Map processors."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states_of(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from states_of(state[key])


def tasks(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(name, state) for name, state in states_of(load(path)) if state["Type"] == "Task"]


def ids(items: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in items]


ALL_TASKS = [(f"{path.stem}:{name}", state) for path in ASL_FILES for name, state in tasks(path)]


def test_there_are_state_machines_to_check():
    assert ASL_FILES and ALL_TASKS


def test_our_error_names_are_real_classes():
    assert {"StripeUnavailable", "DynamoDBThrottled", "CognitoUserNotFound", "InvalidStepInput"} <= OUR_ERRORS


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_error_equals_names_a_real_error(path):
    unknown = []
    for name, state in states_of(load(path)):
        for handler in state.get("Retry", []) + state.get("Catch", []):
            for error in handler["ErrorEquals"]:
                if error in UNMATCHABLE:
                    unknown.append(f"{name}: {error} can never be retried or caught")
                elif error.startswith("States."):
                    if error not in STATES_ERRORS:
                        unknown.append(f"{name}: {error} is not a Step Functions error")
                elif error.startswith("Lambda."):
                    if error not in LAMBDA_ERRORS:
                        unknown.append(f"{name}: {error} is not a Lambda service error")
                elif error.startswith("Sandbox."):
                    if error not in SANDBOX_ERRORS:
                        unknown.append(f"{name}: {error} is not a Lambda sandbox error")
                elif error not in OUR_ERRORS:
                    unknown.append(f"{name}: {error} is not a class in linkflow_shared.errors")
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("name, state", ALL_TASKS, ids=ids(ALL_TASKS))
def test_every_task_has_a_timeout_and_a_jittered_capped_retry(name, state):
    assert isinstance(state.get("TimeoutSeconds"), int) and state["TimeoutSeconds"] > 0
    assert state.get("Retry"), f"{name} has no Retry"
    for retrier in state["Retry"]:
        assert retrier.get("JitterStrategy") == "FULL", retrier
        assert isinstance(retrier.get("MaxDelaySeconds"), int), retrier
        assert retrier.get("IntervalSeconds", 1) >= 1, retrier
        assert retrier.get("MaxAttempts", 3) >= 1, retrier
        assert retrier["MaxDelaySeconds"] >= retrier.get("IntervalSeconds", 1)


@pytest.mark.parametrize("name, state", ALL_TASKS, ids=ids(ALL_TASKS))
def test_every_task_retries_aws_lambda_retrier_errors(name, state):
    retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
    assert LAMBDA_RETRIER <= retried, f"{name} misses {LAMBDA_RETRIER - retried}"


@pytest.mark.parametrize("name, state", ALL_TASKS, ids=ids(ALL_TASKS))
def test_catch_is_only_for_terminal_errors_and_keeps_the_input(name, state):
    for catcher in state.get("Catch", []):
        caught = set(catcher["ErrorEquals"])
        assert not caught & RETRYABLE, f"{name} catches retryable {caught & RETRYABLE}: it must fail at the task"
        assert not caught & ({"States.ALL", "States.TaskFailed", "States.Timeout"} | LAMBDA_ERRORS | SANDBOX_ERRORS), (
            f"{name} catches a transient/catch-all error {caught}: it must fail at the task, so a redrive resumes there"
        )
        assert catcher.get("ResultPath", "$") not in ("$", None), f"{name}: a Catch must keep the input"


def test_every_retryable_class_raised_by_a_step_is_retried_somewhere():
    retried = {e for _, state in ALL_TASKS for retrier in state["Retry"] for e in retrier["ErrorEquals"]}
    trigger_only = {"OnboardingStartFailed", "EventsStartFailed"}  # answered by a trigger or the ingress
    assert RETRYABLE - trigger_only <= retried


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_transition_target_exists_and_every_state_is_reachable(path):
    definition = load(path)
    names = set(definition["States"])
    targets = {definition["StartAt"]}
    for _, state in definition["States"].items():
        for key in ("Next", "Default"):
            if key in state:
                targets.add(state[key])
        targets |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    assert targets <= names, f"unknown targets {targets - names}"
    assert names <= targets, f"unreachable states {names - targets}"


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_substitutions_are_exactly_those_the_template_provides(path):
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", path.read_text()))
    machine = next(
        res
        for res in TEMPLATE["Resources"].values()
        if res["Type"] == "AWS::Serverless::StateMachine" and res["Properties"]["DefinitionUri"].endswith(path.name)
    )
    provided = set(machine["Properties"].get("DefinitionSubstitutions", {}))
    assert used <= provided, f"not provided: {used - provided}"
    for _, state in tasks(path):
        assert re.fullmatch(r"\$\{[A-Za-z0-9]+FunctionArn\}", state["Resource"]), state["Resource"]


# --- onboarding specifics -----------------------------------------------------------------------

ONBOARDING = ROOT / "statemachines" / "onboarding.asl.json"
HAPPY = {"$.emailClaim.outcome": "claimed", "$.storedCustomer.outcome": "stored"}


def walk(definition: dict[str, Any], outcomes: dict[str, str]) -> list[str]:
    """The states entered when every task succeeds and Choice variables hold ``outcomes``."""
    path, name = [], definition["StartAt"]
    while True:
        path.append(name)
        state = definition["States"][name]
        if state["Type"] in ("Succeed", "Fail"):
            return path
        if state["Type"] == "Choice":
            match = [c for c in state["Choices"] if outcomes.get(c["Variable"]) == c.get("StringEquals")]
            name = match[0]["Next"] if match else state["Default"]
        else:
            name = state["Next"]
        assert len(path) < 50, "loop"


def test_happy_path_budget_and_order():
    definition = load(ONBOARDING)
    path = walk(definition, HAPPY)
    assert len(path) <= 14, path
    assert path[-1] == "OnboardingComplete"
    task_order = [n for n in path if definition["States"][n]["Type"] == "Task"]
    assert task_order == [
        "CheckDuplicateEmail",
        "WriteProfile",
        "InitEntitlement",
        "CreateStripeCustomer",
        "StoreStripeCustomerId",
    ], "profile and entitlement must exist before the Stripe call"


@pytest.mark.parametrize(
    "outcomes, ends_in, passes",
    [
        ({"$.emailClaim.outcome": "link_to_existing"}, "LinkedToExistingAccount", "LinkProvider"),
        ({"$.emailClaim.outcome": "duplicate"}, "DuplicateAccountDisabled", "CompensateDisableDuplicateAccount"),
        (
            {"$.emailClaim.outcome": "claimed", "$.storedCustomer.outcome": "conflict"},
            "OnboardingCompleteWithExistingCustomer",
            "CompensateDeleteStripeCustomer",
        ),
    ],
)
def test_other_paths(outcomes, ends_in, passes):
    path = walk(load(ONBOARDING), outcomes)
    assert path[-1] == ends_in and passes in path
    assert "CreateStripeCustomer" not in path or passes == "CompensateDeleteStripeCustomer"


def test_a_deleted_user_is_rolled_back_then_fails_with_a_named_error():
    states = load(ONBOARDING)["States"]
    catching = {
        name for name, s in states.items() for c in s.get("Catch", []) if "CognitoUserNotFound" in c["ErrorEquals"]
    }
    assert {"CheckDuplicateEmail", "CreateStripeCustomer", "StoreStripeCustomerId"} <= catching
    for name in catching:
        (catcher,) = states[name]["Catch"]
        assert catcher["Next"] == "CompensateRollbackOnboarding"
    assert states["CompensateRollbackOnboarding"]["Next"] == "UserDeletedDuringOnboarding"
    failed = {k: v for k, v in states["UserDeletedDuringOnboarding"].items() if k != "Comment"}
    assert failed == {"Type": "Fail", "Error": "UserDeletedDuringOnboarding", "Cause": failed["Cause"]}


def test_the_stripe_task_retries_stripe_outages():
    state = load(ONBOARDING)["States"]["CreateStripeCustomer"]
    retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
    assert {"StripeUnavailable", "DynamoDBThrottled", "CognitoUnavailable"} <= retried
    assert "Catch" in state and all("StripeUnavailable" not in c["ErrorEquals"] for c in state["Catch"])
