"""Property: whatever Stripe does to a subscription, and however its webhooks arrive (duplicated,
reordered, dropped then retried, concurrently), once everything is quiet the entitlement is what
Stripe says now.

Each example plays a generated history against one customer on a test clock (so every event of a
step has the same one-second ``created``) while the emulator duplicates and reorders deliveries
and the first StartExecution calls fail (the ingress answers 500: Stripe retries, or with
``max_attempts: 1`` gives up and the test re-posts those events itself, late and concurrently,
together with duplicates of others). Then: webhook delivery idle, no execution running, and the
entitlement equals the one derived from a fresh read of Stripe through the SDK.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from linkflow_shared.gateways import SdkStripe
from linkflow_shared.subscription_events import HANDLED_EVENT_TYPES, entitlement_from_view, fetch_stripe_view
from subscription_events_support import DAY, T0, Events
from support import admin, stripe_admin

COMPARED = ("status", "plan", "current_period_end", "trial_expires_at", "cancel_at_period_end", "stripeCustomerId",
            "subscriptionId")

OPS = st.one_of(
    st.tuples(st.just("plan"), st.sampled_from(["pro", "business"])),
    st.tuples(st.just("cancel_at_period_end"), st.booleans()),
    st.tuples(st.just("metadata")),
    st.tuples(st.just("card"), st.sampled_from(["pm_card_chargeCustomerFail", "pm_card_visa"])),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=40)),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("subscribe"), st.sampled_from(["pro", "business"]), st.sampled_from([0, 7])),
    st.tuples(st.just("settle")),
    st.tuples(st.just("delete")),
)
CHAOS = st.fixed_dictionaries({
    "duplicate_probability": st.sampled_from([0.0, 0.3, 0.7]),
    "reorder_window": st.integers(min_value=1, max_value=6),
    "max_attempts": st.sampled_from([1, 5]),
    "failed_starts": st.integers(min_value=0, max_value=3),
    "repost_share": st.sampled_from([0.0, 0.5, 1.0]),
    "concurrency": st.integers(min_value=1, max_value=8),
    "seed": st.integers(min_value=0, max_value=2**16),
})


@pytest.fixture(scope="module")
def events(stack) -> Events:
    return Events(stack)


class History:
    """One customer on a test clock and the subscription the next step acts on."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self.clock = events.clock()
        self.now = T0
        self.sub, self.customer = events.seeded_user(clock=self.clock)
        self.subscription = self._subscribe("pro", 0)

    def _subscribe(self, plan: str, trial_days: int) -> str:
        params = {"customer": self.customer, "items": [{"price": self.events.price(plan).id}]}
        if trial_days:
            params["trial_period_days"] = trial_days
        return self.events.stripe.v1.subscriptions.create(params=params).id

    def apply(self, op: tuple) -> None:
        client = self.events.stripe.v1
        kind = op[0]
        try:
            if kind == "plan":
                item = client.subscriptions.retrieve(self.subscription)["items"].data[0]
                client.subscriptions.update(self.subscription, params={
                    "items": [{"id": item.id, "price": self.events.price(op[1]).id}]})
            elif kind == "cancel_at_period_end":
                client.subscriptions.update(self.subscription, params={"cancel_at_period_end": op[1]})
            elif kind == "metadata":
                client.subscriptions.update(self.subscription, params={"metadata": {"touch": str(self.now)}})
            elif kind == "card":
                self.events.use_card(self.customer, op[1])
            elif kind == "advance":
                self.now += op[1] * DAY
                self.events.advance(self.clock.id, self.now)
            elif kind == "cancel":
                client.subscriptions.cancel(self.subscription)
            elif kind == "subscribe":
                self.subscription = self._subscribe(op[1], op[2])
            elif kind == "settle":
                self.events.settle()
            elif kind == "delete":
                client.customers.delete(self.customer)
        except stripe.InvalidRequestError as exc:  # Stripe refused the step in this state: no change
            note(f"{op}: refused ({exc.user_message})")


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=st.lists(OPS, min_size=2, max_size=7), chaos=CHAOS)
def test_after_quiescence_the_entitlement_is_what_stripe_says(events, ops, chaos):
    stack = events.stack
    rng = random.Random(chaos["seed"])
    history = History(events)
    events.settle()
    mark = events.delivery_mark()
    stripe_admin(stack, "POST", "webhooks", {k: chaos[k] for k in ("duplicate_probability", "reorder_window",
                                                                    "max_attempts")})
    if chaos["failed_starts"]:
        admin(stack, "POST", "faults", {"service": "stepfunctions", "operation": "StartExecution",
                                        "count": chaos["failed_starts"]})
    try:
        for op in ops:
            history.apply(op)
        events.settle()
        admin(stack, "DELETE", "faults")  # the outage is over when Stripe's later retries come
        ids = events.event_ids(history.customer, mark, set(HANDLED_EVENT_TYPES))
        started = events.executions_by_name()
        never_started = [i for i in ids if i not in started]
        again = never_started + [i for i in ids if rng.random() < chaos["repost_share"]]
        rng.shuffle(again)
        bodies = [events.raw_event(i) for i in again]
        with ThreadPoolExecutor(max_workers=chaos["concurrency"]) as pool:
            answers = list(pool.map(events.post, bodies))
        assert all(status == 200 for status, _ in answers), answers
        events.settle()
    finally:
        admin(stack, "DELETE", "faults")
        stripe_admin(stack, "POST", "webhooks", {"duplicate_probability": 0.0, "reorder_window": 1,
                                                 "max_attempts": 5})
    note(f"events: {len(ids)}, never started by a delivery: {len(never_started)}, re-posted: {len(again)}")

    by_name = events.executions_by_name()
    executions = [e for i in ids for e in by_name.get(i, [])]
    assert {e["name"] for e in executions} == set(ids)
    assert all(e["status"] == "SUCCEEDED" for e in executions), [e for e in executions if e["status"] != "SUCCEEDED"]

    outputs = [json.loads(events.sfn.describe_execution(executionArn=e["executionArn"])["output"]) for e in executions]
    conflicts = sum(o["sync"]["attempts"] - 1 for o in outputs if "sync" in o)
    event(f"deliveries that never started an execution, re-posted late: {'some' if never_started else 'none'}")
    event(f"syncs that lost a write race and re-read: {'some' if conflicts else 'none'}")

    view = fetch_stripe_view(SdkStripe(events.stripe), history.customer)
    expected = entitlement_from_view(view, cognito_sub=history.sub, email=None).item()
    stored = events.entitlement(history.sub)
    assert {k: stored.get(k) for k in COMPARED} == {k: expected.get(k) for k in COMPARED}
    if view.deleted:
        assert "stripeCustomerId" not in events.profile(history.sub)
    else:
        chosen = events.subscription(stored["subscriptionId"])
        assert chosen.status == stored["status"]
