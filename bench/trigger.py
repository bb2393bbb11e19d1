"""``trigger_latency_ms`` vs ``inline_trigger_latency_ms``: how long Cognito waits on PostConfirmation.

Ours is the real handler (functions/post_confirmation/app.py), loaded by path under a module name
of its own and given the function's environment from the stack (its template variables read back
through Lambda's GetFunctionConfiguration, the stack's endpoints, the onboarding ARN from the
outputs), invoked in this process with real ``PostConfirmation_ConfirmSignUp`` events for real,
confirmed users. Each invocation starts a real onboarding execution.

The inline trigger is the existing system's design, kept here only: Stripe customer create, then
profile and entitlement writes, all inside the trigger. The emulator adds a Stripe-like latency
to customer creates (median 250 ms, log-normal jitter) for the whole figure.

Samples alternate ours / inline, so the shared, noisy machine weighs on both alike; one warm-up
of each (module import, first clients) is not counted: cold starts are not this figure. Before
each pair the bench waits (``settle_s`` at most) for the onboarding executions already started
to end, and it stops taking pairs after ``trigger_budget_s`` (``n`` says how many it took).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from linkflow.local.client import StripeFault, execution_arn

from .context import Run
from .results import Figure, latency, missing, value
from .stack import ROOT, BenchStack
from .users import confirmed_user, post_confirmation_event

FUNCTION = "PostConfirmationFunction"
STRIPE_LATENCY: StripeFault = {"method": "POST", "path": "/v1/customers", "latency_ms": 250, "jitter": "lognormal"}
TARGET_RATIO = 0.05
MIN_PAIRS = 5  # taken even past the time budget


class Context:
    """The attributes of Lambda's context object that the handler and Powertools read."""

    def __init__(self, name: str, arn: str, memory: int) -> None:
        self.function_name, self.invoked_function_arn, self.memory_limit_in_mb = name, arn, memory
        self.function_version = "$LATEST"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name, self.log_stream_name = f"/aws/lambda/{name}", "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


def function_environment(stack: BenchStack, function_name: str) -> dict[str, str]:
    """What the function sees on the stack: its template variables plus the Lambda runtime's."""
    config = stack.client("lambda").get_function_configuration(FunctionName=function_name)
    env = dict(config.get("Environment", {}).get("Variables", {}))
    env.update({
        "AWS_ENDPOINT_URL": stack.process.aws_url, "AWS_REGION": stack.info["region"],
        "AWS_DEFAULT_REGION": stack.info["region"], "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "STRIPE_API_BASE": stack.process.stripe_url,
        "AWS_LAMBDA_FUNCTION_NAME": function_name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "POWERTOOLS_TRACE_DISABLED": "true",
        "ONBOARDING_STATE_MACHINE_ARN": stack.outputs["OnboardingStateMachineArn"],
    })
    return env


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_handler(code_dir: Path, layer_dir: Path) -> Any:
    if str(layer_dir) not in sys.path:
        sys.path.insert(0, str(layer_dir))
    name = f"bench_post_confirmation_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, code_dir / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module.handler


