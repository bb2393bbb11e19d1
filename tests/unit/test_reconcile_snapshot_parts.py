"""The resumable snapshot: each source read in parts, each part ending on its budget (time left or
pages per cursor) with a continuation (a ListUsers token, a Stripe phase and ``starting_after``
cursor, each Scan segment's LastEvaluatedKey); every part's shards read back as one, a part read
twice counted once, and the counts (records, Stripe requests) added up across parts."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from linkflow_shared.reconcile import SnapshotInput, SourceSnapshot, load_shard, snapshot
from linkflow_shared.reconcile.snapshot import Budget
from linkflow_shared.reconcile.steps import snapshot_cognito, snapshot_stripe, snapshot_tables
from linkflow_shared.stores import Table
from unit_support import listed_user

SHARDS = 3
UNLIMITED = Budget(deadline=float("inf"))


# --- fakes ----------------------------------------------------------------------------------------


class MemoryStore:
    """What the steps use of :class:`S3Snapshots`, in memory; every put counted."""

    def __init__(self) -> None:
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.puts = 0

    def put_lines(self, key: str, records: Any) -> None:
        self.objects[key] = [json.loads(json.dumps(r, default=str)) for r in records]
        self.puts += 1

    def lines(self, key: str) -> Any:
        yield from self.objects.get(key, [])

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


class PagedCognito:
    """``users`` users, ``page`` a ListUsers page (or the request's Limit), tokens ``t<offset>``."""

    def __init__(self, users: int, page: int = 4) -> None:
        self.users, self.page = users, page
        self.calls: list[dict[str, Any]] = []

    def list_users(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        start = int(str(kwargs.get("PaginationToken", "t0"))[1:])
        size = kwargs.get("Limit", self.page)
        answer: dict[str, Any] = {"Users": [listed_user(n) for n in range(start, min(start + size, self.users))]}
        if start + size < self.users:
            answer["PaginationToken"] = f"t{start + size}"
        return answer


class PagedStripe:
    """Products, subscriptions (status=all; customer expandable) and customers, 100 a page
    following ``starting_after``, as the gateway's ``list_all`` gives them; every page counted."""

    def __init__(self, customers: int) -> None:
        self.customers = [{"id": f"cus_{n:04d}", "email": f"u{n}@example.com", "created": n, "balance": 0,
                           "metadata": {"cognito_sub": f"sub-{n}"} if n % 7 else {}} for n in range(customers)]
        self.subscriptions = [{"id": f"sub_{n:04d}", "customer": f"cus_{n:04d}", "status": "active",
                               "items": {"data": [{"price": {"id": "price_pro", "product": "prod_pro"}}]}}
                              for n in range(0, customers, 3)]
        self.products = [{"id": "prod_pro", "name": "Pro", "metadata": {"plan": "pro"}}]
        self.requests: list[tuple[str, str | None]] = []

    def list_all(self, resource: str, params: dict[str, Any]) -> Any:
        rows = {"products": self.products, "subscriptions": self.subscriptions, "customers": self.customers}[resource]
        after = params.get("starting_after")
        start = 0 if after is None else [r["id"] for r in rows].index(after) + 1
        by_id = {c["id"]: c for c in self.customers}
        while True:
            self.requests.append((resource, params.get("starting_after") if start == 0 else rows[start - 1]["id"]))
            page = json.loads(json.dumps(rows[start:start + 100]))
            if resource == "subscriptions" and "data.customer" in params.get("expand", []):
                for row in page:
                    row["customer"] = json.loads(json.dumps(by_id[row["customer"]]))
            yield from page
            start += 100
            if start >= len(rows):
                return


class ScanResource:
    """A table resource's ``scan``: Segment/TotalSegments by the key's hash, Limit, ExclusiveStartKey."""

    def __init__(self, key: str, items: list[dict[str, Any]]) -> None:
        self.key, self.items, self.calls = key, items, 0

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        mine = [i for i in self.items if sum(map(ord, i[self.key])) % kwargs["TotalSegments"] == kwargs["Segment"]]
        start = 0
        if "ExclusiveStartKey" in kwargs:
            start = [i[self.key] for i in mine].index(kwargs["ExclusiveStartKey"][self.key]) + 1
        page = mine[start:start + kwargs["Limit"]]
        answer: dict[str, Any] = {"Items": page}
        if start + kwargs["Limit"] < len(mine):
            answer["LastEvaluatedKey"] = {self.key: page[-1][self.key]}
        return answer


class ScanTable(Table):
    """The real store's one-page scan over :class:`ScanResource`."""

    def __init__(self, key: str, items: list[dict[str, Any]]) -> None:
        super().__init__(ScanResource(key, items))  # type: ignore[arg-type]  # a scan-only stand-in for boto3's Table


def _tables(users: int) -> dict[str, Any]:
    now = "2026-01-01T00:00:00Z"
    return {
        "profiles": ScanTable("userId", [{"userId": f"sub-{n}", "email": f"u{n}@example.com", "providers": ["Cognito"],
                                          "createdAt": now, "updatedAt": now} for n in range(users)]),
        "entitlements": ScanTable("cognito_sub", [{"cognito_sub": f"sub-{n}", "email": f"u{n}@example.com",
                                                   "status": "none", "updatedAt": now} for n in range(users)]),
        "claims": ScanTable("email", [{"email": f"u{n}@example.com", "userId": f"sub-{n}", "claimedAt": now}
                                      for n in range(users)]),
    }


def _run(**options: Any) -> SnapshotInput:
    return SnapshotInput(run_id="r1", shards=SHARDS, stripe_requests_per_second=1000, **options)


def _parts(step: Any, run: SnapshotInput, budget: Budget, **deps: Any) -> tuple[SourceSnapshot, list[SourceSnapshot]]:
    """What the machine's loop does: call the step with its previous answer until it is done."""
    answers: list[SourceSnapshot] = []
    current = run
    while True:
        answer = step(current, budget=budget, **deps)
        answers.append(answer)
        if answer.done:
            return answer, answers
        current = run.model_copy(update={"snapshot": answer})
        assert len(answers) < 200, "the snapshot does not move on"


def _loaded(store: MemoryStore) -> list[dict[str, Any]]:
    return [{sub: user.dump() for sub, user in sorted(load_shard(store, "r1", shard).items())}  # type: ignore[arg-type]
            for shard in range(SHARDS)]


# --- the budget -----------------------------------------------------------------------------------


def test_the_budget_stops_at_max_pages_or_when_the_margin_is_reached():
    now = [100.0]
    budget = Budget.starting_now(seconds=900, margin=60, max_pages=3, clock=lambda: now[0])
    assert budget.deadline == 940.0
    assert budget.allows(2) and not budget.allows(3)
    now[0] = 939.9
    assert budget.allows(0)
    now[0] = 940.0
    assert not budget.allows(0)
    assert Budget.starting_now(seconds=900, margin=60, clock=lambda: 0.0).allows(10_000)  # no page limit


def test_the_budget_stops_a_part_holding_max_records():
    budget = Budget(deadline=float("inf"), max_records=100)
    assert budget.allows(5, 99) and not budget.allows(5, 100)
    assert Budget(deadline=float("inf")).allows(5, 10**9)


def test_the_budget_reads_its_margin_time_and_records_from_the_environment(monkeypatch):
    monkeypatch.setenv("SNAPSHOT_TIME_BUDGET_SECONDS", "120")
    monkeypatch.setenv("SNAPSHOT_MARGIN_SECONDS", "30")
    monkeypatch.setenv("SNAPSHOT_MAX_RECORDS", "5000")
    budget = Budget.from_env(max_pages=2)
    assert budget.max_pages == 2 and budget.max_records == 5000
    assert 85 < budget.deadline - budget.clock() <= 90


# --- Cognito --------------------------------------------------------------------------------------


def test_cognito_parts_follow_the_token_and_read_every_user_once():
    idp = PagedCognito(users=10, page=4)
    entries, token = snapshot.cognito_part(idp, "pool", Budget(deadline=float("inf"), max_pages=1))  # type: ignore[arg-type]
    assert [e.sub for e in entries] == [f"sub-{n}" for n in range(4)] and token == "t4"
    entries, token = snapshot.cognito_part(idp, "pool", Budget(deadline=float("inf"), max_pages=1), token)  # type: ignore[arg-type]
    assert [e.sub for e in entries] == [f"sub-{n}" for n in range(4, 8)] and token == "t8"
    entries, token = snapshot.cognito_part(idp, "pool", Budget(deadline=float("inf"), max_pages=5), token)  # type: ignore[arg-type]
    assert [e.sub for e in entries] == ["sub-8", "sub-9"] and token is None
    assert [c.get("PaginationToken") for c in idp.calls] == [None, "t4", "t8"]


def test_a_cognito_part_past_its_deadline_still_reads_one_page_and_stops():
    idp = PagedCognito(users=10, page=4)
    entries, token = snapshot.cognito_part(idp, "pool", Budget(deadline=0.0, clock=lambda: 1.0))  # type: ignore[arg-type]
    assert len(entries) == 4 and token == "t4" and len(idp.calls) == 1


def test_each_source_ends_a_part_once_it_holds_max_records():
    capped = Budget(deadline=float("inf"), max_records=5)
    entries, token = snapshot.cognito_part(PagedCognito(users=10, page=2), "pool", capped)  # type: ignore[arg-type]
    assert len(entries) == 6 and token == "t6"  # the page that reached 5 is kept whole
    keyed, following = snapshot.stripe_part(PagedStripe(customers=250), Budget(deadline=float("inf"), max_records=50),  # type: ignore[arg-type]
                                            lambda: None, phase="customers")
    assert following == {"phase": "customers", "after": "cus_0099"} and len(keyed) == 85
    tables, positions = snapshot.tables_part(_tables(30), capped, page_size=3)  # type: ignore[arg-type]
    assert positions is not None and 5 <= len(tables) < 90  # the segments stop at a page boundary, not at the end


def test_the_page_size_option_is_the_list_users_limit_at_most_60():
    idp = PagedCognito(users=5)
    snapshot.cognito_part(idp, "pool", UNLIMITED, limit=2)  # type: ignore[arg-type]
    assert [c["Limit"] for c in idp.calls] == [2, 2, 2]
    idp = PagedCognito(users=5)
    snapshot.cognito_part(idp, "pool", UNLIMITED, limit=500)  # type: ignore[arg-type]
    assert idp.calls[0]["Limit"] == 60


# --- Stripe ---------------------------------------------------------------------------------------


def test_stripe_parts_resume_each_phase_from_its_cursor_and_count_every_request():
    whole = PagedStripe(customers=250)
    taken: list[int] = []
    keyed, following = snapshot.stripe_part(whole, UNLIMITED, lambda: taken.append(1))  # type: ignore[arg-type]
    assert following is None
    single_requests = len(taken)

    parted = PagedStripe(customers=250)
    taken = []
    parts: list[list[tuple[str, dict[str, Any]]]] = []
    at: dict[str, Any] = {}
    continuations = []
    while True:
        part, following = snapshot.stripe_part(parted, Budget(deadline=float("inf"), max_pages=1),  # type: ignore[arg-type]
                                               lambda: taken.append(1), **at)
        parts.append(part)
        if following is None:
            break
        continuations.append(following)
        at = following
    assert continuations == [{"phase": "customers", "after": None}, {"phase": "customers", "after": "cus_0099"},
                             {"phase": "customers", "after": "cus_0199"}]
    assert [pair for part in parts for pair in part] == keyed
    # every list request was asked for once: no page read twice, no cursor lost
    assert len(set(parted.requests)) == len(parted.requests)
    assert ("customers", "cus_0099") in parted.requests and ("customers", "cus_0199") in parted.requests
    # products are listed again by each part that reads subscriptions (one request here); a count each
    assert len(taken) == len(parted.requests) and single_requests == len(whole.requests)


def test_a_subscription_goes_to_the_shards_of_its_customers_subs_with_the_customer_id_in_place():
    stripe = PagedStripe(customers=4)
    keyed, _ = snapshot.stripe_part(stripe, UNLIMITED, lambda: None)  # type: ignore[arg-type]
    records = [(sub, r) for sub, r in keyed if "subscription" in r]
    assert [(sub, r["customer"], r["subscription"]["customer"]) for sub, r in records] == [
        ("sub-3", "cus_0003", "cus_0003")]  # cus_0000 names nobody: its subscription is in no shard
    price = records[0][1]["subscription"]["items"]["data"][0]["price"]
    assert price["product"]["metadata"] == {"plan": "pro"}


# --- the tables -----------------------------------------------------------------------------------


def test_table_parts_resume_every_segment_from_its_last_evaluated_key():
    tables = _tables(30)
    whole, following = snapshot.tables_part(_tables(30), UNLIMITED, page_size=3)  # type: ignore[arg-type]
    assert following is None
    parts: list[tuple[str, dict[str, Any]]] = []
    positions: dict[str, Any] | None = None
    rounds = 0
    while True:
        part, positions = snapshot.tables_part(tables, Budget(deadline=float("inf"), max_pages=1),  # type: ignore[arg-type]
                                               positions, page_size=3)
        parts += part
        rounds += 1
        if positions is None:
            break
        assert set(positions) == {f"{t}/{s}" for t in tables for s in range(4)}
        assert all(p is None or set(p) == {tables[p_t]._table.key}  # a key, or done
                   for p_t, p in ((k.split("/")[0], v) for k, v in positions.items()))
    assert rounds > 2
    key = lambda pair: json.dumps(pair, sort_keys=True)  # noqa: E731
    assert sorted(parts, key=key) == sorted(whole, key=key) and len(parts) == 90


# --- the steps, part by part, against one part --------------------------------------------------


@pytest.mark.parametrize("max_pages", [1, 2])
def test_many_parts_load_the_same_shards_as_one_part_with_the_counts_added_up(max_pages):
    def snap(budget: Budget, page_size: int = 0) -> tuple[MemoryStore, list[list[SourceSnapshot]], PagedStripe]:
        store, stripe = MemoryStore(), PagedStripe(customers=230)
        run = _run(snapshot_page_size=page_size)
        answers = [
            _parts(snapshot_cognito, run, budget, idp=PagedCognito(users=230), user_pool_id="pool", store=store)[1],
            _parts(snapshot_stripe, run, budget, stripe=stripe, store=store)[1],
            _parts(snapshot_tables, run, budget, tables=_tables(230), store=store)[1],
        ]
        return store, answers, stripe

    one_store, one, one_stripe = snap(UNLIMITED)
    many_store, many, many_stripe = snap(Budget(deadline=float("inf"), max_pages=max_pages), page_size=7)
    assert [len(a) for a in one] == [1, 1, 1]
    assert len(many[0]) > 2 and len(many[1]) >= 2 and len(many[2]) > 2
    assert _loaded(many_store) == _loaded(one_store)
    assert sum(len(users) for users in _loaded(many_store)) == 230
    for singles, parted in zip(one, many, strict=True):
        last = parted[-1]
        assert last.done and last.next is None and last.parts == len(parted)
        assert last.records == singles[0].records
        assert [a.parts for a in parted] == list(range(1, len(parted) + 1))
    assert one[1][0].stripe_requests == len(one_stripe.requests)
    assert many[1][-1].stripe_requests == len(many_stripe.requests)
    assert many_store.keys("runs/r1/cognito/part-0000/") == [f"runs/r1/cognito/part-0000/shard-{k:04d}.jsonl"
                                                              for k in range(SHARDS)]


def test_a_retried_part_rewrites_its_own_files_and_nothing_is_read_twice():
    store = MemoryStore()
    budget = Budget(deadline=float("inf"), max_pages=1)
    run = _run(snapshot_page_size=5)
    first = snapshot_cognito(run, idp=PagedCognito(users=12), user_pool_id="pool", store=store, budget=budget)
    second_input = run.model_copy(update={"snapshot": first})
    second = snapshot_cognito(second_input, idp=PagedCognito(users=12), user_pool_id="pool", store=store,
                              budget=budget)
    keys = store.keys("runs/r1/cognito/")
    again = snapshot_cognito(second_input, idp=PagedCognito(users=12), user_pool_id="pool", store=store,
                             budget=budget)  # the state's retrier calls it again with the same input
    assert again == second and second.parts == 2 and second.records == 10
    assert store.keys("runs/r1/cognito/") == keys
    subs = [sub for shard in _loaded(store) for sub in shard]
    assert sorted(subs) == sorted(f"sub-{n}" for n in range(10))


def test_an_entry_found_in_two_parts_is_loaded_once():
    store = MemoryStore()
    run = _run()
    stripe = PagedStripe(customers=30)
    snapshot_cognito(run, idp=PagedCognito(users=30), user_pool_id="pool", store=store, budget=UNLIMITED)
    snapshot_stripe(run, stripe=stripe, store=store, budget=UNLIMITED)
    snapshot_tables(run, tables=_tables(30), store=store, budget=UNLIMITED)
    once = _loaded(store)
    for key in list(store.objects):  # the same records again as a second part of every source
        store.objects[key.replace("part-0000", "part-0001")] = list(store.objects[key])
    assert _loaded(store) == once
    claims = defaultdict(int)
    for shard in _loaded(store):
        for user in shard.values():
            claims[len(user["claims"])] += 1
            assert len(user["customers"]) <= 1
            for customer in user["customers"]:
                assert len(customer["subscriptions"]) == len({s["id"] for s in customer["subscriptions"]})
    assert claims == {1: 30}
    assert any(c["subscriptions"] for shard in once for u in shard.values() for c in u["customers"])
