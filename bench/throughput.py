"""End-to-end throughput against the engine floor, on one stack.

``signups_per_minute``: native sign-ups (SignUp + AdminConfirmSignUp, both triggers in the stack)
from a pool of 16 threads, each counted when its onboarding execution SUCCEEDED and, checked after,
its entitlement row exists and its profile is linked to a Stripe customer.
``events_per_minute``: signed ``customer.subscription.created`` deliveries POSTed to the ingress
from the same pool, each counted when its events execution SUCCEEDED and, checked after, the
user's entitlement shows the subscription's status.

Each floor is the same number of executions (as many as the real workload completed) of a machine
chaining as many no-op Tasks as the real happy path, started from the same pool on the same engine.

Each workload (and each floor) starts after a warm-up round of one item per thread, not counted
(``warm_up``): handlers run in worker processes, and the measured rate is Lambda's steady state,
not the cold starts of its first environments. Rates run from the first submission to the last
completion. Workers hold back while 16
executions run (the stack stays saturated, with no backlog to outlive the measurement).
Submission stops at a time budget (so the full bench stays within its 10 minutes on 2 cores
however slow the stack is); what was submitted is then waited for (up to the drain budget), what
still runs is stopped, and only completions count. A submission the stack answered with an error
(a trigger or the ingress timing out on StartExecution) still counts if its execution started
and succeeded; the errors are reported. ``requested``, ``submitted``, ``completed``, the stack's
CPU per completion and the errors are in each figure, with where the machine's CPU went over the
window (``cpu_ms_per_completion``: the stack, its handler workers, the Stripe emulator, this bench
process's client threads) and the cores busy on average (``machine_busy_cores``): the stack's CPU
per completion short of the wall time per completion while the cores are all busy says the
processes beside it hold it back, not its own GIL.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import users
from .context import Run
from .results import Figure, missing, value
from .stack import EVENTS_TASKS, ONBOARDING_TASKS, BenchStack, machine_busy_seconds
from .stripe_events import signed, subscribed_customers

TARGET_RATIO = 0.5  # issue #15: sign-up and events floor ratios >= 0.5
Submit = Callable[[Any], tuple[str | None, str | None]]  # item -> (execution name, error)


@dataclass
class Outcome:
    requested: int
    budget_s: float
    names: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    succeeded: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # by part (BenchStack.cpu_by_process) over the window
    busy_cores: float | None = None  # the machine's cores busy on average over the window
    drained: bool = True

    @property
    def stack_cpu_s(self) -> float:
        return self.cpu_s.get("stack", 0.0)

    def per_minute(self, completed: int) -> float | None:
        return completed / self.elapsed_s * 60 if completed and self.elapsed_s > 0 else None

    def describe(self, completed: int) -> dict[str, Any]:
        return {"requested": self.requested, "submitted": len(self.names), "completed": completed,
                "elapsed_s": round(self.elapsed_s, 2), "submit_budget_s": self.budget_s, "drained": self.drained,
                "stack_cpu_s": round(self.stack_cpu_s, 2),
                "stack_cpu_ms_per_completion": round(self.stack_cpu_s / completed * 1000, 1) if completed else None,
                # where the machine's CPU went: a stack short of one core while the machine's cores are
                # all busy is held back by the processes beside it, not by its own GIL
                "cpu_ms_per_completion": {part: round(s / completed * 1000, 1) for part, s in self.cpu_s.items()}
                if completed else None,
                "machine_busy_cores": self.busy_cores,
                "execution_statuses": dict(self.statuses), "submit_errors": dict(self.errors.most_common(5))}


def drive(run: Run, items: Iterable[Any], requested: int, submit: Submit, machine_arn: str,
          budget_s: float) -> Outcome:
    """Submit ``items`` from the worker pool until done or ``budget_s``; wait for their executions.

    Workers hold back while ``max_in_flight`` executions of the machine run, so the stack is kept
    saturated without a backlog that would outlive the measurement (and weigh on the next one).
    """
    out = Outcome(requested=requested, budget_s=budget_s)
    source, lock = iter(items), threading.Lock()
    stop_at = time.monotonic() + budget_s
    limit = run.sizes.max_in_flight
    # Executions in flight as this pool knows them: the stack's count of RUNNING executions at the
    # last poll, plus every submission since that poll began (a slot is taken before submitting).
    # Polling alone let the pool start hundreds in one poll interval once StartExecution was fast.
    in_flight = [0]
    since_poll = [0]
    submitting = threading.Event()
    submitting.set()

    def monitor() -> None:
        while submitting.is_set():
            with lock:
                since_poll[0] = 0
            running = run.stack.running(machine_arn)
            with lock:
                in_flight[0] = running + since_poll[0]
            time.sleep(0.05)

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                full = in_flight[0] >= limit
                item = None if full else next(source, None)
                if item is not None:  # its slot is taken before it is submitted
                    in_flight[0] += 1
                    since_poll[0] += 1
            if full:
                time.sleep(0.005)
                continue
            if item is None:
                return
            try:
                name, error = submit(item)
            except Exception as exc:  # a failed submission is a result to report, not a crash
                name, error = None, f"{type(exc).__name__}: {exc}"
            with lock:
                if name:
                    out.names.append(name)
                if error:
                    out.errors[error[:160]] += 1

    start_wall = time.time()
    start_cpus, start_busy, start_mono = run.stack.cpu_by_process(), machine_busy_seconds(), time.monotonic()
    threads = [threading.Thread(target=worker, name=f"bench-worker-{i}") for i in range(run.sizes.workers)]
    watcher = threading.Thread(target=monitor, name="bench-in-flight", daemon=True)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitting.clear()
    deadline = time.monotonic() + run.sizes.drain_s
    while run.stack.running(machine_arn) and time.monotonic() < deadline:
        time.sleep(0.25)
    out.drained = _stop_leftovers(run.stack, machine_arn) == 0
    out.cpu_s = _cpu_used(start_cpus, run.stack.cpu_by_process())
    out.busy_cores = round((machine_busy_seconds() - start_busy) / (time.monotonic() - start_mono), 2)
    stops = _collect(run.stack, machine_arn, set(out.names), out)
    out.elapsed_s = (max(stops) if stops else time.time()) - start_wall
    return out


def _cpu_used(before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds used between two ``cpu_by_process`` samples, by part: each process counted under
    the part it has at the end (a worker still starting is no worker yet at the start); one started
    meanwhile counts whole, one that exited meanwhile is gone with its count."""
    used = dict.fromkeys(("stack", "workers", "emulator", "bench_client"), 0.0)
    for key, (part, seconds) in after.items():
        used[part] += seconds - before.get(key, (part, 0.0))[1]
    return used


