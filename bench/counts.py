"""Per happy-path sign-up: Stripe calls, DynamoDB writes, Lambda invocations, state transitions,
and what they cost on AWS at list prices.

A few sign-ups run one at a time (SignUp, then AdminConfirmSignUp: both Cognito triggers fire in
the stack) on a quiet stack, each waited for until its onboarding execution ends; then:

- Stripe calls: the emulator's request log (``stripe_requests()``) over the window;
- DynamoDB writes: the local AWS endpoint's operation counts (``operation_counts()``, by
  ``X-Amz-Target``): PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems;
- Lambda invocations: the stack's invocation counts (``invocation_counts()``), triggers included;
- state transitions, as Standard workflows bill them: every state entered plus every retry
  attempt, from each execution's history (``*StateEntered`` events, and ``LambdaFunctionScheduled``
  events beyond one per Task entered).

The Stripe-like latency (250 ms median) is on during the window, so task durations, which the
Lambda cost uses, are what they would be against Stripe.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Any

from linkflow.local.client import execution_arn, wait_for_execution
from linkflow.local.template import load_template

from . import pricing
from .context import Run
from .results import Figure, value
from .stack import ONBOARDING_TASKS, ROOT, BenchStack
from .trigger import STRIPE_LATENCY
from .users import email, sign_up_and_confirm

DDB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def _snapshot(stack: BenchStack) -> dict[str, Any]:
    return {"stripe": len(stack.local.stripe_requests()),
            "aws": stack.local.operation_counts(),
            "lambda": stack.local.invocation_counts()}


def _diff(after: dict[str, int], before: dict[str, int]) -> Counter[str]:
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def history(stack: BenchStack, arn: str) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    return [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            for e in page["events"]]


def transitions(events: list[dict[str, Any]]) -> dict[str, Any]:
    """States entered, retry attempts, and each task's Lambda duration (ms) from one history."""
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    tasks = [e for e in entered if e["type"] == "TaskStateEntered"]
    scheduled = [e for e in events if e["type"] == "LambdaFunctionScheduled"]
    durations: dict[str, float] = {}
    current, started_at = None, None
    for e in events:
        if e["type"] == "TaskStateEntered":
            current = e["stateEnteredEventDetails"]["name"]
        elif e["type"] == "LambdaFunctionScheduled":
            started_at = e["timestamp"]
        elif e["type"] in ("LambdaFunctionSucceeded", "LambdaFunctionFailed") and started_at and current:
            durations[current] = durations.get(current, 0.0) + (e["timestamp"] - started_at).total_seconds() * 1000
    return {"entered": len(entered), "retries": max(0, len(scheduled) - len(tasks)), "tasks": len(tasks),
            "durations_ms": durations}


def _function_of_state(stack: BenchStack) -> dict[str, str]:
    """Task state name -> function logical id, from the onboarding ASL and the template."""
    template = load_template(ROOT / "template.yaml")
    props = template.resources["OnboardingStateMachine"]["Properties"]
    asl = json.loads((ROOT / props["DefinitionUri"]).read_text())
    subs = {f"${{{k}}}": v["Fn::GetAtt"].split(".")[0] if isinstance(v["Fn::GetAtt"], str) else v["Fn::GetAtt"][0]
            for k, v in props["DefinitionSubstitutions"].items() if isinstance(v, dict) and "Fn::GetAtt" in v}
    return {name: subs[s["Resource"]] for name, s in asl["States"].items() if s.get("Resource") in subs}


def _function_settings() -> tuple[dict[str, int], dict[str, str]]:
    """Memory (MB) and architecture per function logical id, as the template deploys them."""
    template = load_template(ROOT / "template.yaml")
    defaults = template.globals_function
    memory, arch = {}, {}
    for logical_id, res in template.of_type("AWS::Serverless::Function").items():
        props = res.get("Properties", {})
        memory[logical_id] = int(props.get("MemorySize", defaults.get("MemorySize", 128)))
        arch[logical_id] = (props.get("Architectures") or defaults.get("Architectures") or ["x86_64"])[0]
    return memory, arch


def measure(run: Run) -> dict[str, Figure]:
    stack, k = run.stack, run.sizes.count_signups
    stack.wait_quiet()
    machine = stack.outputs["OnboardingStateMachineArn"]
    before = _snapshot(stack)
    stack.local.add_stripe_fault(STRIPE_LATENCY)
    runs, api_ms = [], {"PreSignUpFunction": 0.0, "PostConfirmationFunction": 0.0}
    try:
        for _ in range(k):
            t0 = time.perf_counter()
            sub = sign_up_and_confirm(stack, email("count"), timings=api_ms)
            desc = wait_for_execution(stack.client("stepfunctions"), execution_arn(machine, sub), 120.0, poll=0.05)
            if desc["status"] != "SUCCEEDED":
                raise RuntimeError(f"onboarding of {sub} ended {desc['status']}: {desc.get('error')}")
            runs.append(transitions(history(stack, desc["executionArn"])))
            run.state.setdefault("count_signups", []).append((sub, time.perf_counter() - t0))
        stack.wait_quiet()
    finally:
        stack.local.clear_stripe_faults()
    after = _snapshot(stack)
    return figures(stack, k, before, after, runs, {f: ms / k for f, ms in api_ms.items()})


