"""SyncEntitlement: which subscription decides, what the entitlement says, the plan mapping, and the
ordering guard (syncVersion) under duplicates, reordering and interleaved concurrent syncs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkflow_shared import EntitlementRecord, StripeCustomerMissing, WriteConflict
from linkflow_shared.subscription_events import (
    CustomerLink,
    ResolvedCustomerInput,
    StripeView,
    entitlement_from_view,
    pick_subscription,
    plan_for_price,
    plan_for_subscription,
    sync_entitlement,
)
from unit_support import InMemoryStripe


def price(plan: str | None = None, lookup_key: str | None = None, price_plan: str | None = None) -> dict[str, Any]:
    return {"id": f"price_{uuid.uuid4().hex[:8]}", "lookup_key": lookup_key,
            "metadata": {"plan": price_plan} if price_plan else {},
            "product": {"id": "prod_1", "metadata": {"plan": plan} if plan else {}}}


def subscription(status: str = "active", *, created: int = 100, sub_id: str | None = None, plan: str = "pro",
                 period_end: int | None = 5000, trial_end: int | None = None, legacy: bool = False,
                 cancel_at_period_end: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "si_1", "price": price(plan)}
    body: dict[str, Any] = {"id": sub_id or f"sub_{uuid.uuid4().hex[:10]}", "object": "subscription", "status": status,
                            "created": created, "trial_end": trial_end, "cancel_at_period_end": cancel_at_period_end,
                            "items": {"data": [item]}}
    if legacy:
        body["current_period_end"] = period_end
    else:
        item["current_period_end"] = period_end
    return body


# --- plans --------------------------------------------------------------------------------------


def test_the_plan_comes_from_product_metadata_then_price_metadata_then_lookup_key():
    assert plan_for_price(price(plan="pro", lookup_key="pro_monthly", price_plan="other")) == "pro"
    assert plan_for_price(price(lookup_key="pro_monthly", price_plan="pro")) == "pro"
    assert plan_for_price(price(lookup_key="team")) == "team"
    assert plan_for_price(price()) is None
    assert plan_for_price({"id": "price_1", "product": "prod_not_expanded", "lookup_key": None}) is None
    assert plan_for_price(price(plan="  ", lookup_key="  ")) is None
    assert plan_for_price(None) is None


def test_the_first_mapped_item_decides_the_plan():
    sub = subscription()
    sub["items"]["data"] = [{"id": "si_a", "price": price()}, {"id": "si_b", "price": price(plan="business")}]
    plan, item = plan_for_subscription(sub)
    assert (plan, item["id"]) == ("business", "si_b")
    assert plan_for_subscription({"items": {"data": []}}) == (None, None)


# --- the decisive subscription ------------------------------------------------------------------


def test_the_best_status_wins_then_the_newest():
    canceled_new = subscription("canceled", created=300, sub_id="sub_c")
    active_old = subscription("active", created=100, sub_id="sub_a")
    past_due = subscription("past_due", created=200, sub_id="sub_p")
    assert pick_subscription([canceled_new, past_due, active_old])["id"] == "sub_a"
    assert pick_subscription([canceled_new, past_due])["id"] == "sub_p"
    older = subscription("canceled", created=100, sub_id="sub_old")
    assert pick_subscription([older, canceled_new])["id"] == "sub_c"
    assert pick_subscription([]) is None


@given(st.lists(st.tuples(st.sampled_from(["active", "trialing", "past_due", "canceled", "paused", "weird"]),
                          st.integers(0, 3)), min_size=1, max_size=6, unique=True), st.randoms())
def test_the_pick_does_not_depend_on_the_order_stripe_lists_in(specs, rnd):
    subs = [subscription(status, created=created, sub_id=f"sub_{i}") for i, (status, created) in enumerate(specs)]
    shuffled = list(subs)
    rnd.shuffle(shuffled)
    assert pick_subscription(shuffled)["id"] == pick_subscription(subs)["id"]


# --- the entitlement a view implies -------------------------------------------------------------


def view(*subs: dict[str, Any], deleted: bool = False) -> StripeView:
    return StripeView(customer_id="cus_1", deleted=deleted, subscriptions=list(subs))


def test_a_trial_carries_its_end_and_an_active_subscription_does_not():
    trialing = entitlement_from_view(view(subscription("trialing", trial_end=4000, period_end=4000)),
                                     cognito_sub="u", email="a@example.com")
    assert (trialing.status, trialing.plan, trialing.trial_expires_at, trialing.current_period_end) == (
        "trialing", "pro", 4000, 4000)
    active = entitlement_from_view(view(subscription("active", trial_end=4000, period_end=9000)),
                                   cognito_sub="u", email=None)
    assert (active.status, active.trial_expires_at, active.current_period_end) == ("active", None, 9000)
    assert (active.stripe_customer_id, active.subscription_id) == ("cus_1", active.subscription_id)


def test_the_period_end_is_read_from_the_item_or_from_an_older_api_layout():
    assert entitlement_from_view(view(subscription(period_end=7000, legacy=True)), cognito_sub="u",
                                 email=None).current_period_end == 7000
    assert entitlement_from_view(view(subscription(period_end=None)), cognito_sub="u",
                                 email=None).current_period_end is None


def test_no_subscription_is_none_with_the_customer_and_a_deleted_customer_is_none_without():
    empty = entitlement_from_view(view(), cognito_sub="u", email=None)
    assert (empty.status, empty.stripe_customer_id, empty.plan, empty.subscription_id) == ("none", "cus_1", None, None)
    gone = entitlement_from_view(view(subscription(), deleted=True), cognito_sub="u", email=None)
    assert (gone.status, gone.stripe_customer_id, gone.subscription_id) == ("none", None, None)


def test_every_stripe_status_maps_and_an_unknown_one_is_none():
    for status in ("active", "trialing", "past_due", "unpaid", "paused", "incomplete", "incomplete_expired",
                   "canceled"):
        assert entitlement_from_view(view(subscription(status)), cognito_sub="u", email=None).status == status
    assert entitlement_from_view(view(subscription("brand_new_status")), cognito_sub="u", email=None).status == "none"


def test_cancel_at_period_end_is_kept():
    record = entitlement_from_view(view(subscription(cancel_at_period_end=True)), cognito_sub="u", email=None)
    assert record.cancel_at_period_end is True


def test_features_are_the_active_entitlements_sorted_and_none_once_deleted():
    live = StripeView(customer_id="cus_1", deleted=False, subscriptions=[subscription()], features=["sso", "exports"])
    assert entitlement_from_view(live, cognito_sub="u", email=None).features == ["exports", "sso"]
    gone = StripeView(customer_id="cus_1", deleted=True, features=["sso"])
    assert entitlement_from_view(gone, cognito_sub="u", email=None).features == []


def test_a_sync_writes_the_features_under_the_guard(aws):
    fake = fake_stripe([subscription("active")])
    fake.features["cus_1"] = ["exports"]
    result = sync_entitlement(linked("u7"), entitlements=aws.entitlements, stripe=fake)
    assert result.entitlement.features == ["exports"] and aws.entitlements.get("u7").features == ["exports"]
    fake.features["cus_1"] = []
    sync_entitlement(linked("u7", event="evt_2"), entitlements=aws.entitlements, stripe=fake)
    assert aws.entitlements.get("u7").features == [], "a revoked feature is removed"


# --- the guard ----------------------------------------------------------------------------------


def record(sub: str, status: str, **fields: Any) -> EntitlementRecord:
    return EntitlementRecord(cognito_sub=sub, status=status, **fields)


def test_the_first_sync_write_takes_over_an_item_onboarding_created(aws):
    table = aws.entitlements
    table.create(record("u1", "none", email="a@example.com", updated_at="t0"))
    assert table.read_sync_version("u1") == 0
    assert table.write_synced(record("u1", "active", plan="pro", stripe_customer_id="cus_1"), 0)
    stored = table.get("u1")
    assert (stored.status, stored.plan, stored.email, stored.sync_version) == ("active", "pro", "a@example.com", 1)


def test_a_write_based_on_an_old_version_is_refused(aws):
    table = aws.entitlements
    assert table.write_synced(record("u2", "trialing", trial_expires_at=10), 0)
    assert table.write_synced(record("u2", "active", current_period_end=20), 1)
    assert not table.write_synced(record("u2", "trialing", trial_expires_at=10), 1)  # stale
    assert not table.write_synced(record("u2", "trialing"), 0)
    stored = table.get("u2")
    assert (stored.status, stored.sync_version, stored.trial_expires_at, stored.current_period_end) == (
        "active", 2, None, 20)  # the trial end was removed, not left behind


def fake_stripe(subs: list[dict[str, Any]], deleted: bool = False) -> InMemoryStripe:
    """Customer ``cus_1`` with ``subs``; ``cus_missing`` is unknown to Stripe (a 404)."""
    fake = InMemoryStripe()
    fake.add("a@example.com", id="cus_1", deleted=deleted)
    fake.subscriptions["cus_1"] = subs
    return fake


def linked(sub: str, customer: str = "cus_1", event: str = "evt_1") -> ResolvedCustomerInput:
    return ResolvedCustomerInput(event_id=event, event_type="customer.subscription.updated", customer_id=customer,
                            customer=CustomerLink(outcome="linked", customer_id=customer, sub=sub,
                                                  email="a@example.com"))


def test_a_sync_that_fetched_before_a_newer_sync_wrote_reads_again(aws):
    table = aws.entitlements
    fake = fake_stripe([subscription("active", sub_id="sub_1")])

    def newer_sync_slips_in() -> None:
        fake.subscriptions["cus_1"] = [subscription("canceled", sub_id="sub_1")]
        result = sync_entitlement(linked("u3", event="evt_newer"), entitlements=table, stripe=fake)
        assert (result.entitlement.status, result.sync_version) == ("canceled", 1)

    fake.during_list.append(newer_sync_slips_in)
    result = sync_entitlement(linked("u3", event="evt_older"), entitlements=table, stripe=fake)
    assert (result.attempts, result.sync_version, result.entitlement.status) == (2, 2, "canceled")
    assert table.get("u3").status == "canceled"


def test_a_sync_that_keeps_losing_gives_up_with_a_retryable_write_conflict(aws):
    table = aws.entitlements
    fake = fake_stripe([subscription("active")])
    fake.during_list = [lambda: table.write_synced(record("u4", "active"), table.read_sync_version("u4"))
                         for _ in range(3)]
    with pytest.raises(WriteConflict):
        sync_entitlement(linked("u4"), entitlements=table, stripe=fake, attempts=3)


def test_a_deleted_customer_syncs_to_none_and_an_unknown_one_changes_nothing(aws):
    table = aws.entitlements
    result = sync_entitlement(linked("u5"), entitlements=table, stripe=fake_stripe([subscription()], deleted=True))
    assert (result.customer_deleted, result.entitlement.status, result.entitlement.stripe_customer_id) == (
        True, "none", None)
    with pytest.raises(StripeCustomerMissing):  # a 404 is not a deletion: nothing may be wiped
        sync_entitlement(linked("u6", customer="cus_missing"), entitlements=table, stripe=fake_stripe([]))
    assert table.get("u6") is None


# --- the guard under every interleaving ---------------------------------------------------------
#
# A model of the protocol on the real table functions: Stripe goes through states 0..n; every
# change k is followed by an event whose sync starts after it (as Stripe's webhooks are); syncs
# (and duplicates of them) take their steps - read the version, fetch, write - in any interleaving
# with each other and with later changes. A write that loses starts the sync over.


# One mocked table for every example (each uses a sub of its own).
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_under_any_interleaving_versions_follow_fetch_order_and_the_last_state_wins(aws, data):
    table = aws.entitlements
    sub = str(uuid.uuid4())
    changes = data.draw(st.integers(min_value=1, max_value=4), label="changes")
    stripe_state = 0
    syncs: list[dict[str, Any]] = []  # {"step": "read"|"fetch"|"write"|"done", "base", "seen"}
    written: list[int] = []  # Stripe state seen by each successful write, in write order
    for _ in range(400):
        actions = ["change"] if stripe_state < changes else []
        actions += [f"sync{i}" for i, s in enumerate(syncs) if s["step"] != "done"]
        if not actions:
            break
        action = data.draw(st.sampled_from(actions))
        if action == "change":
            stripe_state += 1
            for _ in range(data.draw(st.integers(min_value=1, max_value=2), label="deliveries")):
                syncs.append({"step": "read"})
            continue
        s = syncs[int(action[4:])]
        if s["step"] == "read":
            s.update(step="fetch", base=table.read_sync_version(sub))
        elif s["step"] == "fetch":
            s.update(step="write", seen=stripe_state)
        elif table.write_synced(record(sub, "active", plan=f"state-{s['seen']}"), s["base"]):
            written.append(s["seen"])
            s["step"] = "done"
        else:
            s["step"] = "read"
    assert all(s["step"] == "done" for s in syncs)
    assert written == sorted(written), "a write carried an older view than the one it replaced"
    assert written[-1] == changes
    stored = table.get(sub)
    assert (stored.plan, stored.sync_version) == (f"state-{changes}", len(written))

