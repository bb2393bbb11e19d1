"""Reconcile at scale (issue #12, "Scale and cost"): a seeded population with injected cases of
every finding kind, reconciled on the local stack twice.

Seeding goes straight to the stores, for speed: Cognito ``AdminCreateUser`` + a permanent password
(confirmed users, no trigger fires; from several threads), Stripe customer creates through
stripe-python, DynamoDB ``BatchWriteItem``. The reconcile runs themselves go through the real
machine (StartExecution on the local stack's reconcile state machine). The one kind that needs
history, ``missing_profile``, gets a real onboarding (started the way PostConfirmation starts it)
whose profile is then deleted. Every injected user has exactly one finding; every other user is
fully linked. Then:

1. a reconcile run fixing every kind (``orphan_records`` included, so that nothing is left for the
   next run): wall time, findings per kind against what was injected, Stripe requests;
2. the onboardings that run 1 started for ``missing_onboarding`` are waited for;
3. a second run: it must find nothing; its Stripe requests are the steady state (a healthy
   population), the figure per 1,000 users.

The projection to 1,000,000 users at Stripe's live rate (80/s) uses the counts of these runs:
see :func:`projection` and docs/benchmarks.md.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from linkflow_shared.onboarding.models import OnboardingInput
from linkflow_shared.onboarding.triggers import start_onboarding_execution
from linkflow_shared.reconcile.models import FINDING_KINDS
from linkflow_shared.stores.records import EmailClaim, EntitlementRecord, ProfileRecord

from linkflow.local.template import load_template

from . import pricing
from .context import Run
from .results import Figure, value
from .stack import PASSWORD, ROOT, BenchStack

LIVE_RATE = 80.0  # Stripe requests/s a live-mode run stays under (Stripe allows 100)
TARGET_USERS = 1_000_000
USERS_PER_SHARD_AT_SCALE = 10_000  # template.yaml's ReconcileShards guidance
MAX_CONCURRENCY = 4  # CompareAndRepair's MaxConcurrency
COGNITO_PAGE = 60  # ListUsers' largest page
FUNCTIONS = ("SnapshotCognitoFunction", "SnapshotStripeFunction", "SnapshotTablesFunction", "ReconcileShardFunction",
             "WriteReportFunction")
SNAPSHOT_STATES = {"SnapshotCognito": "SnapshotCognitoFunction", "SnapshotStripe": "SnapshotStripeFunction",
                   "SnapshotTables": "SnapshotTablesFunction"}


@dataclass
class Population:
    users: int  # Cognito users
    per_kind: int
    subs: dict[str, list[str]] = field(default_factory=dict)  # kind -> subs injected ("healthy" too)
    seed_s: dict[str, float] = field(default_factory=dict)

    @property
    def injected(self) -> dict[str, int]:
        return {kind: len(self.subs.get(kind, [])) for kind in FINDING_KINDS}


def _timed(seconds: dict[str, float], name: str) -> Callable[[Callable[[], Any]], Any]:
    def run(action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return action()
        finally:
            seconds[name] = round(time.perf_counter() - start, 2)
    return run


def _parallel(items: Iterable[Any], action: Callable[[Any], Any], threads: int) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(action, items))


COGNITO_THREADS = 4


def _cognito_users(stack: BenchStack, count: int, tag: str) -> list[tuple[str, str]]:
    """``count`` confirmed, verified users: ``(sub, email)`` each, in the order of ``i``."""
    cognito, pool = stack.process.client("cognito-idp"), stack.info["cognito"]["user_pool_id"]

    def create(i: int) -> tuple[str, str]:
        address = f"rc.{tag}.{i}@example.com"
        user = cognito.admin_create_user(
            UserPoolId=pool, Username=address, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"},
                            {"Name": "given_name", "Value": "Ada"}, {"Name": "family_name", "Value": "Lovelace"}])
        username = user["User"]["Username"]
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
        sub = next(a["Value"] for a in user["User"]["Attributes"] if a["Name"] == "sub")
        return sub, address

    # Several threads: the local Cognito finds a user by username or email from its index
    # (src/linkflow/local/cognito_index.py), so writers no longer iterate the pool while another
    # adds to it (moto's own lookup read every user: O(n) a call, 650 s for 10,000 users, and 500s
    # under concurrent writers).
    return _parallel(range(count), create, threads=COGNITO_THREADS)


def _assign(users: list[tuple[str, str]], per_kind: int) -> dict[str, list[tuple[str, str]]]:
    """The first ``per_kind`` users get the first kind, and so on (orphans are not Cognito users)."""
    kinds = [k for k in FINDING_KINDS if k != "orphan_records"]
    assigned: dict[str, list[tuple[str, str]]] = {}
    for index, kind in enumerate(kinds):
        assigned[kind] = users[index * per_kind:(index + 1) * per_kind]
    assigned["healthy"] = users[len(kinds) * per_kind:]
    return assigned


def _customers(stack: BenchStack, assigned: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Stripe customers: one per user that has one, a second (empty) one for duplicates; sub -> linked id."""
    client, pool = stack.stripe(), str(stack.info["cognito"]["user_pool_id"])
    wanted: list[tuple[str, str, dict[str, str]]] = []
    for kind, users in assigned.items():
        if kind in ("missing_onboarding", "missing_profile", "missing_customer"):
            continue
        for sub, address in users:
            full = {"cognito_user_id": sub, "cognito_sub": sub, "user_pool_id": pool}
            wanted.append((sub, address, {"cognito_sub": sub} if kind == "customer_metadata" else full))
    duplicates = [(sub, address, {"cognito_user_id": sub, "cognito_sub": sub, "user_pool_id": pool})
                  for sub, address in assigned["duplicate_customers"]]

    def create(spec: tuple[str, str, dict[str, str]]) -> tuple[str, str]:
        sub, address, metadata = spec
        customer = client.v1.customers.create(params={"email": address, "name": "Ada Lovelace", "metadata": metadata})
        return sub, customer.id

    linked = dict(_parallel(wanted, create, threads=8))
    _parallel(duplicates, create, threads=8)
    return linked


