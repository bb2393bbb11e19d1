"""The reconcile machine on the local stack: every finding kind injected through boto3 and the
stripe SDK, a dry run that changes nothing, a run that repairs, a run after it that finds nothing;
a run failed mid-Map, redriven, that runs again only its failed child; and a snapshot taken in
many parts (one page a part) that finds and fixes what a snapshot in one part finds, a retried part
counted once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from reconcile_support import KINDS, Reconcile, counts, now_iso
from support import history, wait_until

pytestmark = pytest.mark.usefixtures("clean_faults")
SHARD_FUNCTION = "ReconcileShardFunction"


@pytest.fixture
def rec(stack: Any) -> Reconcile:
    return Reconcile(stack)


def _shard_invocations(stack: Any) -> int:
    name = stack.info["resources"][SHARD_FUNCTION]["name"]
    return int(stack.admin.invocation_counts().get(name, 0))


def test_a_run_failed_mid_map_is_redriven_and_runs_only_its_failed_child(stack: Any, rec: Reconcile) -> None:
    rec.onboarded_users(2, "redrive")
    before = _shard_invocations(stack)
    stack.admin.add_fault({"service": "lambda", "function": SHARD_FUNCTION, "error": "InjectedFault", "count": 1})
    arn = rec.start(dry_run=True)
    failed = rec.finished(arn)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.ExceededToleratedFailureThreshold"
    assert _shard_invocations(stack) - before == rec.shards
    events = history(rec.sfn, arn)
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == ["MapRunStarted", "MapRunFailed"]
    map_run = rec.map_run(arn)
    assert map_run["status"] == "FAILED"
    assert map_run["itemCounts"]["total"] == rec.shards
    assert map_run["itemCounts"]["failed"] == 1
    assert map_run["itemCounts"]["succeeded"] == rec.shards - 1
    assert map_run["redriveCount"] == 0
    assert rec.sfn.describe_execution(executionArn=arn)["redriveStatus"] == "REDRIVABLE"

    rec.sfn.redrive_execution(executionArn=arn)
    done = rec.finished(arn)

    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert done["redriveCount"] == 1
    assert _shard_invocations(stack) - before == rec.shards + 1  # the failed child alone ran again
    again = rec.map_run(arn)  # the same Map Run (ListMapRuns lists one), redriven once
    assert again["mapRunArn"] == map_run["mapRunArn"]
    assert again["status"] == "SUCCEEDED" and again["redriveCount"] == 1 and "redriveDate" in again
    assert again["itemCounts"]["succeeded"] == rec.shards and again["itemCounts"]["failed"] == 0
    assert again["itemCounts"]["resultsWritten"] == rec.shards
    children = rec.sfn.list_executions(mapRunArn=map_run["mapRunArn"])["executions"]
    assert sorted(c.get("redriveCount", 0) for c in children) == [0] * (rec.shards - 1) + [1]
    events = history(rec.sfn, arn)
    kinds = [e["type"] for e in events]
    assert kinds.count("ExecutionRedriven") == 1 and kinds.count("MapRunRedriven") == 1
    assert kinds[-1] == "ExecutionSucceeded"
    report = json.loads(done["output"])  # every shard's result reached the report, the kept ones too
    assert report["shardsFailed"] == 0
    assert report["usersScanned"] >= 2
    assert report["fixed"] == counts()


def _inject_every_kind(stack: Any, rec: Reconcile) -> dict[str, Any]:
    """Users broken in every way the reconcile knows, through boto3 and the stripe SDK (and the
    local stack's fault API for the failed onboarding); answers what the assertions need."""
    subs = rec.onboarded_users(11, "reconcile")
    names = ("profile", "ent_absent", "ent_no_email", "unlinked", "legacy", "no_customer", "dup_empty", "dup_paid",
             "metadata", "drift", "email")
    u = dict(zip(names, subs, strict=True))
    customer = {name: rec.profile(sub)["stripeCustomerId"] for name, sub in u.items()}  # type: ignore[index]
    emails = {name: rec.profile(sub)["email"] for name, sub in u.items()}  # type: ignore[index]

    rec.delete("profiles", {"userId": u["profile"]})
    rec.delete("entitlements", {"cognito_sub": u["ent_absent"]})
    rec.update("entitlements", {"cognito_sub": u["ent_no_email"]}, "REMOVE email")
    rec.update("profiles", {"userId": u["unlinked"]}, "REMOVE stripeCustomerId")
    rec.update("profiles", {"userId": u["legacy"]}, "REMOVE stripeCustomerId")
    rec.stripe.v1.customers.update(customer["legacy"], params={"metadata": {"cognito_sub": "", "user_pool_id": ""}})
    rec.update("profiles", {"userId": u["no_customer"]}, "REMOVE stripeCustomerId")
    rec.stripe.v1.customers.delete(customer["no_customer"])
    duplicate = rec.stripe.v1.customers.create(params={"email": emails["dup_empty"],
                                                       "metadata": {"cognito_sub": u["dup_empty"]}}).id
    paid_duplicate = rec.subscribed_customer(u["dup_paid"])
    rec.stripe.v1.customers.update(customer["metadata"], params={"metadata": {"user_pool_id": ""}})
    rec.update("entitlements", {"cognito_sub": u["drift"]}, "SET #s = :s, #p = :p",
               {":s": {"S": "active"}, ":p": {"S": "pro"}}, {"#s": "status", "#p": "plan"})
    new_email = f"moved.{emails['email']}"
    rec.idp.admin_update_user_attributes(UserPoolId=rec.pool, Username=u["email"], UserAttributes=[
        {"Name": "email", "Value": new_email}, {"Name": "email_verified", "Value": "true"}])

    never_started, _ = rec.confirmed_without_onboarding()
    failed_sub, failed_email = rec.confirmed_without_onboarding()
    stack.admin.add_fault({"service": "lambda", "function": "CheckDuplicateEmailFunction", "error": "InjectedFault",
                           "count": 1})
    rec.sfn.start_execution(stateMachineArn=rec.onboarding_arn, name=failed_sub, input=json.dumps({
        "userPoolId": rec.pool, "userName": failed_email, "sub": failed_sub, "email": failed_email,
        "emailVerified": True, "providers": ["Cognito"]}))
    assert rec.onboarding(failed_sub)["status"] == "FAILED"

    orphan = str(uuid.uuid4())
    now = now_iso()
    rec.ddb.put_item(TableName=rec.tables["profiles"], Item={
        "userId": {"S": orphan}, "email": {"S": f"orphan.{orphan[:8]}@example.com"},
        "providers": {"L": [{"S": "Cognito"}]}, "createdAt": {"S": now}, "updatedAt": {"S": now}})
    rec.ddb.put_item(TableName=rec.tables["entitlements"], Item={
        "cognito_sub": {"S": orphan}, "email": {"S": f"orphan.{orphan[:8]}@example.com"}, "status": {"S": "none"},
        "updatedAt": {"S": now}})
    _settle_webhooks(stack)
    return {"u": u, "customer": customer, "emails": emails, "duplicate": duplicate, "paid_duplicate": paid_duplicate,
            "new_email": new_email, "never_started": never_started, "failed_onboarding": failed_sub,
            "orphan": orphan}


INJECTED = counts(missing_onboarding=2, missing_profile=1, missing_entitlement=2, unlinked_customer=2,
                  missing_customer=1, duplicate_customers=2, customer_metadata=1, entitlement_drift=1,
                  email_drift=1, orphan_records=1)


def _settle_webhooks(stack: Any) -> None:
    """The paid duplicate's subscription sends webhooks: let the events machine finish with them."""
    sfn = stack.client("stepfunctions")
    machine = stack.info["outputs"]["SubscriptionEventsStateMachineArn"]
    stack.admin.wait_for_webhooks(20)
    wait_until(lambda: not sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"],
               timeout=30, what="subscription events executions to finish")


def _stores(rec: Reconcile, case: dict[str, Any]) -> dict[str, Any]:
    subs = [*case["u"].values(), case["never_started"], case["failed_onboarding"], case["orphan"]]
    return {sub: (rec.profile(sub), rec.entitlement(sub), sorted(c.id for c in rec.customers_of(sub)))
            for sub in subs}


def _plus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a}