def warm_up(run: Run, items: Iterable[Any], submit: Submit, machine_arn: str) -> None:
    """One round of ``items`` (one per thread), waited for and not counted: every function then has
    the warm workers a steady load keeps on Lambda. Cold starts are no throughput (each costs a
    worker process's init, on the same 2 cores); their count is in ``workers_peak_rss_mb``."""
    warm = drive(run, items, run.sizes.workers, submit, machine_arn, budget_s=run.sizes.drain_s)
    run.log(f"warm-up: {len(warm.names)} submitted, {len(warm.succeeded)} succeeded in {warm.elapsed_s:.1f} s")


def _stop_leftovers(stack: BenchStack, machine_arn: str) -> int:
    """Stop what still runs after the drain budget: it must not weigh on the next measurement."""
    sfn, stopped = stack.client("stepfunctions"), 0
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn, statusFilter="RUNNING"):
        for e in page["executions"]:
            sfn.stop_execution(executionArn=e["executionArn"], error="BenchDrainBudget",
                               cause="still running when the benchmark's drain budget ran out")
            stopped += 1
    return stopped


def _collect(stack: BenchStack, machine_arn: str, names: set[str], out: Outcome) -> list[float]:
    stops = []
    for page in stack.client("stepfunctions").get_paginator("list_executions").paginate(
            stateMachineArn=machine_arn, PaginationConfig={"PageSize": 1000}):
        for e in page["executions"]:
            if e["name"] not in names:
                continue
            out.statuses[e["status"]] += 1
            if e["status"] == "SUCCEEDED":
                out.succeeded.append(e["name"])
                stops.append(e["stopDate"].timestamp())
    return stops


