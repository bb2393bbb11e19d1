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
    by_named_sub,
    cognito_entries,
    customer_entries,
    customer_entry,
    shard_key,
    table_items,
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


class SourceSnapshot(Model):
    source: str
    records: int
    shards: int
    stripe_requests: int = 0


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


def snapshot_cognito(run: RunInput, *, idp: CognitoIdentityProviderClient, user_pool_id: str,
                     store: S3Snapshots, now: float | None = None) -> SourceSnapshot:
    """Every Cognito user (ListUsers pages) into the ``cognito`` shards."""
    from datetime import UTC, datetime

    after = None
    if run.scope == "recent":
        after = datetime.fromtimestamp((now or time.time()) - RECENT_SECONDS, UTC)
    entries = ((e.sub, e.dump()) for e in cognito_entries(idp, user_pool_id, after) if e.sub)
    count = write_shards(store, run.run_id, "cognito", run.shards, entries)
    return SourceSnapshot(source="cognito", records=count, shards=run.shards)


def snapshot_stripe(run: RunInput, *, stripe: StripeGateway, store: S3Snapshots) -> SourceSnapshot:
    """Every Stripe customer and subscription (list endpoints) into the ``stripe`` shards."""
    paced = PacedStripe(stripe, run.stripe_requests_per_second)
    count = write_shards(store, run.run_id, "stripe", run.shards, by_named_sub(customer_entries(paced)))
    return SourceSnapshot(source="stripe", records=count, shards=run.shards, stripe_requests=paced.requests)


def snapshot_tables(run: RunInput, *, tables: dict[str, Table], store: S3Snapshots) -> SourceSnapshot:
    """UserProfiles, Entitlements and EmailClaims (parallel scan segments) into the ``tables`` shards."""
    count = write_shards(store, run.run_id, "tables", run.shards, table_items(tables))
    return SourceSnapshot(source="tables", records=count, shards=run.shards)


# --- compare and repair one shard -----------------------------------------------------------------


def load_shard(store: S3Snapshots, run_id: str, shard: int) -> dict[str, UserSnapshot]:
    users: dict[str, UserSnapshot] = {}

    def user(sub: str) -> UserSnapshot:
        return users.setdefault(sub, UserSnapshot(sub=sub))

    for line in store.lines(shard_key(run_id, "cognito", shard)):
        entry = CognitoEntry.model_validate(line)
        users[entry.sub] = user(entry.sub).model_copy(update={"cognito": entry})
    grouped: dict[str, dict[str, Any]] = defaultdict(lambda: {"claims": [], "customers": []})
    for line in store.lines(shard_key(run_id, "tables", shard)):
        item, table = line["item"], line["table"]
        if table == "profiles":
            grouped[item["userId"]]["profile"] = ProfileRecord.model_validate(item)
        elif table == "entitlements":
            grouped[item["cognito_sub"]]["entitlement"] = EntitlementRecord.model_validate(item)
        else:
            grouped[item["userId"]]["claims"].append(EmailClaim.model_validate(item))
    for line in store.lines(shard_key(run_id, "stripe", shard)):
        customer = CustomerEntry.model_validate(line)
        for sub in customer.named_subs:
            grouped[sub]["customers"].append(customer)
    for sub, parts in grouped.items():
        users[sub] = user(sub).model_copy(update=parts)
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