def _batch_write(stack: BenchStack, table: str, items: list[dict[str, Any]]) -> None:
    resource = stack.process.client("dynamodb")  # a client of its own: batches from several threads
    batches = [items[i:i + 25] for i in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        requests = [{"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}} for item in batch]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = resource.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    _parallel(batches, write, threads=4)


def _records(stack: BenchStack, assigned: dict[str, list[tuple[str, str]]], linked: dict[str, str],
             orphans: list[str]) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC).isoformat()
    profiles, entitlements, claims = [], [], []
    for kind, users in assigned.items():
        if kind in ("missing_onboarding", "missing_profile"):
            continue
        for n, (sub, address) in enumerate(users):
            customer = None if kind in ("unlinked_customer", "missing_customer") else linked.get(sub)
            email = f"old.{address}" if kind == "email_drift" else address
            profiles.append(ProfileRecord(user_id=sub, email=email, given_name="Ada", family_name="Lovelace",
                                          stripe_customer_id=customer, created_at=now, updated_at=now).item())
            claims.append(EmailClaim(email=address, user_id=sub, claimed_at=now).item())
            if kind == "missing_entitlement" and n % 2 == 0:
                continue  # half without an entitlement, half with one that has no email
            entitlement = EntitlementRecord(cognito_sub=sub, email=None if kind == "missing_entitlement" else address,
                                            updated_at=now)
            if kind == "entitlement_drift":  # paid in DynamoDB, nothing in Stripe
                entitlement = entitlement.model_copy(update={
                    "status": "active", "plan": "pro", "stripe_customer_id": customer,
                    "subscription_id": f"sub_gone{n}", "current_period_end": int(time.time()) + 86400})
            entitlements.append(entitlement.item())
    for n, sub in enumerate(orphans):
        address = f"orphan.{n}.{uuid.uuid4().hex[:8]}@example.com"
        profiles.append(ProfileRecord(user_id=sub, email=address, created_at=now, updated_at=now).item())
        entitlements.append(EntitlementRecord(cognito_sub=sub, email=address, updated_at=now).item())
    return {"UserProfilesTableName": profiles, "EntitlementsTableName": entitlements, "EmailClaimsTableName": claims}


def _onboard_then_drop_profiles(stack: BenchStack, users: list[tuple[str, str]], timeout: float,
                                in_flight: int = 10) -> None:
    """``missing_profile``: a real onboarding that succeeded, then its profile deleted. Run before
    the rest of the population exists and ten at a time: with 10,000 users in moto's pool, 85 of 100
    onboardings started at once failed."""
    sfn, pool = stack.client("stepfunctions"), stack.info["cognito"]["user_pool_id"]
    machine = stack.outputs["OnboardingStateMachineArn"]
    deadline = time.monotonic() + timeout
    for start in range(0, len(users), in_flight):
        for sub, address in users[start:start + in_flight]:
            start_onboarding_execution(sfn, machine, OnboardingInput(user_pool_id=pool, user_name=sub, sub=sub,
                                                                     email=address, email_verified=True))
        if not stack.settle(machine, max(1.0, deadline - time.monotonic())):
            raise TimeoutError(f"the onboardings for missing_profile did not end within {timeout:.0f} s")
    failed = [d for d in (_execution(stack, machine, sub) for sub, _ in users) if d["status"] != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} onboardings did not succeed (first: {failed[0]['name']} "
                           f"{failed[0]['status']} {failed[0].get('error')}: {str(failed[0].get('cause'))[:300]})")
    profiles = stack.client("dynamodb")
    for sub, _ in users:
        profiles.delete_item(TableName=stack.outputs["UserProfilesTableName"], Key={"userId": {"S": sub}})


def _execution(stack: BenchStack, machine: str, name: str) -> dict[str, Any]:
    arn = machine.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    return stack.client("stepfunctions").describe_execution(executionArn=arn)  # type: ignore[no-any-return]


def seed(run: Run) -> Population:
    stack, sizes = run.stack, run.sizes
    tag = uuid.uuid4().hex[:6]
    population = Population(users=sizes.reconcile_users, per_kind=sizes.reconcile_per_kind)
    timed = population.seed_s
    stack.webhook_endpoint(enabled=False)  # customer.created deliveries are not the workload
    try:
        per_kind = sizes.reconcile_per_kind
        # missing_profile first: its onboardings run while the pool is small (see above).
        early = _timed(timed, "cognito_missing_profile")(lambda: _cognito_users(stack, per_kind, f"{tag}p"))
        _timed(timed, "onboardings")(lambda: _onboard_then_drop_profiles(stack, early, sizes.reconcile_budget_s))
        rest = _timed(timed, "cognito")(lambda: _cognito_users(stack, sizes.reconcile_users - per_kind, tag))
        kinds = [k for k in FINDING_KINDS if k != "orphan_records"]
        at = kinds.index("missing_profile") * per_kind
        users = rest[:at] + early + rest[at:]
        assigned = _assign(users, per_kind)
        assert [sub for sub, _ in assigned["missing_profile"]] == [sub for sub, _ in early]
        linked = _timed(timed, "stripe")(lambda: _customers(stack, assigned))
        orphans = [str(uuid.uuid4()) for _ in range(per_kind)]
        records = _records(stack, assigned, linked, orphans)

        def write_tables() -> None:
            for table, items in records.items():
                _batch_write(stack, stack.outputs[table], items)

        _timed(timed, "dynamodb")(write_tables)
    finally:
        stack.webhook_endpoint(enabled=True)
    population.subs = {kind: [sub for sub, _ in users] for kind, users in assigned.items()}
    population.subs["orphan_records"] = orphans
    timed["total"] = round(sum(timed.values()), 2)
    return population


# --- the runs ------------------------------------------------------------------------------------


def reconcile(stack: BenchStack, name: str, *, shards: int, rate: float, fix: list[str],
              timeout: float) -> dict[str, Any]:
    """One run, waited for: its report, its phases' seconds and its history counts."""
    sfn = stack.client("stepfunctions")
    machine = stack.outputs["ReconcileStateMachineArn"]
    body = {"dryRun": False, "fix": fix, "scope": "all", "shards": shards, "stripeRequestsPerSecond": rate}
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(body))["executionArn"]
    deadline = time.monotonic() + timeout
    while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"reconcile run {name} still RUNNING after {timeout:.0f} s")
        time.sleep(0.5)
    if desc["status"] != "SUCCEEDED":
        raise RuntimeError(f"reconcile run {name} {desc['status']}: {desc.get('error')}: {desc.get('cause')}")
    map_runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    map_run = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])
    events = [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
              for e in page["events"]]
    return {
        "report": json.loads(desc["output"]),
        "wall_s": (desc["stopDate"] - desc["startDate"]).total_seconds(),
        "snapshot_s": (map_run["startDate"] - desc["startDate"]).total_seconds(),
        "map_s": (map_run["stopDate"] - map_run["startDate"]).total_seconds(),
        "children": int(map_run["itemCounts"]["total"]),
        "parent_transitions": sum(1 for e in events if e["type"].endswith("StateEntered")),
        "task_ms": _task_durations(events),
        "stored_bytes": _stored_bytes(stack, name),
    }