def floor(run: Run, tasks: int, count: int) -> Outcome:
    arn, sfn, tag = run.stack.floor_arn(tasks), run.stack.client("stepfunctions"), uuid.uuid4().hex[:8]

    def start(i: int) -> tuple[str | None, str | None]:
        name = f"floor-{tag}-{i}"
        sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
        return name, None

    warm_up(run, range(count, count + run.sizes.workers), start, arn)
    return drive(run, range(count), count, start, arn, budget_s=10 * run.sizes.drain_s)


def _ratio_figures(prefix: str, unit: str, ours: Outcome, completed: int, base: Outcome | None, tasks: int,
                   method: str, floor_name: str, ratio_name: str) -> dict[str, Figure]:
    ours_rate = ours.per_minute(completed)
    figs = {prefix: value(unit, ours_rate, method, digits=1, **ours.describe(completed))}
    if base is None or not base.succeeded:
        figs[floor_name] = missing("executions/min", "the real workload completed nothing to compare with")
        figs[ratio_name] = missing("ratio", "no floor")
        return figs
    base_rate = base.per_minute(len(base.succeeded))
    figs[floor_name] = value("executions/min", base_rate, f"{len(base.succeeded)} executions of a {tasks}-task "
                             "no-op machine on the same engine, started from the same pool", digits=1,
                             **base.describe(len(base.succeeded)))
    figs[ratio_name] = value("ratio", (ours_rate or 0) / base_rate if base_rate else None,
                             f"{prefix} / {floor_name}", target=(">=", TARGET_RATIO), digits=3)
    return figs


# --- sign-ups --------------------------------------------------------------------------------


def measure_signups(run: Run) -> dict[str, Figure]:
    stack, n = run.stack, run.sizes.signups
    stack.wait_quiet()
    arn = stack.outputs["OnboardingStateMachineArn"]
    run.log(f"{n} sign-ups from {run.sizes.workers} threads (submission budget {run.sizes.signup_budget_s:.0f} s)")

    def sign_up(i: int) -> tuple[str | None, str | None]:
        sub = users.sign_up(stack, users.email(f"tput{i}"))
        try:
            users.confirm(stack, sub)
        except Exception as exc:  # the execution may have started all the same: keep the sub
            return sub, f"{type(exc).__name__}: {exc}"
        return sub, None

    warm_up(run, range(n, n + run.sizes.workers), sign_up, arn)
    ours = drive(run, range(n), n, sign_up, arn, run.sizes.signup_budget_s)
    linked = linked_users(stack, ours.succeeded)
    run.state["linked_users"] = linked
    run.log(f"sign-ups: {len(linked)} completed of {len(ours.names)} submitted in {ours.elapsed_s:.1f} s; "
            f"floor: {len(linked)} executions")
    base = floor(run, ONBOARDING_TASKS, len(linked)) if linked else None
    method = (f"SignUp + AdminConfirmSignUp from {run.sizes.workers} threads; a sign-up counts when its onboarding "
              "execution SUCCEEDED, its entitlement row exists and its profile is linked to a Stripe customer")
    figs = _ratio_figures("signups_per_minute", "sign-ups/min", ours, len(linked), base, ONBOARDING_TASKS, method,
                          "engine_floor_signups_per_minute", "signups_floor_ratio")
    figs["signups_per_minute"]["stack_peak_rss_mib_so_far"] = round(stack.memory_mib()["VmHWM"], 1)
    return figs


