"""The snapshot: every system read with list calls (never one call per user), written to S3 as
JSONL shards keyed by sub, so that one Map child compares one shard.

Layout under ``runs/<run id>/``: ``cognito/shard-NNNN.jsonl`` (one :class:`CognitoEntry` a line),
``stripe/shard-NNNN.jsonl`` (one :class:`CustomerEntry` a line, in the shard of every sub its
metadata names), ``tables/shard-NNNN.jsonl`` (``{"table": ..., "item": ...}`` a line). Every
source writes every shard, empty or not, so the Map's ItemReader lists exactly ``shards`` items.
Stripe requests: customers, subscriptions (``status=all``, prices expanded) and products, 100 per
page: about 2 per 100 users, against at least one per user for lookups or searches.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import CognitoUnavailable, cognito_errors
from ..gateways.snapshots import S3Snapshots
from ..gateways.stripe import StripeGateway
from ..stores import Item, Table
from .models import CognitoEntry, CustomerEntry

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

SOURCES = ("cognito", "stripe", "tables")
SUBSCRIPTION_EXPAND = ["data.items.data.price"]  # four levels at most, counting data (Stripe's rule)


def shard_of(sub: str, shards: int) -> int:
    return int(hashlib.sha256(sub.encode()).hexdigest()[:8], 16) % shards


def shard_key(run_id: str, source: str, shard: int) -> str:
    return f"runs/{run_id}/{source}/shard-{shard:04d}.jsonl"


def write_shards(store: S3Snapshots, run_id: str, source: str, shards: int,
                 keyed: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Write ``(sub, record)`` pairs into their shards (every shard written); answers the count."""
    buckets: dict[int, list[dict[str, Any]]] = defaultdict(list)
    count = 0
    for sub, record in keyed:
        buckets[shard_of(sub, shards)].append(record)
        count += 1
    for shard in range(shards):
        store.put_lines(shard_key(run_id, source, shard), buckets.get(shard, []))
    return count


# --- Cognito --------------------------------------------------------------------------------------


PAGE_ATTEMPTS = 3  # tries of one ListUsers page before the step fails (CognitoUnavailable: the state retries)
PAGE_BACKOFF_S = 0.5


def list_users_pages(idp: CognitoIdentityProviderClient, user_pool_id: str,
                     sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """The pool's ListUsers pages. A page that fails for a transient reason (throttling, a
    timeout, a server error: :class:`CognitoUnavailable`) is asked again with the same token, up
    to ``PAGE_ATTEMPTS`` times, so that one slow answer does not restart a listing of thousands of
    pages; then the error goes to the state's retrier. Errors are linkflow's (``cognito_errors``):
    a raw botocore error would pass the state's Retry by."""
    kwargs: dict[str, Any] = {"UserPoolId": user_pool_id}
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


def customer_entries(stripe: StripeGateway) -> Iterator[CustomerEntry]:
    """Every customer with its subscriptions (any status), prices with their products."""
    products = {str(p["id"]): p for p in stripe.list_all("products", {})}
    subscriptions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for subscription in stripe.list_all("subscriptions", {"status": "all", "expand": SUBSCRIPTION_EXPAND}):
        for item in (subscription.get("items") or {}).get("data") or []:
            price = item.get("price")
            if isinstance(price, dict) and isinstance(price.get("product"), str):
                price["product"] = products.get(price["product"], price["product"])
        subscriptions[str(subscription.get("customer"))].append(subscription)
    for customer in stripe.list_all("customers", {}):
        yield customer_entry(customer, subscriptions.get(str(customer["id"]), []))


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


def table_items(tables: dict[str, Table], segments: int = 4,
                page_size: int = SCAN_PAGE) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(sub, {"table", "item"})`` for every item of the three tables, scanned in parallel segments."""
    jobs = [(name, table, segment) for name, table in tables.items() for segment in range(segments)]
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        for name, items in pool.map(lambda job: (job[0], job[1].scan_segment(job[2], segments, page_size)), jobs):
            for item in items:
                sub = str(item.get(TABLE_KEYS[name]) or "")
                if sub:
                    yield sub, {"table": name, "item": _plain(item)}


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