def _task_durations(events: list[dict[str, Any]]) -> dict[str, float]:
    """Each task's Lambda duration in ms (Scheduled to Succeeded), by state name, following the
    events' ``previousEventId`` (the Parallel branches interleave)."""
    name_of: dict[int, str] = {}
    since: dict[int, tuple[str, Any]] = {}
    durations: dict[str, float] = {}
    for e in events:
        previous = e.get("previousEventId", 0)
        if e["type"] == "TaskStateEntered":
            name_of[e["id"]] = e["stateEnteredEventDetails"]["name"]
        elif e["type"] == "LambdaFunctionScheduled" and previous in name_of:
            since[e["id"]] = (name_of[previous], e["timestamp"])
        elif e["type"] == "LambdaFunctionStarted" and previous in since:
            since[e["id"]] = since[previous]
        elif e["type"] == "LambdaFunctionSucceeded" and previous in since:
            name, started = since[previous]
            durations[name] = durations.get(name, 0.0) + (e["timestamp"] - started).total_seconds() * 1000
    return durations


def _stored_bytes(stack: BenchStack, run_id: str) -> int:
    s3 = stack.client("s3")
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outputs["ReconcileBucketName"],
                                                             Prefix=f"runs/{run_id}/"):
        total += sum(obj["Size"] for obj in page.get("Contents", []))
    return total