def linked_users(stack: BenchStack, subs: list[str]) -> list[tuple[str, str]]:
    """``(sub, customer)`` of the users whose entitlement exists and whose profile is linked."""
    profiles, entitlements = stack.outputs["UserProfilesTableName"], stack.outputs["EntitlementsTableName"]
    linked: dict[str, str] = {}
    entitled: set[str] = set()
    ddb = stack.client("dynamodb")
    for i in range(0, len(subs), 50):  # BatchGetItem: 100 keys at most, over both tables
        chunk = subs[i:i + 50]
        request = {profiles: {"Keys": [{"userId": {"S": s}} for s in chunk], "ConsistentRead": True},
                   entitlements: {"Keys": [{"cognito_sub": {"S": s}} for s in chunk], "ConsistentRead": True}}
        while request:
            answer = ddb.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(profiles, []):
                if item.get("stripeCustomerId", {}).get("S"):
                    linked[item["userId"]["S"]] = item["stripeCustomerId"]["S"]
            entitled.update(item["cognito_sub"]["S"] for item in answer["Responses"].get(entitlements, []))
            request = answer.get("UnprocessedKeys") or {}
    return [(s, linked[s]) for s in subs if s in linked and s in entitled]


# --- subscription events -----------------------------------------------------------------------


def measure_events(run: Run) -> dict[str, Figure]:
    stack, n = run.stack, run.sizes.events
    arn = stack.outputs.get("SubscriptionEventsStateMachineArn")
    if not arn:
        return {name: missing(unit, "the template has no subscription-events machine")
                for name, unit in (("events_per_minute", "events/min"), ("engine_floor_events_per_minute",
                                   "executions/min"), ("events_floor_ratio", "ratio"))}
    linked = run.state.get("linked_users") or []
    if not linked:
        raise RuntimeError("no onboarded user to send subscription events for (the sign-up step completed none)")
    customers = subscribed_customers(run, linked[:n])
    stack.wait_quiet()
    secret, url = stack.info["stripe"]["webhook_secret"], f"{stack.process.api_url}/stripe/webhook"
    deliveries = [customers[i % len(customers)] for i in range(n)]
    run.log(f"{n} subscription events over {len(customers)} customers from {run.sizes.workers} threads "
            f"(submission budget {run.sizes.events_budget_s:.0f} s)")
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=run.sizes.workers)) as http:

        def deliver(item: Any) -> tuple[str | None, str | None]:
            event_id, body, headers = signed(secret, item.subscription)
            answer = http.post(url, content=body, headers=headers)
            if answer.status_code != 200:  # a 5xx may still have started the execution: Stripe would retry
                return event_id, f"HTTP {answer.status_code}: {answer.text[:100]}"
            return event_id, None

        warm_up(run, deliveries[:run.sizes.workers], deliver, arn)
        ours = drive(run, deliveries, n, deliver, arn, run.sizes.events_budget_s)
    synced = _synced(stack, {c.sub: c.subscription["status"] for c in customers})
    completed = len(ours.succeeded)
    run.log(f"events: {completed} completed of {len(ours.names)} submitted in {ours.elapsed_s:.1f} s")
    base = floor(run, EVENTS_TASKS, completed) if completed else None
    method = (f"signed customer.subscription.created deliveries POSTed to {url.rsplit('/', 2)[-2]}/webhook from "
              f"{run.sizes.workers} threads; an event counts when its execution SUCCEEDED (and, checked after, "
              "each user's entitlement shows the subscription's status)")
    figs = _ratio_figures("events_per_minute", "events/min", ours, completed, base, EVENTS_TASKS, method,
                          "engine_floor_events_per_minute", "events_floor_ratio")
    figs["events_per_minute"]["entitlements_synced"] = f"{synced}/{len(customers)}"
    return figs


def _synced(stack: BenchStack, expected: dict[str, str]) -> int:
    """How many users' entitlements show their subscription's status."""
    table, ddb, subs = stack.outputs["EntitlementsTableName"], stack.client("dynamodb"), list(expected)
    synced = 0
    for i in range(0, len(subs), 100):
        request = {table: {"Keys": [{"cognito_sub": {"S": s}} for s in subs[i:i + 100]], "ConsistentRead": True}}
        while request:
            answer = ddb.batch_get_item(RequestItems=request)
            synced += sum(1 for item in answer["Responses"].get(table, [])
                          if item.get("status", {}).get("S") == expected[item["cognito_sub"]["S"]])
            request = answer.get("UnprocessedKeys") or {}
    return synced