class InlineTrigger:
    """PostConfirmation as the existing system did it: every side effect inside the trigger."""

    def __init__(self, stack: BenchStack) -> None:
        self.stripe = stack.stripe()
        ddb = boto3.resource("dynamodb", endpoint_url=stack.process.aws_url, region_name=stack.info["region"],
                             aws_access_key_id="testing", aws_secret_access_key="testing",
                             config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
        self.profiles = ddb.Table(stack.outputs["UserProfilesTableName"])
        self.entitlements = ddb.Table(stack.outputs["EntitlementsTableName"])

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        attrs = event["request"]["userAttributes"]
        sub, email = attrs["sub"], attrs["email"].strip().lower()
        name = f"{attrs.get('given_name', '')} {attrs.get('family_name', '')}".strip()
        customer = self.stripe.v1.customers.create(params={
            "email": email, "name": name, "metadata": {"cognito_user_id": sub, "platform": "linkflow"}})
        now = datetime.now(UTC).isoformat()
        self.profiles.put_item(Item={"userId": sub, "email": email, "givenName": attrs.get("given_name", ""),
                                     "familyName": attrs.get("family_name", ""), "stripeCustomerId": customer.id,
                                     "providers": ["Cognito"], "createdAt": now, "updatedAt": now})
        self.entitlements.put_item(Item={"cognito_sub": sub, "email": email, "status": "none",
                                         "stripeCustomerId": customer.id, "updatedAt": now})
        return event


def _timed(handler: Any, event: dict[str, Any], context: Any) -> float:
    start = time.perf_counter()
    handler(event, context)
    return (time.perf_counter() - start) * 1000


def measure(run: Run) -> dict[str, Figure]:
    stack, pairs = run.stack, run.sizes.trigger_pairs
    function = stack.info["resources"][FUNCTION]
    env = function_environment(stack, function["name"])
    context = Context(function["name"], function["arn"], int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]))
    users = [(confirmed_user(stack, "trig"), confirmed_user(stack, "inline")) for _ in range(pairs + 1)]
    events = [(post_confirmation_event(stack, a), post_confirmation_event(stack, b)) for a, b in users]
    inline = InlineTrigger(stack)
    machine = stack.outputs["OnboardingStateMachineArn"]
    ours_ms: list[float] = []
    inline_ms: list[float] = []
    unsettled = 0
    log = (stack.workdir / "bench-trigger.log").open("a")
    stack.local.add_stripe_fault(STRIPE_LATENCY)
    try:
        with environment(env), contextlib.redirect_stdout(log):
            handler = load_handler(ROOT / "functions" / "post_confirmation", ROOT / "functions" / "shared")
            deadline = time.monotonic() + run.sizes.trigger_budget_s
            for i, (ours_event, inline_event) in enumerate(events):
                if time.monotonic() > deadline and len(ours_ms) >= MIN_PAIRS:
                    break
                # On AWS the executions a trigger starts never share its CPU; here they share one
                # process: let the earlier ones end first (settle_s at most).
                unsettled += not stack.settle(machine, run.sizes.settle_s)
                a = _timed(handler, ours_event, context)
                b = _timed(inline, inline_event, context)
                if i:  # the first pair is the warm-up
                    ours_ms.append(a)
                    inline_ms.append(b)
    finally:
        stack.local.clear_stripe_faults()
        log.close()
    started = _started(stack, [e[0]["request"]["userAttributes"]["sub"] for e in events[:len(ours_ms) + 1]])
    run.state["trigger_executions"] = started
    figs = figures(ours_ms, inline_ms, started=len(started), invoked=len(ours_ms) + 1)
    figs["trigger_latency_ms"]["pairs_taken_before_the_engine_was_quiet"] = unsettled
    return figs


def _started(stack: BenchStack, subs: list[str]) -> list[str]:
    sfn, machine = stack.client("stepfunctions"), stack.outputs["OnboardingStateMachineArn"]
    found = []
    for sub in subs:
        with contextlib.suppress(sfn.exceptions.ExecutionDoesNotExist):
            sfn.describe_execution(executionArn=execution_arn(machine, sub))
            found.append(sub)
    return found


def figures(ours_ms: list[float], inline_ms: list[float], *, started: int, invoked: int) -> dict[str, Figure]:
    ours = latency(ours_ms, "the real PostConfirmation handler invoked in the bench process with real "
                   "PostConfirmation_ConfirmSignUp events for confirmed users; each starts a real onboarding "
                   "execution on the stack", onboarding_executions_started=f"{started}/{invoked}")
    inline = latency(inline_ms, "existing design, bench code only: Stripe customer create (emulator latency "
                     "250 ms median, log-normal jitter) + profile put + entitlement put inside the trigger")
    if not ours_ms or not inline_ms:
        reason = "no samples"
        return {"trigger_latency_ms": ours, "inline_trigger_latency_ms": inline,
                "trigger_latency_ratio_p50": missing("ratio", reason), "trigger_latency_ratio_p99": missing("ratio",
                                                                                                           reason)}
    target = ("<=", TARGET_RATIO)
    return {
        "trigger_latency_ms": ours,
        "inline_trigger_latency_ms": inline,
        "trigger_latency_ratio_p50": value("ratio", ours["p50"] / inline["p50"], "trigger p50 / inline p50",
                                           target=target, digits=4),
        "trigger_latency_ratio_p99": value("ratio", ours["p99"] / inline["p99"], "trigger p99 / inline p99",
                                           target=target, digits=4),
    }
