"""The snapshot: every system read with list calls (never one call per user), written to S3 as
JSONL shards keyed by sub, so that one Map child compares one shard.

A source is read in **parts**: one invocation reads pages until its time budget is nearly spent
(:class:`Budget`), writes what it read as part ``P`` and answers where to go on from (a Cognito
pagination token, a Stripe ``starting_after`` cursor, each Scan segment's LastEvaluatedKey); the
machine calls it again with that continuation until it is done. Layout under ``runs/<run id>/``:
``<source>/part-PPPP/shard-NNNN.jsonl``; ``cognito/...`` one :class:`CognitoEntry` a line,
``stripe/...`` one :class:`CustomerEntry` (without subscriptions) or one ``{"subscription": ...,
"customer": id}`` a line, in the shard of every sub the customer's metadata names, ``tables/...``
``{"table": ..., "item": ...}`` a line. Every part writes every shard, empty or not: the Map's
ItemReader lists ``cognito/part-0000/``, exactly ``shards`` items. A part's number comes with its
input, so a retried invocation rewrites the same files (the reader also drops repeated ids).
Stripe requests: products, subscriptions (``status=all``, prices and customers expanded) and
customers, 100 per page: about 2 per 100 users, against at least one per user for lookups.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..errors import CognitoUnavailable, cognito_errors
from ..gateways.snapshots import S3Snapshots
from ..gateways.stripe import JSON, PAGE_SIZE, StripeGateway
from ..stores import Item, Table
from .models import CognitoEntry, CustomerEntry

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

SOURCES = ("cognito", "stripe", "tables")
SUBSCRIPTION_EXPAND = ["data.items.data.price"]  # four levels at most, counting data (Stripe's rule)


def shard_of(sub: str, shards: int) -> int:
    return int(hashlib.sha256(sub.encode()).hexdigest()[:8], 16) % shards


def shard_key(run_id: str, source: str, shard: int, part: int = 0) -> str:
    return f"{source_prefix(run_id, source)}part-{part:04d}/shard-{shard:04d}.jsonl"


def source_prefix(run_id: str, source: str) -> str:
    return f"runs/{run_id}/{source}/"


def shard_parts(store: S3Snapshots, run_id: str, source: str, shard: int) -> list[str]:
    """The keys of every part of one shard of ``source``, in part order."""
    suffix = f"/shard-{shard:04d}.jsonl"
    return sorted(k for k in store.keys(source_prefix(run_id, source)) if k.endswith(suffix))


def write_shards(store: S3Snapshots, run_id: str, source: str, shards: int,
                 keyed: Iterable[tuple[str, dict[str, Any]]], part: int = 0) -> int:
    """Write ``(sub, record)`` pairs into the shards of ``part`` (every shard written, so that a
    retried part replaces all its files); answers the count."""
    buckets: dict[int, list[dict[str, Any]]] = defaultdict(list)
    count = 0
    for sub, record in keyed:
        buckets[shard_of(sub, shards)].append(record)
        count += 1
    for shard in range(shards):
        store.put_lines(shard_key(run_id, source, shard, part), buckets.get(shard, []))
    return count


# --- the budget of one invocation -----------------------------------------------------------------

MARGIN_SECONDS = 60.0  # no page is started with less than this left (SNAPSHOT_MARGIN_SECONDS)
TIME_BUDGET_SECONDS = 900.0  # the function's timeout (SNAPSHOT_TIME_BUDGET_SECONDS)


@dataclass
class Budget:
    """When an invocation stops starting pages: ``deadline`` (a ``clock`` reading: the time budget
    less the margin), ``max_pages`` pages read by one cursor or ``max_records`` records held by the
    part (its memory; 0: no limit). At least one page is always read, so a run always moves on."""

    deadline: float
    max_pages: int = 0
    max_records: int = 0
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def starting_now(cls, *, seconds: float = TIME_BUDGET_SECONDS, margin: float = MARGIN_SECONDS,
                     max_pages: int = 0, max_records: int = 0,
                     clock: Callable[[], float] = time.monotonic) -> Budget:
        return cls(deadline=clock() + seconds - margin, max_pages=max_pages, max_records=max_records, clock=clock)

    @classmethod
    def from_env(cls, max_pages: int = 0) -> Budget:
        return cls.starting_now(seconds=float(os.environ.get("SNAPSHOT_TIME_BUDGET_SECONDS") or TIME_BUDGET_SECONDS),
                                margin=float(os.environ.get("SNAPSHOT_MARGIN_SECONDS") or MARGIN_SECONDS),
                                max_records=int(os.environ.get("SNAPSHOT_MAX_RECORDS") or 0),
                                max_pages=max_pages)

    def allows(self, pages: int, records: int = 0) -> bool:
        """Whether a cursor that has read ``pages`` pages in this invocation, its part holding
        ``records`` records, may read another."""
        if self.max_pages and pages >= self.max_pages:
            return False
        if self.max_records and records >= self.max_records:
            return False
        return self.clock() < self.deadline


# --- Cognito --------------------------------------------------------------------------------------


LIST_USERS_PAGE = 60  # ListUsers' largest page
PAGE_ATTEMPTS = 3  # tries of one ListUsers page before the step fails (CognitoUnavailable: the state retries)
PAGE_BACKOFF_S = 0.5


def list_users_pages(idp: CognitoIdentityProviderClient, user_pool_id: str,
                     sleep: Callable[[float], None] = time.sleep,
                     token: str | None = None, limit: int = 0) -> Iterator[dict[str, Any]]:
    """The pool's ListUsers pages. A page that fails for a transient reason (throttling, a
    timeout, a server error: :class:`CognitoUnavailable`) is asked again with the same token, up
    to ``PAGE_ATTEMPTS`` times, so that one slow answer does not restart a listing of thousands of
    pages; then the error goes to the state's retrier. Errors are linkflow's (``cognito_errors``):
    a raw botocore error would pass the state's Retry by."""
    kwargs: dict[str, Any] = {"UserPoolId": user_pool_id}
    if token:
        kwargs["PaginationToken"] = token
    if limit:
        kwargs["Limit"] = min(limit, LIST_USERS_PAGE)
    while True:
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                with cognito_errors():
                    page = idp.list_users(**kwargs)
                break
            except CognitoUnavailable:
                if attempt == PAGE_ATTEMPTS:
                    raise
                sleep(PAGE_BACKOFF_S * 2 ** (attempt - 1))
        yield dict(page)
        token = page.get("PaginationToken")
        if not token:
            return
        kwargs["PaginationToken"] = token