def test_every_finding_kind_is_found_repaired_and_gone_on_the_next_run(stack: Any, rec: Reconcile) -> None:
    rec.run(fix=list(KINDS))  # repair what earlier tests of the session left, so counts are exact
    residual = rec.run(dry_run=True)["findings"]  # what no fix can repair (refused), if any
    case = _inject_every_kind(stack, rec)
    u, customer = case["u"], case["customer"]
    before = _stores(rec, case)

    dry = rec.run(dry_run=True)
    assert dry["findings"] == _plus(residual, INJECTED)
    assert dry["fixed"] == counts() and dry["refused"] == counts() and dry["failed"] == counts()
    assert _stores(rec, case) == before, "a dry run changed a store"

    report = rec.run_cli(fix=list(KINDS))  # linkflow reconcile run --wait, as an operator runs it
    assert report["status"] == "SUCCEEDED" and report["users_scanned"] >= len(u)
    assert report["findings"] == _plus(residual, INJECTED)
    assert report["fixed"] == _plus(INJECTED, counts(duplicate_customers=-1))
    assert report["refused"] == _plus(residual, counts(duplicate_customers=1))
    assert report["failed"] == counts()
    assert any(r["sub"] == u["dup_paid"] and "billing history" in r["reason"] for r in report["refusals"])

    for sub in (case["never_started"], case["failed_onboarding"]):  # started, or redriven, and done
        onboarding = rec.onboarding(sub)
        assert onboarding["status"] == "SUCCEEDED"
        assert (rec.profile(sub) or {}).get("stripeCustomerId")
    assert rec.onboarding(case["failed_onboarding"]).get("redriveCount") == 1
    assert rec.profile(u["profile"])["stripeCustomerId"] == customer["profile"]  # type: ignore[index]
    for name in ("ent_absent", "ent_no_email"):
        entitlement = rec.entitlement(u[name])
        assert entitlement is not None and entitlement["email"] == case["emails"][name]
        assert entitlement["status"] == "none"
    for name in ("unlinked", "legacy"):
        assert rec.profile(u[name])["stripeCustomerId"] == customer[name]  # type: ignore[index]
    legacy = rec.customer(customer["legacy"]).metadata
    assert legacy["cognito_sub"] == legacy["cognito_user_id"] == u["legacy"] and legacy["user_pool_id"] == rec.pool
    relinked = rec.profile(u["no_customer"])["stripeCustomerId"]  # type: ignore[index]
    assert relinked != customer["no_customer"] and not getattr(rec.customer(relinked), "deleted", False)
    assert rec.customer(relinked).metadata["cognito_sub"] == u["no_customer"]
    assert getattr(rec.customer(case["duplicate"]), "deleted", False) is True
    assert [c.id for c in rec.customers_of(u["dup_empty"])] == [customer["dup_empty"]]
    assert sorted(c.id for c in rec.customers_of(u["dup_paid"])) == sorted([customer["dup_paid"],
                                                                            case["paid_duplicate"]])
    assert rec.customer(customer["metadata"]).metadata["user_pool_id"] == rec.pool
    assert rec.entitlement(u["drift"])["status"] == "none"  # type: ignore[index]
    new_email = case["new_email"]
    assert rec.profile(u["email"])["email"] == new_email  # type: ignore[index]
    assert rec.entitlement(u["email"])["email"] == new_email  # type: ignore[index]
    assert rec.claim(new_email)["userId"] == u["email"]  # type: ignore[index]
    assert rec.claim(case["emails"]["email"]) is None
    assert rec.customer(customer["email"]).email == new_email
    assert rec.profile(case["orphan"]) is None and rec.entitlement(case["orphan"]) is None

    again = rec.run()
    # Only what was refused is found again: a duplicate with billing history is never deleted.
    assert again["findings"] == _plus(residual, counts(duplicate_customers=1))
    assert again["fixed"] == counts()


