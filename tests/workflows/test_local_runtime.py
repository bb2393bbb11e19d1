"""Issue #15: the handlers run as Lambda runs them, in worker processes under the runtime
interface client, with their ``Timeout`` and ``ReservedConcurrentExecutions`` enforced.

These tests run a stack of their own, from a copy of template.yaml with two budgets made small
enough to reach in a test: CreateStripeCustomer's ``Timeout`` (2 s instead of 40) and the
webhook ingress's reserved concurrency (2 instead of 20). Nothing here measures time: a hang is a
Stripe call held longer than the function's ``Timeout``, a held concurrency is a StartExecution
held by an AWS latency fault, and the tests wait for what the stack reports.

The stack keeps the ASL's real Retry intervals (wait-time scale 1): the Stripe request a timed-out
attempt left behind still holds its idempotency key for a moment (Stripe answers 409 meanwhile),
and only the real intervals show the retrier outlasting it, as it would on AWS.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from onboarding_support import Onboarding
from subscription_events_support import Events
from support import confirm, sign_up, unique_email, wait_until

from linkflow.local.process import LocalStackProcess, ProcessConfig, free_port, pid_alive

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_TIMEOUT_S = 2
WEBHOOK_RESERVED = 2
STRIPE_HANG_MS = 3000  # past CreateStripeCustomer's 2 s Timeout, within its 8 s Stripe read timeout


def _small_budgets_template(directory: Path) -> Path:
    """template.yaml with CreateStripeCustomer's Timeout and the webhook's reservation made small."""
    text = (ROOT / "template.yaml").read_text()
    text, timeouts = re.subn(r"(CreateStripeCustomerFunction:\n(?:      .*\n|    .*\n)*?      Timeout: )40",
                             rf"\g<1>{CUSTOMER_TIMEOUT_S}", text)
    text, reserved = re.subn(r"(  WebhookReservedConcurrency:\n    Type: Number\n    Default: )20",
                             rf"\g<1>{WEBHOOK_RESERVED}", text)
    assert (timeouts, reserved) == (1, 1), "template.yaml changed shape: update this copy's substitutions"
    for folder in ("functions", "statemachines"):  # CodeUri and DefinitionUri are relative to the template
        (directory / folder).symlink_to(ROOT / folder)
    path = directory / "template.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackProcess]:
    template = _small_budgets_template(tmp_path_factory.mktemp("template"))
    config = ProcessConfig(template=template, state_dir=tmp_path_factory.mktemp("state"), aws_port=free_port(),
                           stripe_port=free_port(), api_port=free_port(), wait_time_scale=1.0)
    with LocalStackProcess(config) as running:
        yield running


@pytest.fixture
def clean(small: LocalStackProcess) -> Iterator[None]:
    yield
    small.admin.clear_faults()
    small.admin.clear_stripe_faults()


def _lambda_events(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """``(event type, error)`` of every Lambda task outcome of an execution, in order."""
    out = []
    for event in events:
        if event["type"] in ("LambdaFunctionFailed", "LambdaFunctionSucceeded", "LambdaFunctionTimedOut"):
            details = event.get("lambdaFunctionFailedEventDetails") or {}
            out.append((event["type"], details.get("error")))
    return out


def test_a_step_whose_stripe_call_hangs_times_out_is_retried_and_the_onboarding_succeeds(small, clean):
    onboarding = Onboarding(small)
    small.admin.add_stripe_fault({"method": "POST", "path": "/v1/customers", "latency_ms": STRIPE_HANG_MS,
                                  "count": 1})
    email = unique_email("hang")
    sub = sign_up(small, email)
    confirm(small, sub)

    assert onboarding.finished(sub)["status"] == "SUCCEEDED"
    events = onboarding.events(sub)
    outcomes = _lambda_events(events)
    timed_out = [i for i, (kind, error) in enumerate(outcomes) if error == "Sandbox.Timedout"]
    assert len(timed_out) == 1, outcomes
    after = outcomes[timed_out[0] + 1:]
    retries = after[:after.index(("LambdaFunctionSucceeded", None)) + 1]
    # a retry may meet the 409 Stripe answers while the abandoned request still holds the key
    assert all(error == "StripeUnavailable" for _, error in retries[:-1]), outcomes
    failed = next(e for e in events if e["type"] == "LambdaFunctionFailed")
    assert "Task timed out after 2.00 seconds" in failed["lambdaFunctionFailedEventDetails"]["cause"]
    assert onboarding.states(sub).count("CreateStripeCustomer") == 1, "a retry, not a second entry"

    customer = onboarding.profile(sub)["stripeCustomerId"]
    stripe = Events(small).stripe
    assert [c.id for c in stripe.v1.customers.list(params={"email": email}).data] == [customer], (
        "the timed-out attempt and its retry made one customer (the idempotency key)")

    log = (Path(small.info["logs"]) / "linkflow-local-create-stripe-customer.log").read_text()
    assert "Task timed out after 2.00 seconds" in log
    assert re.search(r"REPORT RequestId: \S+\tDuration: 2000\.00 ms\t.*\tStatus: timeout", log), log


def _post_all(events: Events, bodies: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(events.post, bodies))


def _webhook_body() -> bytes:
    return json.dumps({
        "id": f"evt_flood{uuid.uuid4().hex[:20]}", "object": "event", "type": "customer.subscription.updated",
        "created": int(time.time()), "livemode": False, "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "sub_flood", "object": "subscription", "customer": "cus_flood_nobody",
                            "status": "active"}}}).encode()


def test_a_webhook_flood_is_throttled_as_lambda_throttles_and_the_triggers_still_answer(small, clean):
    events, onboarding = Events(small), Onboarding(small)
    webhook = "linkflow-local-stripe-webhook"
    customer = events.stripe.v1.customers.create(params={"email": unique_email("flood")})
    events.settle()  # its customer.created delivered before the flood
    # Lambda retries nothing here: Stripe does. Give the emulator the patience Stripe has (days).
    small.admin.emulator("POST", "webhooks", {"max_attempts": 12, "retry_backoff_ms": 100})
    # The two invocations the ingress may run at once are held in their StartExecution.
    small.admin.add_fault({"service": "stepfunctions", "operation": "StartExecution",
                           "resource": "linkflow-local-subscription-events", "error": None,
                           "latency_ms": 4000, "count": WEBHOOK_RESERVED})
    held = [threading.Thread(target=events.post, args=(_webhook_body(),)) for _ in range(WEBHOOK_RESERVED)]
    for thread in held:
        thread.start()
    wait_until(lambda: sum(w["busy"] for w in small.admin.workers()["data"] if w["function"] == webhook)
               == WEBHOOK_RESERVED, what="the webhook's reserved concurrency in use")

    flood = _post_all(events, [_webhook_body() for _ in range(20)])
    mark = events.delivery_mark()
    events.stripe.v1.customers.delete(customer.id)  # Stripe sends customer.deleted, which the ingress handles
    sub = sign_up(small, unique_email("flood"))  # PreSignUp
    confirm(small, sub)  # PostConfirmation
    for thread in held:
        thread.join()

    assert flood == [(503, {"message": "Service Unavailable"})] * 20, "a throttled Lambda behind an HTTP API"
    workers = small.admin.workers()
    assert workers["throttles"][webhook] >= 20
    assert "linkflow-local-pre-sign-up" not in workers["throttles"]
    assert "linkflow-local-post-confirmation" not in workers["throttles"]
    assert onboarding.finished(sub)["status"] == "SUCCEEDED", "the triggers answered during the flood"

    events.settle()
    attempts = [d for d in events.delivered_events(mark) if d["event_type"] == "customer.deleted"]
    assert attempts[0]["status"] == 503, attempts
    assert attempts[-1]["ok"], "Stripe retried the throttled delivery until the ingress took it"
    assert events.executions_named(attempts[-1]["event_id"]), "and its execution started"


def test_stop_leaves_no_worker_process_behind(small):
    """Last in this module: it stops the module's stack (SIGTERM, as `linkflow local down` does)."""
    pids = [w["pid"] for w in small.admin.workers()["data"]]
    assert pids, "the tests before ran handlers in workers"
    assert all(pid_alive(pid) for pid in pids)
    small.stop()
    assert not [pid for pid in pids if pid_alive(pid)], "every worker stopped with the stack"