def _memory_mb() -> dict[str, int]:
    template = load_template(ROOT / "template.yaml")
    default = int(template.globals_function.get("MemorySize", 128))
    return {name: int(template.resources[name]["Properties"].get("MemorySize", default)) for name in FUNCTIONS}


# --- the projection ------------------------------------------------------------------------------


def projection(clean: dict[str, Any], users: int) -> dict[str, Any]:
    """A daily run over 1,000,000 healthy users at 80 Stripe requests/s, from the clean run's counts.

    Wall time: the snapshot phase is bound by its paced Stripe listing (requests per user x 1M / 80;
    Cognito's ListUsers pages and the table scans run beside it), the Map phase by the compare work,
    the local children's seconds per user spread over MaxConcurrency children. Cost: Step Functions
    transitions (the parent's, one per child), Lambda requests and GB-s (each function's local
    duration per user scaled to 1M, the Stripe snapshot at least its paced time), S3 requests and a
    month of the snapshot's storage, DynamoDB scan reads (eventually consistent, 4 KB units)."""
    scale = TARGET_USERS / users
    prices = pricing.PRICES
    memory = _memory_mb()
    stripe_per_user = clean["report"]["stripeRequests"] / users
    stripe_snapshot_s = stripe_per_user * TARGET_USERS / LIVE_RATE
    snapshot_s = max(stripe_snapshot_s, clean["snapshot_s"] * scale)
    shards = math.ceil(TARGET_USERS / USERS_PER_SHARD_AT_SCALE)
    map_s = clean["map_s"] * scale / MAX_CONCURRENCY
    wall_s = snapshot_s + map_s
    durations_s = {SNAPSHOT_STATES[s]: ms / 1000 * scale for s, ms in clean["task_ms"].items() if s in SNAPSHOT_STATES}
    durations_s["SnapshotStripeFunction"] = max(durations_s.get("SnapshotStripeFunction", 0.0), stripe_snapshot_s)
    durations_s["ReconcileShardFunction"] = clean["map_s"] * scale  # summed over children: upper bound
    durations_s["WriteReportFunction"] = clean["task_ms"].get("WriteReport", 0.0) / 1000
    gb_s = sum(seconds * memory[name] / 1024 for name, seconds in durations_s.items())
    stored_gb = clean["stored_bytes"] * scale / 1e9
    puts, gets = 3 * shards + shards + 2, 3 * shards + shards + 1
    table_bytes = clean["stored_bytes"] * scale / 3  # the tables' shards are about a third of the snapshot
    parts = {
        "step_functions": ((clean["parent_transitions"] + shards)
                           * prices["step_functions_standard_per_state_transition_usd"]),
        "lambda_requests": (3 + shards + 1) * prices["lambda_per_request_usd"],
        "lambda_duration": gb_s * prices["lambda_per_gb_second_usd"]["arm64"],
        "s3_requests": puts * prices["s3_put_per_request_usd"] + gets * prices["s3_get_per_request_usd"],
        "s3_storage_month": stored_gb * prices["s3_standard_per_gb_month_usd"],
        "dynamodb_scan_reads": table_bytes / 4096 * 0.5 * prices["dynamodb_on_demand_per_read_request_unit_usd"],
    }
    parts["total"] = sum(parts.values())
    return {"wall_s": wall_s, "snapshot_s": snapshot_s, "stripe_snapshot_s": stripe_snapshot_s, "map_s": map_s,
            "shards": shards, "stripe_requests": stripe_per_user * TARGET_USERS,
            "cognito_list_users_requests": math.ceil(TARGET_USERS / COGNITO_PAGE), "lambda_gb_s": gb_s,
            "cost_usd": {k: round(v, 4) for k, v in parts.items()}}