def figures(stack: BenchStack, k: int, before: dict[str, Any], after: dict[str, Any], runs: list[dict[str, Any]],
            trigger_ms: dict[str, float]) -> dict[str, Figure]:
    stripe_log = stack.local.stripe_requests()[before["stripe"]:after["stripe"]]
    stripe_calls = Counter(f"{r['method']} {_route(r['path'])}" for r in stripe_log)
    searches = sum(n for call, n in stripe_calls.items() if "/search" in call)
    aws = _diff(after["aws"], before["aws"])
    writes = Counter({op.split(".", 1)[1]: n for op, n in aws.items()
                      if op.startswith("DynamoDB_20120810.") and op.split(".", 1)[1] in DDB_WRITES})
    invocations = _diff(after["lambda"], before["lambda"])
    names = {v["name"]: lid for lid, v in stack.info["resources"].items()}
    by_function = Counter({names.get(n, n): c for n, c in invocations.items()})
    entered = sum(r["entered"] for r in runs) / k
    retries = sum(r["retries"] for r in runs) / k
    tasks = {r["tasks"] for r in runs}

    state_fn = _function_of_state(stack)
    memory, arch = _function_settings()
    durations: dict[str, float] = {}
    for r in runs:
        for state, ms in r["durations_ms"].items():
            durations[state_fn[state]] = durations.get(state_fn[state], 0.0) + ms / k
    durations.update(trigger_ms)  # upper bounds: the Cognito API call that ran the trigger
    architectures = {arch[f] for f in durations}
    gb_s = pricing.lambda_gb_seconds(durations, memory)
    per_signup = {"transitions": entered + retries, "invocations": sum(by_function.values()) / k,
                  "write_units": sum(writes.values()) / k}
    cost = pricing.cost_per_signup(**per_signup, gb_seconds=gb_s,
                                   architecture=architectures.pop() if len(architectures) == 1 else "x86_64")
    window = f"{k} happy-path sign-ups, one at a time, on a quiet stack"
    return {
        "stripe_calls_per_signup": value(
            "calls/sign-up", len(stripe_log) / k, f"/v1 requests in the emulator's request log over {window}",
            target=("<=", 1), calls=dict(stripe_calls), n=k),
        "stripe_search_calls_per_signup": value(
            "calls/sign-up", searches / k, "customer searches among them", target=("<=", 0), n=k),
        "ddb_writes_per_signup": value(
            "writes/sign-up", sum(writes.values()) / k,
            f"DynamoDB write operations counted by the local AWS endpoint over {window}", target=("<=", 4),
            by_operation=dict(writes), n=k,
            all_aws_operations_per_signup={op: round(c / k, 2) for op, c in sorted(aws.items())}),
        "lambda_invocations_per_signup": value(
            "invocations/sign-up", sum(by_function.values()) / k,
            f"Lambda invocations counted by the stack over {window} (Cognito triggers included)",
            by_function=dict(by_function), n=k),
        "state_transitions_per_signup": value(
            "transitions/sign-up", entered + retries,
            "as Standard workflows bill them: every state entered (*StateEntered history events) plus every "
            "retry attempt (LambdaFunctionScheduled beyond one per Task entered)", target=("<=", 14),
            states_entered=entered, retries=retries, happy_path_tasks=sorted(tasks),
            floor_tasks=ONBOARDING_TASKS, n=k),
        "aws_cost_per_million_signups_usd": value(
            "USD/1M sign-ups", cost["total"] * 1_000_000,
            "the counts above at us-east-1 list prices (see prices); Lambda duration from the execution "
            "history per task (Stripe-like latency on), trigger durations bounded by the Cognito call that "
            "ran them; memory and architecture from template.yaml",
            breakdown_usd={p: round(c * 1_000_000, 2) for p, c in cost.items()}, lambda_gb_seconds=round(gb_s, 4),
            lambda_duration_ms={f: round(ms, 1) for f, ms in durations.items()},
            architecture=sorted({arch[f] for f in durations})),
    }


_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]*[0-9][A-Za-z0-9]*$")


def _route(path: str) -> str:
    """``/v1/customers/cus_123`` -> ``/v1/customers/{id}``: calls grouped by kind, not by object."""
    return "/".join("{id}" if _ID.match(part) else part for part in path.split("?")[0].split("/"))
