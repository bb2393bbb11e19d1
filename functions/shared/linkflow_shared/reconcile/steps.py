"""The reconcile state machine's steps: three snapshot steps (run in parallel), the per-shard
compare-and-repair (the Distributed Map's child) and the report.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import StripeNotFound
from ..gateways.snapshots import S3Snapshots
from ..gateways.stripe import JSON, StripeGateway
from ..models import Model, NonBlank
from ..stores import EmailClaim, EntitlementRecord, ProfileRecord, Table
from .compare import find
from .models import FINDING_KINDS, CognitoEntry, CustomerEntry, FindingKind, ShardReport, UserSnapshot
from .repair import Repairer
from .snapshot import (
    SCAN_PAGE,
    Budget,
    cognito_part,
    customer_entry,
    shard_parts,
    stripe_part,
    tables_part,
    write_shards,
)

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_stepfunctions import SFNClient

RECENT_SECONDS = 3600


class RunInput(Model):
    """What every reconcile step is given: the run (the execution's name) and its options."""

    run_id: NonBlank
    dry_run: bool = False
    fix: list[FindingKind] = Field(default_factory=list)  # empty: every kind but orphan_records
    scope: str = "all"  # "recent": only users created in the last hour (the 15-minute sweep)
    shards: int = 16
    stripe_requests_per_second: float = 5.0  # per Map child: the run's rate / MaxConcurrency
    snapshot_max_pages: int = 0  # pages a snapshot cursor reads per invocation (0: as the time budget allows)
    snapshot_page_size: int = 0  # ListUsers and Scan page size (0: 60 and 500); Stripe's pages are 100


class SourceSnapshot(Model):
    """A snapshot step's answer, and its continuation when given back: ``records`` and
    ``stripe_requests`` count every part so far, ``parts`` the parts written, ``next`` where the
    next part starts (``None`` once ``done``)."""

    source: str
    records: int
    shards: int
    stripe_requests: int = 0
    parts: int = 1
    done: bool = True
    next: Any = None


class SnapshotInput(RunInput):
    """A snapshot step's input: the run, and the previous part's answer after the first part."""

    snapshot: SourceSnapshot | None = None

    @property
    def part(self) -> int:
        return self.snapshot.parts if self.snapshot else 0

    def carried(self, source: str, records: int, following: Any, stripe_requests: int = 0) -> SourceSnapshot:
        """The answer after this part: counts added to the previous parts'."""
        before = self.snapshot
        return SourceSnapshot(
            source=source, shards=self.shards, records=records + (before.records if before else 0),
            stripe_requests=stripe_requests + (before.stripe_requests if before else 0),
            parts=self.part + 1, done=following is None, next=following,
        )


class ShardInput(RunInput):
    """A Map item: one Cognito shard's S3 key (the other sources' keys follow from it)."""

    key: str

    @property
    def shard(self) -> int:
        return int(self.key.rsplit("shard-", 1)[1].split(".")[0])


class ShardBatch(BaseModel):
    """What the Map's ItemBatcher hands a child: the shard objects and the run's options."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    items: list[dict[str, Any]] = Field(alias="Items")
    batch_input: RunInput = Field(alias="BatchInput")

    def shards(self) -> list[ShardInput]:
        return [ShardInput(**self.batch_input.model_dump(), key=str(item["Key"])) for item in self.items]


class ReportInput(RunInput):
    execution_arn: str | None = None
    map: dict[str, Any] = Field(default_factory=dict)
    snapshot: list[SourceSnapshot] = Field(default_factory=list)


class Report(Model):
    execution_arn: str | None = None
    run_id: str
    status: str
    dry_run: bool
    users_scanned: int
    findings: dict[str, int]
    fixed: dict[str, int]
    refused: dict[str, int]
    failed: dict[str, int]
    refusals: list[dict[str, Any]]
    stripe_requests: int
    shards_failed: int = 0


# --- Stripe, counted and paced --------------------------------------------------------------------


class PacedStripe:
    """A :class:`StripeGateway` that counts its requests and keeps under ``per_second`` (a token
    bucket of one second's burst); 429s still come back as ``StripeUnavailable`` and are retried."""

    def __init__(self, inner: StripeGateway, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._inner, self._rate, self._clock, self._sleep = inner, max(per_second, 0.1), clock, sleep
        self._tokens, self._at = self._rate, clock()
        self._lock = threading.Lock()
        self.requests = 0

    def _take(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                self._sleep((1 - self._tokens) / self._rate)
                self._tokens, self._at = 1.0, self._clock()
            self._tokens -= 1
            self.requests += 1

    def take(self) -> None:
        """One request's token (waiting for it if need be), counted."""
        self._take()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        if name == "list_all":
            return self._paced_pages(attribute)

        def paced(*args: Any, **kwargs: Any) -> Any:
            self._take()
            return attribute(*args, **kwargs)

        return paced

    def _paced_pages(self, list_all: Callable[..., Iterator[JSON]]) -> Callable[..., Iterator[JSON]]:
        def pages(resource: str, params: dict[str, Any]) -> Iterator[JSON]:
            self._take()
            for count, row in enumerate(list_all(resource, params), start=1):
                if count % 100 == 0:
                    self._take()  # each further page is a request
                yield row

        return pages


# --- the snapshot steps ---------------------------------------------------------------------------


def _budget(run: SnapshotInput, budget: Budget | None) -> Budget:
    return budget if budget is not None else Budget.from_env(max_pages=run.snapshot_max_pages)


def snapshot_cognito(run: SnapshotInput, *, idp: CognitoIdentityProviderClient, user_pool_id: str,
                     store: S3Snapshots, now: float | None = None, budget: Budget | None = None) -> SourceSnapshot:
    """One part of the Cognito users (ListUsers pages, from the previous part's token) into the
    ``cognito`` shards. The recent scope's cut is taken from ``now`` at each part (an hour)."""
    from datetime import UTC, datetime

    after = None
    if run.scope == "recent":
        after = datetime.fromtimestamp((now or time.time()) - RECENT_SECONDS, UTC)
    token = run.snapshot.next.get("token") if run.snapshot and isinstance(run.snapshot.next, dict) else None
    entries, following = cognito_part(idp, user_pool_id, _budget(run, budget), token, after,
                                      limit=run.snapshot_page_size)
    count = write_shards(store, run.run_id, "cognito", run.shards, ((e.sub, e.dump()) for e in entries if e.sub),
                         part=run.part)
    return run.carried("cognito", count, None if following is None else {"token": following})


def snapshot_stripe(run: SnapshotInput, *, stripe: StripeGateway, store: S3Snapshots,
                    budget: Budget | None = None) -> SourceSnapshot:
    """One part of the Stripe subscriptions, then customers (list endpoints, from the previous
    part's cursor) into the ``stripe`` shards, paced and counted."""
    paced = PacedStripe(stripe, run.stripe_requests_per_second)
    at = run.snapshot.next if run.snapshot and isinstance(run.snapshot.next, dict) else {}
    keyed, following = stripe_part(stripe, _budget(run, budget), paced.take, **at)
    count = write_shards(store, run.run_id, "stripe", run.shards, keyed, part=run.part)
    return run.carried("stripe", count, following, stripe_requests=paced.requests)


def snapshot_tables(run: SnapshotInput, *, tables: dict[str, Table], store: S3Snapshots,
                    budget: Budget | None = None) -> SourceSnapshot:
    """One part of UserProfiles, Entitlements and EmailClaims (parallel scan segments, each from
    its LastEvaluatedKey) into the ``tables`` shards."""
    positions = run.snapshot.next if run.snapshot and isinstance(run.snapshot.next, dict) else None
    keyed, following = tables_part(tables, _budget(run, budget), positions,
                                   page_size=run.snapshot_page_size or SCAN_PAGE)
    count = write_shards(store, run.run_id, "tables", run.shards, keyed, part=run.part)
    return run.carried("tables", count, following)


# --- compare and repair one shard -----------------------------------------------------------------


def _lines(store: S3Snapshots, run_id: str, source: str, shard: int) -> Iterator[dict[str, Any]]:
    """Every line of every part of one shard of ``source``, in part order."""
    for key in shard_parts(store, run_id, source, shard):
        yield from store.lines(key)


def load_shard(store: S3Snapshots, run_id: str, shard: int) -> dict[str, UserSnapshot]:
    """Every user of one shard, from every part of the three sources; an id met twice (a part
    read twice) counts once: a sub's Cognito user, a claim's email, a customer, a subscription."""
    users: dict[str, UserSnapshot] = {}

    def user(sub: str) -> UserSnapshot:
        return users.setdefault(sub, UserSnapshot(sub=sub))

    for line in _lines(store, run_id, "cognito", shard):
        entry = CognitoEntry.model_validate(line)
        users[entry.sub] = user(entry.sub).model_copy(update={"cognito": entry})
    grouped: dict[str, dict[str, Any]] = defaultdict(lambda: {"claims": {}, "customers": {}})
    for line in _lines(store, run_id, "tables", shard):
        item, table = line["item"], line["table"]
        if table == "profiles":
            grouped[item["userId"]]["profile"] = ProfileRecord.model_validate(item)
        elif table == "entitlements":
            grouped[item["cognito_sub"]]["entitlement"] = EntitlementRecord.model_validate(item)
        else:
            grouped[item["userId"]]["claims"].setdefault(str(item.get("email")), EmailClaim.model_validate(item))
    subscriptions: dict[str, dict[str, JSON]] = defaultdict(dict)
    for line in _lines(store, run_id, "stripe", shard):
        if "subscription" in line:
            subscription = line["subscription"]
            subscriptions[str(line["customer"])].setdefault(str(subscription.get("id")), subscription)
            continue
        customer = CustomerEntry.model_validate(line)
        for sub in customer.named_subs:
            grouped[sub]["customers"].setdefault(customer.id, customer)
    for sub, found in grouped.items():
        customers = [c.model_copy(update={"subscriptions": list(subscriptions.get(c.id, {}).values())})
                     for c in found["customers"].values()]
        users[sub] = user(sub).model_copy(update={**found, "claims": list(found["claims"].values()),
                                                  "customers": customers})
    return users


def _linked_customer(user: UserSnapshot, stripe: StripeGateway) -> UserSnapshot:
    """A profile may link a customer whose metadata names nobody (it was not in the shard): read it."""
    linked = user.profile.stripe_customer_id if user.profile else None
    if not linked or any(c.id == linked for c in user.customers):
        return user
    try:
        customer = stripe.retrieve_customer(linked)
    except StripeNotFound:
        return user
    subscriptions = [] if customer.get("deleted") else stripe.list_subscriptions(linked)
    return user.model_copy(update={"customers": [*user.customers, customer_entry(customer, subscriptions)]})


def reconcile_shard(batch: ShardBatch, *, store: S3Snapshots, stripe: StripeGateway, sfn: SFNClient,
                    repairer: Callable[[StripeGateway], Repairer]) -> ShardReport:
    """The Map child: every shard of its batch (one, as the machine batches), counts added up."""
    reports = [reconcile_one_shard(item, store=store, stripe=stripe, sfn=sfn, repairer=repairer)
               for item in batch.shards()]
    merged = ShardReport(shard=",".join(r.shard for r in reports))
    for field in ("findings", "fixed", "refused", "failed"):
        counter: Counter[str] = Counter()
        for report in reports:
            counter.update(getattr(report, field))
        merged = merged.model_copy(update={field: dict(counter)})
    return merged.model_copy(update={
        "users_scanned": sum(r.users_scanned for r in reports),
        "stripe_requests": sum(r.stripe_requests for r in reports),
        "refusals": [o for r in reports for o in r.refusals],
    })


def reconcile_one_shard(item: ShardInput, *, store: S3Snapshots, stripe: StripeGateway, sfn: SFNClient,
                        repairer: Callable[[StripeGateway], Repairer]) -> ShardReport:
    """Compare every user of the shard and apply the fixes the run asked for."""
    paced = PacedStripe(stripe, item.stripe_requests_per_second)
    fixer = repairer(paced)
    report = ShardReport(shard=item.key)
    findings: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = {"fixed": Counter(), "refused": Counter(), "failed": Counter()}
    users = load_shard(store, item.run_id, item.shard)
    for sub in sorted(users):
        user = _linked_customer(users[sub], paced)
        status = _onboarding_status(sfn, fixer.onboarding_state_machine_arn, sub) if user.profile is None else None
        for finding in find(user, onboarding_status=status):
            findings[finding.kind] += 1
            outcome = fixer.fix(finding, user)
            if outcome.status in outcomes:
                outcomes[outcome.status][finding.kind] += 1
            if outcome.status in ("refused", "failed"):
                report.refusals.append(outcome)
    return report.model_copy(update={
        "users_scanned": sum(1 for u in users.values() if u.cognito is not None),
        "findings": dict(findings), "fixed": dict(outcomes["fixed"]), "refused": dict(outcomes["refused"]),
        "failed": dict(outcomes["failed"]), "stripe_requests": paced.requests,
    })


def _onboarding_status(sfn: SFNClient, machine_arn: str, sub: str) -> str | None:
    arn = machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{sub}"
    try:
        return sfn.describe_execution(executionArn=arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


# --- the report -----------------------------------------------------------------------------------


def shard_reports(store: S3Snapshots, manifest_key: str) -> tuple[list[ShardReport], int]:
    """The Map children's reports from the ResultWriter's manifest, and how many children failed."""
    manifest = store.get_json(manifest_key)
    files = manifest.get("ResultFiles") or {}
    reports: list[ShardReport] = []
    for entry in files.get("SUCCEEDED", []):
        for child in store.get_json(entry["Key"]):
            output = child.get("Output")
            reports.append(ShardReport.model_validate(json.loads(output) if isinstance(output, str) else output))
    failed = 0
    for entry in files.get("FAILED", []) + files.get("PENDING", []):
        failed += len(store.get_json(entry["Key"]))
    return reports, failed


def write_report(run: ReportInput, *, store: S3Snapshots) -> Report:
    """Counts by finding kind, fixes applied, refused (and why), failed; written to S3 and returned."""
    details = run.map.get("ResultWriterDetails") or {}
    reports, shards_failed = shard_reports(store, str(details["Key"])) if details.get("Key") else ([], 0)
    snapshot_stripe_requests = sum(s.stripe_requests for s in run.snapshot)
    execution_arn = run.execution_arn
    def total(field: str) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for shard in reports:
            counter.update(getattr(shard, field))
        return {kind: counter.get(kind, 0) for kind in FINDING_KINDS}

    failed = total("failed")
    report = Report(
        execution_arn=execution_arn, run_id=run.run_id, dry_run=run.dry_run,
        status="FAILED" if shards_failed or any(failed.values()) else "SUCCEEDED",
        users_scanned=sum(s.users_scanned for s in reports),
        findings=total("findings"), fixed=total("fixed"), refused=total("refused"), failed=failed,
        refusals=[r.dump() for s in reports for r in s.refusals][:500],
        stripe_requests=snapshot_stripe_requests + sum(s.stripe_requests for s in reports),
        shards_failed=shards_failed,
    )
    store.put_json(f"runs/{run.run_id}/report.json", report.dump())
    return report