# --- the figures ---------------------------------------------------------------------------------


def baseline(run: Run) -> dict[str, Any] | None:
    """What the steps before this one left (in ``make bench`` some 1,000 users of the sign-up,
    event and latency figures, some with real drift: the events step changes customers), repaired
    by a fixing run before the population is seeded, so that the fixing run after the seeding
    finds exactly what was injected. ``None`` when the pool is empty (``--only reconcile``)."""
    stack, sizes = run.stack, run.sizes
    pool = stack.info["cognito"]["user_pool_id"]
    if not stack.client("cognito-idp").list_users(UserPoolId=pool, Limit=1).get("Users"):
        return None
    try:
        stack.wait_quiet(sizes.reconcile_budget_s)  # the earlier steps' executions and webhooks end first
    except TimeoutError as exc:
        run.log(f"baseline: the stack did not go quiet ({exc}); repairing anyway")
    result = reconcile(stack, f"bench-baseline-{uuid.uuid4().hex[:6]}", shards=sizes.reconcile_shards,
                       rate=LIVE_RATE, fix=list(FINDING_KINDS), timeout=sizes.reconcile_budget_s)
    if not stack.settle(stack.outputs["OnboardingStateMachineArn"], sizes.reconcile_budget_s):
        raise TimeoutError("the onboardings the baseline run started did not end")
    run.log(f"baseline: {result['report']['usersScanned']} users there before, findings "
            f"{ {k: v for k, v in result['report']['findings'].items() if v} }, {result['wall_s']:.1f} s")
    return result


def measure(run: Run) -> dict[str, Figure]:
    stack, sizes = run.stack, run.sizes
    before = baseline(run)
    population = seed(run)
    run.log(f"seeded {population.users} users, {population.per_kind} per kind, in {population.seed_s['total']} s "
            f"{population.seed_s}")
    shards = sizes.reconcile_shards
    first = reconcile(stack, f"bench-fix-{uuid.uuid4().hex[:6]}", shards=shards, rate=LIVE_RATE,
                      fix=list(FINDING_KINDS), timeout=sizes.reconcile_budget_s)
    if not stack.settle(stack.outputs["OnboardingStateMachineArn"], sizes.reconcile_budget_s):
        raise TimeoutError("the onboardings the fixing run started did not end")
    clean = reconcile(stack, f"bench-again-{uuid.uuid4().hex[:6]}", shards=shards, rate=LIVE_RATE,
                      fix=list(FINDING_KINDS), timeout=sizes.reconcile_budget_s)
    return figures(population, first, clean, before)


