"""One name from ASL state to function to folder to step, and every ResultPath read by the next step.

For every Task state of both machines: its ``Resource`` substitution names ``<State>FunctionArn``,
bound to the template function ``<State>Function`` whose ``CodeUri`` is ``functions/<state>/``,
whose handler calls the step ``<state>`` (snake case); and the field each ``ResultPath`` writes is
declared by the input model of every Task the machine can reach next. The triggers and the
webhook ingress keep the same rule: a function's handler calls the step named as its folder.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from unit_support import ROOT, TEMPLATE, resources

MACHINES = {
    "onboarding.asl.json": "OnboardingStateMachine",
    "subscription_events.asl.json": "SubscriptionEventsStateMachine",
    "reconcile.asl.json": "ReconcileStateMachine",
}


def all_states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state, nested ones too (Parallel branches, Map item processors)."""
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []) + ([state["ItemProcessor"]] if "ItemProcessor" in state else []):
            found.update(all_states(branch["States"]))
    return found
FUNCTIONS = resources("AWS::Serverless::Function")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def tasks() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for asl, _ in MACHINES.items():
        states = all_states(json.loads((ROOT / "statemachines" / asl).read_text())["States"])
        found += [(asl, name, state) for name, state in states.items() if state["Type"] == "Task"]
    return found


def called_functions(path: Path) -> set[str]:
    """Names the module's ``handler`` body calls."""
    tree = ast.parse(path.read_text())
    (handler,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    return {c.func.id for c in ast.walk(handler) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}


@pytest.mark.parametrize("asl, name, state", tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_task_state_has_one_name_from_the_asl_to_its_step(asl, name, state):
    assert state["Resource"] == f"${{{name}FunctionArn}}", f"{name} must invoke the function named after it"
    machine = TEMPLATE["Resources"][MACHINES[asl]]["Properties"]
    assert machine["DefinitionSubstitutions"][f"{name}FunctionArn"] == {"Fn::GetAtt": [f"{name}Function", "Arn"]}
    folder = snake(name)
    assert FUNCTIONS[f"{name}Function"]["Properties"]["CodeUri"] == f"functions/{folder}/"
    assert folder in called_functions(ROOT / "functions" / folder / "app.py"), f"the handler must call {folder}()"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_calls_the_step_named_as_its_folder(logical_id):
    folder = FUNCTIONS[logical_id]["Properties"]["CodeUri"].strip("/").split("/")[-1]
    assert logical_id == "".join(part.title() for part in folder.split("_")) + "Function"
    assert folder in called_functions(ROOT / "functions" / folder / "app.py")


def next_tasks(states: dict[str, Any], name: str) -> set[str]:
    """The Task states the machine can enter right after ``name`` (through Choice states)."""
    todo, seen, found = [states[name].get("Next")], set(), set()
    while todo:
        current = todo.pop()
        if current is None or current in seen:
            continue
        seen.add(current)
        state = states[current]
        if state["Type"] == "Task":
            found.add(current)
        elif state["Type"] == "Choice":
            todo += [c["Next"] for c in state["Choices"]] + [state.get("Default")]
        else:
            todo.append(state.get("Next"))
    return found


def result_paths() -> list[tuple[str, str, str, str]]:
    rows = []
    for asl in MACHINES:
        states = json.loads((ROOT / "statemachines" / asl).read_text())["States"]
        for name, state in states.items():
            if state["Type"] == "Task" and state.get("ResultPath"):
                for following in sorted(next_tasks(states, name)):
                    rows.append((name, state["ResultPath"], following, asl))
    return rows


@pytest.mark.parametrize("name, path, following, asl", result_paths())
def test_every_result_path_is_a_field_of_the_next_steps_input_model(load_handler, name, path, following, asl):
    assert re.fullmatch(r"\$\.[a-zA-Z]+", path), f"{name}: ResultPath {path} is not one top-level field"
    handler: Callable[..., Any] = load_handler(f"{following}Function")
    model = handler.step_input  # type: ignore[attr-defined]
    wire_names = {field.alias or field_name for field_name, field in model.model_fields.items()}
    assert path[2:] in wire_names, f"{name} writes {path} but {following}'s {model.__name__} does not declare it"


def test_the_checks_above_see_every_task_and_result_path():
    assert len(tasks()) == 13 + 5
    assert ("CreateStripeCustomer", "$.stripeCustomer", "StoreStripeCustomerId", "onboarding.asl.json") in (
        result_paths()
    )
    assert camel("store_stripe_customer_id") == "storeStripeCustomerId"
