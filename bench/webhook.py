"""``webhook_ack_ms`` vs ``webhook_floor_ms``: how long Stripe waits for the ingress to answer.

Ours: signed ``customer.subscription.created`` deliveries for onboarded, subscribed customers,
POSTed to ``POST {api}/stripe/webhook`` (the real handler verifies the signature and starts the
events execution; the answer is timed at the client, one connection per delivery).
Floor: the same body and headers POSTed to ``POST {api}/_linkflow/ping`` on the same HTTP server,
which answers 200 with no Lambda call. Samples alternate ingress / floor, one at a time, so the
machine's noise weighs on both alike; one warm-up pair is not counted. Before each pair the bench
waits (``settle_s`` at most) for the events executions already started to end: on AWS they never
share the ingress's CPU, on the local stack they share its process. It stops taking pairs after
``webhook_budget_s`` (``n`` says how many it took).
"""

from __future__ import annotations

import time

import httpx

from .context import Run
from .results import Figure, latency, missing, value
from .stripe_events import signed, subscribed_customers

TARGET_RATIO = 3.0
MIN_PAIRS = 5  # taken even past the time budget
NAMES = ("webhook_ack_ms", "webhook_floor_ms", "webhook_ack_ratio_p50", "webhook_ack_ratio_p99")


def measure(run: Run) -> dict[str, Figure]:
    stack = run.stack
    if "SubscriptionEventsStateMachineArn" not in stack.outputs:
        reason = "the template has no subscription-events ingress (POST /stripe/webhook) yet"
        return {n: missing("ratio" if "ratio" in n else "ms", reason) for n in NAMES}
    linked = run.state.get("linked_users") or []
    if not linked:
        raise RuntimeError("no onboarded user to send subscription events for (the sign-up step completed none)")
    customers = subscribed_customers(run, linked[:run.sizes.events])
    secret, api = stack.info["stripe"]["webhook_secret"], stack.process.api_url
    ack_ms: list[float] = []
    floor_ms: list[float] = []
    unsettled = 0
    machine = stack.outputs["SubscriptionEventsStateMachineArn"]
    with httpx.Client(timeout=30) as http:
        deadline = time.monotonic() + run.sizes.webhook_budget_s
        for i in range(run.sizes.webhook_pairs + 1):
            if time.monotonic() > deadline and len(ack_ms) >= MIN_PAIRS:
                break
            unsettled += not stack.settle(machine, run.sizes.settle_s)
            _, body, headers = signed(secret, customers[i % len(customers)].subscription)
            a = _post(http, f"{api}/stripe/webhook", body, headers)
            b = _post(http, stack.local.ping_url, body, headers)
            if i:
                ack_ms.append(a)
                floor_ms.append(b)
    ack = latency(ack_ms, "signed customer.subscription.created POSTed to the ingress, one at a time; each "
                  "verified and answered 200 with its events execution started",
                  pairs_taken_before_the_engine_was_quiet=unsettled)
    base = latency(floor_ms, "the same request to POST /_linkflow/ping on the same API server: 200, no Lambda call")
    target = ("<=", TARGET_RATIO)
    return {
        "webhook_ack_ms": ack,
        "webhook_floor_ms": base,
        "webhook_ack_ratio_p50": value("ratio", ack["p50"] / base["p50"], "ack p50 / floor p50", digits=2),
        "webhook_ack_ratio_p99": value("ratio", ack["p99"] / base["p99"], "ack p99 / floor p99", target=target,
                                       digits=2),
    }


def _post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    answer = http.post(url, content=body, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
    return elapsed