def figures(population: Population, first: dict[str, Any], clean: dict[str, Any],
            before: dict[str, Any] | None = None) -> dict[str, Figure]:
    report, injected = first["report"], population.injected
    mismatched = {k: {"injected": injected[k], "found": report["findings"].get(k, 0)} for k in FINDING_KINDS
                  if report["findings"].get(k, 0) != injected[k]}
    matched = len(FINDING_KINDS) - len(mismatched)
    users = population.users
    scanned = int(clean["report"]["usersScanned"])  # the seeded users and any earlier step's
    second_findings = sum(clean["report"]["findings"].values())
    projected = projection(clean, scanned)
    runs = (("baseline_run", before), ("fixing_run", first), ("second_run", clean))
    run_detail = {name: {"wall_s": round(r["wall_s"], 2), "snapshot_s": round(r["snapshot_s"], 2),
                         "map_s": round(r["map_s"], 2), "shards": r["children"],
                         "stripe_requests": r["report"]["stripeRequests"], "users_scanned": r["report"]["usersScanned"],
                         "findings": r["report"]["findings"], "fixed": r["report"]["fixed"],
                         "refused": r["report"]["refused"], "failed": r["report"]["failed"]}
                  for name, r in runs if r is not None}
    population_note = (f"{users:,} Cognito users (confirmed, verified), {population.per_kind} injected per "
                       f"finding kind ({population.per_kind} orphan subs besides), rate {LIVE_RATE:g}/s")
    return {
        "reconcile_users": value("users", users, population_note, digits=0, per_kind=population.per_kind,
                                 seed_s=population.seed_s),
        "reconcile_seed_s": value("s", population.seed_s["total"], "seeding: Cognito AdminCreateUser + "
                                  f"AdminSetUserPassword ({COGNITO_THREADS} threads), Stripe customer creates "
                                  "(8 threads), DynamoDB BatchWriteItem (4 threads), real onboardings for "
                                  "missing_profile",
                                  digits=1, parts=population.seed_s),
        "reconcile_wall_s": value("s", first["wall_s"], "the fixing run (every kind, orphan_records included): "
                                  "StartExecution to the execution's stop; baseline_run, if any, repaired what "
                                  "earlier steps left before the seeding", digits=1, runs=run_detail),
        "reconcile_findings_match": value("kinds", matched, "finding kinds whose count in the fixing run's report "
                                          "equals the cases injected", target=(">=", len(FINDING_KINDS)), digits=0,
                                          injected=injected, found=report["findings"], mismatched=mismatched),
        "reconcile_second_run_findings": value("findings", second_findings, "findings of a run right after the "
                                               "fixing run (its onboardings waited for)", target=("<=", 0), digits=0,
                                               found=clean["report"]["findings"]),
        "reconcile_stripe_requests_per_1000_users": value(
            "requests/1,000 users", clean["report"]["stripeRequests"] / scanned * 1000,
            "Stripe requests of the second run (a healthy population: the daily steady state) per 1,000 users "
            "it scanned, from the report's stripeRequests and usersScanned", target=("<=", 30), digits=1,
            users_scanned=scanned,
            fixing_run_requests=report["stripeRequests"],
            fixing_run_requests_per_finding=round((report["stripeRequests"] - clean["report"]["stripeRequests"])
                                                  / max(1, sum(report["findings"].values())), 2)),
        "reconcile_projected_wall_min_1m_users": value(
            "min", projected["wall_s"] / 60, "a run over 1,000,000 healthy users at Stripe's live rate (80/s): "
            "snapshot bound by the paced Stripe listing (or the local snapshot scaled, if longer), plus the Map "
            "phase's local seconds per user over MaxConcurrency 4 (see bench/reconcile.py projection)", digits=1,
            detail={k: (round(v, 1) if isinstance(v, float) else v) for k, v in projected.items() if k != "cost_usd"}),
        "reconcile_projected_cost_usd_1m_users": value(
            "USD/run", projected["cost_usd"]["total"], "AWS list prices (us-east-1) of that run: Step Functions, "
            "Lambda, S3, DynamoDB scans; Stripe and Cognito bill nothing per request", digits=4,
            parts=projected["cost_usd"]),
    }
