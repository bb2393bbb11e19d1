"""The bench template: template.yaml plus the engine-floor pieces, written to a temp dir.

The floor is what the engine costs with no work: a no-op function (``noop/app.py``) and, per
real state machine, a machine of as many chained Task states as that machine's happy path runs,
each invoking the no-op. The bench stack is provisioned from this template, so the real and the
floor workloads run against one stack process, one engine, one moto.

Every path in the copy (``CodeUri``, ``DefinitionUri``, ``ContentUri``) is made absolute, so the
copy provisions from anywhere. It is written as JSON, which the template loader reads as YAML.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linkflow.local.template import load_template

NOOP_DIR = Path(__file__).resolve().parent / "noop"
NOOP_FUNCTION = "BenchNoopFunction"
TASK_TIMEOUT_SECONDS = 25  # as every task of the real machines


def floor_machine_id(tasks: int) -> str:
    return f"BenchFloor{tasks}TasksStateMachine"


def floor_output(tasks: int) -> str:
    return f"BenchFloor{tasks}TasksStateMachineArn"


def floor_definition(tasks: int) -> dict[str, Any]:
    """``tasks`` Task states chained, each invoking the no-op function, then the end."""
    names = [f"NoopTask{i + 1}" for i in range(tasks)]
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Task", "Resource": "${NoopFunctionArn}",
                                 "TimeoutSeconds": TASK_TIMEOUT_SECONDS}
        if i + 1 < len(names):
            state["Next"] = names[i + 1]
        else:
            state["End"] = True
        states[name] = state
    return {"Comment": f"bench engine floor: {tasks} no-op tasks", "StartAt": names[0], "States": states}


def _absolute(body: dict[str, Any], root: Path) -> None:
    for res in body.get("Resources", {}).values():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = str((root / props[key]).resolve())


def bench_template(source: Path, task_counts: list[int]) -> dict[str, Any]:
    """``source`` (template.yaml) plus the no-op function and one floor machine per task count."""
    body = load_template(source).body
    _absolute(body, source.parent)
    resources = body["Resources"]
    resources[NOOP_FUNCTION] = {"Type": "AWS::Serverless::Function", "Properties": {
        "FunctionName": {"Fn::Sub": "linkflow-${Stage}-bench-noop"},
        "Description": "bench engine floor: a task that does nothing",
        "CodeUri": str(NOOP_DIR), "Handler": "app.handler"}}
    outputs = body.setdefault("Outputs", {})
    for tasks in sorted(set(task_counts)):
        resources[floor_machine_id(tasks)] = {"Type": "AWS::Serverless::StateMachine", "Properties": {
            "Name": {"Fn::Sub": f"linkflow-${{Stage}}-bench-floor-{tasks}-tasks"},
            "Type": "STANDARD",
            "Definition": floor_definition(tasks),
            "DefinitionSubstitutions": {"NoopFunctionArn": {"Fn::GetAtt": f"{NOOP_FUNCTION}.Arn"}},
            "Policies": [{"LambdaInvokePolicy": {"FunctionName": {"Ref": NOOP_FUNCTION}}}]}}
        outputs[floor_output(tasks)] = {"Value": {"Ref": floor_machine_id(tasks)}}
    return body


def write_bench_template(source: Path, dest_dir: Path, task_counts: list[int]) -> Path:
    path = dest_dir / "bench-template.yaml"
    path.write_text(json.dumps(bench_template(source, task_counts), indent=1))
    return path