def cognito_entries(idp: CognitoIdentityProviderClient, user_pool_id: str,
                    created_after: datetime | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> Iterator[CognitoEntry]:
    """Every user of the pool (ListUsers pages); with ``created_after``, only the newer ones."""
    for page in list_users_pages(idp, user_pool_id, sleep):
        yield from _page_entries(page, created_after)


def cognito_part(idp: CognitoIdentityProviderClient, user_pool_id: str, budget: Budget,
                 token: str | None = None, created_after: datetime | None = None,
                 sleep: Callable[[float], None] = time.sleep, limit: int = 0) -> tuple[list[CognitoEntry], str | None]:
    """The users of the pages ``budget`` allows from ``token`` on, and the token to go on from
    (``None``: the listing is done). A token is valid a limited time: see docs/reconcile.md."""
    entries: list[CognitoEntry] = []
    pages = 0
    for page in list_users_pages(idp, user_pool_id, sleep, token, limit):
        entries += _page_entries(page, created_after)
        pages += 1
        following = page.get("PaginationToken")
        if not following:
            return entries, None
        if not budget.allows(pages, len(entries)):
            return entries, str(following)
    return entries, None


def _page_entries(page: dict[str, Any], created_after: datetime | None) -> Iterator[CognitoEntry]:
    for user in page.get("Users", []):
        created = user.get("UserCreateDate")
        if created_after is not None and created is not None and created < created_after:
            continue
        attrs = {a["Name"]: a.get("Value", "") for a in user.get("Attributes", [])}
        yield CognitoEntry(
            username=user["Username"], sub=attrs.get("sub", ""), status=user.get("UserStatus", ""),
            enabled=user.get("Enabled", True), email=attrs.get("email") or None,
            email_verified=attrs.get("email_verified", "").lower() == "true",
            created=int(created.timestamp()) if created is not None else None,
        )


# --- Stripe ---------------------------------------------------------------------------------------


STRIPE_PHASES = ("subscriptions", "customers")  # in this order; products are listed with each part


def stripe_pages(stripe: StripeGateway, resource: str, params: dict[str, Any], after: str | None,
                 take: Callable[[], None]) -> Iterator[list[JSON]]:
    """The pages of a list endpoint from ``after`` on (``starting_after``), ``take()`` called once
    before each request (pacing and counting). Stopping between two pages costs no request: the
    gateway asks for the next page only when its first row is wanted."""
    rows = stripe.list_all(resource, {**params, "starting_after": after} if after else dict(params))
    while True:
        take()
        page = list(islice(rows, PAGE_SIZE))
        if page:
            yield page
        if len(page) < PAGE_SIZE:
            return


def stripe_part(stripe: StripeGateway, budget: Budget, take: Callable[[], None], phase: str = STRIPE_PHASES[0],
                after: str | None = None) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]:
    """The ``(sub, record)`` pairs of the pages ``budget`` allows from ``(phase, after)`` on, and
    where to go on from (``{"phase", "after"}``; ``None``: done). Subscriptions first (each with its
    customer expanded, to know the subs it belongs to), then customers."""
    keyed: list[tuple[str, dict[str, Any]]] = []
    pages = 0
    products: dict[str, JSON] | None = None
    for current in STRIPE_PHASES[STRIPE_PHASES.index(phase):]:
        if current == "subscriptions" and products is None:
            products = {str(p["id"]): p for page in stripe_pages(stripe, "products", {}, None, take) for p in page}
        resource, params = (("subscriptions", {"status": "all", "expand": [*SUBSCRIPTION_EXPAND, "data.customer"]})
                            if current == "subscriptions" else ("customers", {}))
        cursor = after if current == phase else None
        for page in stripe_pages(stripe, resource, params, cursor, take):
            for row in page:
                keyed += (_subscription_records(row, products or {}) if current == "subscriptions"
                          else by_named_sub([customer_entry(row, [])]))
            pages += 1
            cursor = str(page[-1]["id"])
            if len(page) == PAGE_SIZE and not budget.allows(pages, len(keyed)):
                return keyed, {"phase": current, "after": cursor}
        if not budget.allows(pages, len(keyed)) and current != STRIPE_PHASES[-1]:
            return keyed, {"phase": STRIPE_PHASES[STRIPE_PHASES.index(current) + 1], "after": None}
    return keyed, None