def _start_in_parts(rec: Reconcile, *, dry_run: bool = False, fix: list[str] | None = None) -> str:
    """A run whose snapshot reads one page a part, pages of 2 users or items (Stripe's stay 100)."""
    name = f"parts-{uuid.uuid4().hex[:12]}"
    payload = {"dryRun": dry_run, "fix": fix or [], "scope": "all", "shards": rec.shards,
               "stripeRequestsPerSecond": 50, "snapshotMaxPages": 1, "snapshotPageSize": 2}
    return str(rec.sfn.start_execution(stateMachineArn=rec.machine_arn, name=name,
                                       input=json.dumps(payload))["executionArn"])


def _run_in_parts(rec: Reconcile, *, dry_run: bool = False, fix: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    arn = _start_in_parts(rec, dry_run=dry_run, fix=fix)
    desc = rec.finished(arn)
    assert desc["status"] == "SUCCEEDED", desc
    rec.settle()
    return arn, json.loads(desc["output"])


def _parts(rec: Reconcile, arn: str) -> dict[str, int]:
    """How many parts each source wrote (S3), checked against the snapshot tasks the history entered."""
    run_id = arn.rsplit(":", 1)[1]
    keys = [o["Key"] for page in rec.s3.get_paginator("list_objects_v2").paginate(
        Bucket=rec.bucket, Prefix=f"runs/{run_id}/") for o in page.get("Contents", [])]
    parts = {source: len({k.split("/")[3] for k in keys if k.split("/")[2] == source})
             for source in ("cognito", "stripe", "tables")}
    for source in parts:  # every part wrote every shard
        assert sum(1 for k in keys if k.split("/")[2] == source) == parts[source] * rec.shards
    entered = [e["stateEnteredEventDetails"]["name"] for e in history(rec.sfn, arn) if e["type"] == "TaskStateEntered"]
    assert {source: entered.count(f"Snapshot{source.title()}") for source in parts} == parts
    return parts


def test_a_snapshot_in_many_parts_finds_and_fixes_what_one_part_finds(stack: Any, rec: Reconcile) -> None:
    rec.run(fix=list(KINDS))  # repair what earlier tests of the session left, so counts are exact
    residual = rec.run(dry_run=True)["findings"]
    _inject_every_kind(stack, rec)

    single = rec.run(dry_run=True)
    arn, parted = _run_in_parts(rec, dry_run=True)
    parts = _parts(rec, arn)
    assert parts["cognito"] > 2 and parts["tables"] > 2 and parts["stripe"] >= 2, parts
    assert parted["findings"] == single["findings"] == _plus(residual, INJECTED)
    assert parted["usersScanned"] == single["usersScanned"]

    arn, fixed = _run_in_parts(rec, fix=list(KINDS))
    assert _parts(rec, arn)["cognito"] == parts["cognito"]
    assert fixed["status"] == "SUCCEEDED"
    assert fixed["findings"] == single["findings"]
    assert fixed["fixed"] == _plus(INJECTED, counts(duplicate_customers=-1))
    assert fixed["refused"] == _plus(residual, counts(duplicate_customers=1))
    assert fixed["failed"] == counts()
    again = rec.run(dry_run=True)
    assert again["findings"] == _plus(residual, counts(duplicate_customers=1))


def test_a_retried_snapshot_part_is_counted_once(stack: Any, rec: Reconcile) -> None:
    rec.onboarded_users(3, "retry")
    single = rec.run(dry_run=True)
    stack.admin.add_fault({"service": "dynamodb", "operation": "Scan", "count": 1, "status": 400,
                           "error": "ProvisionedThroughputExceededException"})
    arn, parted = _run_in_parts(rec, dry_run=True)
    failed = [e for e in history(rec.sfn, arn) if e["type"] == "LambdaFunctionFailed"]
    assert len(failed) == 1 and "DynamoDBThrottled" in json.dumps(failed[0], default=str)
    parts = _parts(rec, arn)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history(rec.sfn, arn) if e["type"] == "TaskStateEntered"]
    scheduled = [e for e in history(rec.sfn, arn) if e["type"] == "LambdaFunctionScheduled"]
    assert len(scheduled) == len(entered) + 1  # the retry: one more invocation of a Task entered once
    assert parts["tables"] > 2
    assert parted["usersScanned"] == single["usersScanned"]
    assert parted["findings"] == single["findings"]


def test_schedules_are_provisioned_and_fire_only_when_asked(stack: Any, rec: Reconcile) -> None:
    from typer.testing import CliRunner

    from linkflow.cli import app

    sweep = stack.info["resources"]["ReconcileSweepSchedule"]
    assert sweep["type"] == "AWS::Scheduler::Schedule" and sweep["expression"] == "rate(15 minutes)"
    assert sweep["target"]["arn"] == rec.machine_arn
    assert json.loads(sweep["target"]["input"])["scope"] == "recent"
    listed = {s["logical_id"]: s for s in stack.admin.schedules()}
    assert set(listed) == {"ReconcileDailySchedule", "ReconcileSweepSchedule"}
    assert not any(s["fires_on_its_own"] for s in listed.values())  # the stack runs without --schedules

    cli = CliRunner().invoke(app, ["local", "schedule", "fire", "ReconcileSweepSchedule",
                                   "--state-dir", str(stack.config.state_dir)])
    assert cli.exit_code == 0, cli.output
    fired = json.loads(cli.stdout)
    assert fired["schedule"] == sweep["name"]
    done = rec.finished(fired["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["input"]) == json.loads(sweep["target"]["input"])
    rec.settle()
    by_name = stack.admin.fire_schedule(sweep["name"])  # its name works as well as its logical id
    assert rec.finished(by_name["executionArn"])["status"] == "SUCCEEDED"
    rec.settle()

    unknown = CliRunner().invoke(app, ["local", "schedule", "fire", "NoSuchSchedule",
                                       "--state-dir", str(stack.config.state_dir)])
    assert unknown.exit_code == 1 and "NoSuchSchedule" in unknown.output


def test_a_scheduler_started_with_schedules_fires_at_the_time() -> None:
    """What ``linkflow local up --schedules`` runs: a schedule fires on its own at its time."""
    import datetime

    from linkflow.local.schedules import Schedule, Scheduler

    started: list[dict[str, Any]] = []
    at = (datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    scheduler = Scheduler([Schedule(logical_id="Soon", name="soon", arn="arn:aws:scheduler:::schedule/default/soon",
                                    expression=f"at({at})", target_arn=machine, input='{"a": 1}')],
                          lambda **kwargs: started.append(kwargs) or {"executionArn": "arn:x"})
    scheduler.start()
    try:
        wait_until(lambda: started, timeout=10, what="the schedule to fire")
    finally:
        scheduler.stop()
    assert [(s["stateMachineArn"], s["input"]) for s in started] == [(machine, '{"a": 1}')]
    assert scheduler.fired[0]["why"] == "fired on schedule"