def _subscription_records(subscription: JSON, products: dict[str, JSON]) -> list[tuple[str, dict[str, Any]]]:
    """A subscription (its customer expanded) as one record for each sub its customer names; the
    customer id put back in place of the object, the prices' products filled in."""
    customer = subscription.get("customer")
    if not isinstance(customer, dict):
        return []
    subscription = {**subscription, "customer": str(customer.get("id"))}
    for item in (subscription.get("items") or {}).get("data") or []:
        price = item.get("price")
        if isinstance(price, dict) and isinstance(price.get("product"), str):
            price["product"] = products.get(price["product"], price["product"])
    subs = {str(customer["metadata"][k]) for k in ("cognito_sub", "cognito_user_id")
            if (customer.get("metadata") or {}).get(k)}
    return [(sub, {"subscription": subscription, "customer": subscription["customer"]}) for sub in sorted(subs)]


def customer_entry(customer: dict[str, Any], subscriptions: list[dict[str, Any]]) -> CustomerEntry:
    return CustomerEntry(
        id=str(customer["id"]), email=customer.get("email"), metadata=dict(customer.get("metadata") or {}),
        created=int(customer.get("created") or 0), balance=int(customer.get("balance") or 0),
        deleted=bool(customer.get("deleted")), subscriptions=subscriptions,
    )


def by_named_sub(customers: Iterable[CustomerEntry]) -> Iterator[tuple[str, dict[str, Any]]]:
    for customer in customers:
        for sub in sorted(customer.named_subs):
            yield sub, customer.dump()


# --- the tables -----------------------------------------------------------------------------------

TABLE_KEYS = {"profiles": "userId", "entitlements": "cognito_sub", "claims": "userId"}
# Items per Scan request. A request's time grows with the items it returns, and every AWS call of a
# task has a 2 s read timeout (linkflow_shared.aws_clients): a 1 MB page (some 2,500 profiles) is
# too much to answer within it when the endpoint is busy (the local stack at 10,000 users was).
SCAN_PAGE = 500


def cursor_name(table: str, segment: int) -> str:
    return f"{table}/{segment}"


def tables_part(tables: dict[str, Table], budget: Budget, positions: dict[str, Any] | None = None,
                segments: int = 4, page_size: int = SCAN_PAGE
                ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]:
    """``(sub, {"table", "item"})`` for the Scan pages ``budget`` allows each segment of each table
    (in parallel), from ``positions`` on: ``"<table>/<segment>"`` to its LastEvaluatedKey, ``None``
    once the segment is done, absent before it starts. Answers the new positions, ``None`` when every
    segment is done."""
    positions = dict(positions or {})
    lock = threading.Lock()
    keyed: list[tuple[str, dict[str, Any]]] = []
    jobs = [(name, table, segment) for name, table in tables.items() for segment in range(segments)
            if positions.get(cursor_name(name, segment), {}) is not None]

    def scan(job: tuple[str, Table, int]) -> None:
        name, table, segment = job
        start = positions.get(cursor_name(name, segment))
        pages = 0
        while True:
            items, start = scan_page(table, segment, segments, page_size, start)
            pages += 1
            found = [(str(i.get(TABLE_KEYS[name]) or ""), {"table": name, "item": _plain(i)}) for i in items]
            with lock:
                keyed.extend((sub, record) for sub, record in found if sub)
                positions[cursor_name(name, segment)] = start
            if start is None or not budget.allows(pages, len(keyed)):
                return

    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), 8))) as pool:
        list(pool.map(scan, jobs))
    return keyed, (None if all(v is None for v in positions.values()) and len(positions) == len(tables) * segments
                   else positions)


def scan_page(table: Table, segment: int, segments: int, page_size: int,
              start: dict[str, Any] | None) -> tuple[list[Item], dict[str, Any] | None]:
    """One Scan request of one segment: its items and its LastEvaluatedKey (``None``: the end)."""
    items, last = table.scan_page(segment, segments, page_size, start)
    return items, (_plain(last) if last else None)


def _plain(item: Item) -> Item:
    """DynamoDB's Decimals and sets as JSON numbers and lists."""
    from decimal import Decimal

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, set):
            return sorted(value)
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return {k: convert(v) for k, v in item.items()}
