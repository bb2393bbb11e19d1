"""Subscription events on the local stack: Stripe (the emulator, through the SDK) changes, its
webhooks reach the ingress, the events machine keeps the entitlement equal to Stripe's state."""

from __future__ import annotations

import json
import time

import pytest
from linkflow_shared.subscription_events import HANDLED_EVENT_TYPES
from subscription_events_support import DAY, T0, Events, entered_states
from support import admin, history, stripe_admin

FEB_1 = 1_769_904_000  # T0 plus one month: the first renewal of a monthly subscription


@pytest.fixture(scope="module")
def events(stack) -> Events:
    return Events(stack)


@pytest.fixture
def webhook_settings(stack):
    """Webhook delivery settings a test changes are back to the defaults when it ends."""
    yield lambda **settings: stripe_admin(stack, "POST", "webhooks", settings)
    stripe_admin(stack, "POST", "webhooks", {"duplicate_probability": 0.0, "reorder_window": 1, "max_attempts": 5,
                                             "retry_backoff_ms": 20.0, "delay_ms": 0.0})


def subscribe(events: Events, customer: str, plan: str = "pro", **params):
    price = events.price(plan)
    return events.stripe.v1.subscriptions.create(params={"customer": customer, "items": [{"price": price.id}],
                                                         **params})


# --- 1. trial, then active --------------------------------------------------------------------


def test_a_trial_is_trialing_with_its_end_then_active_when_the_test_clock_passes_it(events):
    clock = events.clock()
    sub, customer = events.seeded_user(clock=clock)
    subscription = subscribe(events, customer, trial_period_days=14)
    events.settle()

    entitlement = events.entitlement(sub)
    assert entitlement["status"] == "trialing"
    assert entitlement["plan"] == "pro"  # from the product's metadata.plan
    assert entitlement["trial_expires_at"] == subscription.trial_end == T0 + 14 * DAY
    assert entitlement["current_period_end"] == subscription["items"].data[0].current_period_end
    assert (entitlement["subscriptionId"], entitlement["stripeCustomerId"]) == (subscription.id, customer)

    events.advance(clock.id, T0 + 15 * DAY)
    events.settle()
    now = events.subscription(subscription.id)
    entitlement = events.entitlement(sub)
    assert now.status == "active"
    assert entitlement["status"] == "active" and "trial_expires_at" not in entitlement
    assert entitlement["current_period_end"] == now["items"].data[0].current_period_end > T0 + 14 * DAY


def test_the_plan_comes_from_the_price_lookup_key_when_the_product_names_none(events):
    sub, customer = events.seeded_user()
    key = f"team_{int(time.time() * 1000)}"
    price = events.price("team", lookup_key=key)
    events.stripe.v1.subscriptions.create(params={"customer": customer, "items": [{"price": price.id}]})
    events.settle()
    assert events.entitlement(sub)["plan"] == key


# --- 2. the entitlement follows every change ----------------------------------------------------


def test_plan_change_cancel_at_period_end_and_cancellation(events):
    sub, customer = events.seeded_user()
    subscription = subscribe(events, customer)
    events.settle()
    assert (events.entitlement(sub)["status"], events.entitlement(sub)["plan"]) == ("active", "pro")

    item = subscription["items"].data[0]
    events.stripe.v1.subscriptions.update(subscription.id, params={
        "items": [{"id": item.id, "price": events.price("business").id}]})
    events.settle()
    assert (events.entitlement(sub)["status"], events.entitlement(sub)["plan"]) == ("active", "business")

    events.stripe.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    events.settle()
    entitlement = events.entitlement(sub)
    assert entitlement["status"] == "active" and entitlement["cancel_at_period_end"] is True

    events.stripe.v1.subscriptions.cancel(subscription.id)
    events.settle()
    entitlement = events.entitlement(sub)
    assert entitlement["status"] == "canceled" and entitlement["subscriptionId"] == subscription.id
    assert entitlement["plan"] == "business"


def test_payment_failure_is_past_due_and_invoice_paid_recovers(events):
    clock = events.clock()
    sub, customer = events.seeded_user(clock=clock)
    subscription = subscribe(events, customer)
    events.settle()
    assert events.entitlement(sub)["status"] == "active"

    events.use_card(customer, "pm_card_chargeCustomerFail")
    events.advance(clock.id, FEB_1 + DAY)
    events.settle()
    assert events.subscription(subscription.id).status == "past_due"
    assert events.entitlement(sub)["status"] == "past_due"

    mark = events.delivery_mark()
    events.use_card(customer)
    events.advance(clock.id, FEB_1 + 4 * DAY)  # the next retry (one day after the failure) is paid
    events.settle()
    assert events.subscription(subscription.id).status == "active"
    entitlement = events.entitlement(sub)
    assert entitlement["status"] == "active"
    (paid,) = events.event_ids(customer, mark, {"invoice.paid"})
    assert events.output(paid)["sync"]["entitlement"]["status"] == "active"


def test_pause_and_resume(events):
    clock = events.clock()
    sub, customer = events.seeded_user(clock=clock, payment_method=None)
    subscription = subscribe(events, customer, trial_period_days=7,
                             trial_settings={"end_behavior": {"missing_payment_method": "pause"}})
    events.settle()
    assert events.entitlement(sub)["status"] == "trialing"

    mark = events.delivery_mark()
    events.advance(clock.id, T0 + 8 * DAY)
    events.settle()
    assert events.entitlement(sub)["status"] == "paused"
    (paused,) = events.event_ids(customer, mark, {"customer.subscription.paused"})
    assert events.output(paused)["sync"]["entitlement"]["status"] == "paused"

    mark = events.delivery_mark()
    events.use_card(customer)
    events.stripe.v1.subscriptions.resume(subscription.id)
    events.settle()
    assert events.entitlement(sub)["status"] == "active"
    assert events.event_ids(customer, mark, {"customer.subscription.resumed"})


# --- 3. checkout ------------------------------------------------------------------------------


def test_checkout_session_completed_makes_a_signed_up_user_active(events, stack):
    sub, customer = events.signed_up_user()
    assert events.entitlement(sub)["status"] == "none"
    session = events.stripe.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer, "client_reference_id": sub,
        "line_items": [{"price": events.price("pro").id, "quantity": 1}], "success_url": "https://example.com/ok"})
    mark = events.delivery_mark()
    stripe_admin(stack, "POST", f"checkout/sessions/{session.id}/complete", {"payment_method": "pm_card_visa"})
    events.settle()

    entitlement = events.entitlement(sub)
    assert (entitlement["status"], entitlement["plan"], entitlement["stripeCustomerId"]) == ("active", "pro", customer)
    (completed,) = events.event_ids(customer, mark, {"checkout.session.completed"})
    output = events.output(completed)
    assert output["customer"]["sub"] == sub and output["sync"]["entitlement"]["status"] == "active"


# --- 4. duplicates ------------------------------------------------------------------------------


def test_an_event_delivered_three_times_runs_once_and_writes_once(events, webhook_settings):
    sub, customer = events.seeded_user()
    subscription = subscribe(events, customer)
    events.settle()
    before = events.entitlement(sub)["syncVersion"]

    webhook_settings(duplicate_probability=1.0)  # Stripe sends every event twice...
    mark = events.delivery_mark()
    events.stripe.v1.subscriptions.update(subscription.id, params={"metadata": {"note": "one event"}})
    events.settle()
    (event_id,) = events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))
    deliveries = [d for d in events.delivered_events(mark) if d["event_id"] == event_id]
    assert [d["status"] for d in deliveries] == [200, 200]
    status, answer = events.post(events.raw_event(event_id))  # ...and a retry brings a third
    assert (status, answer["duplicate"]) == (200, True)

    assert len(events.executions_named(event_id)) == 1
    after = events.entitlement(sub)
    assert after["syncVersion"] == before + 1 and after["lastEventId"] == event_id


# --- 5. order -----------------------------------------------------------------------------------


def test_an_older_event_arriving_after_a_newer_state_does_not_regress(events, webhook_settings, clean_faults, stack):
    sub, customer = events.seeded_user()
    subscription = subscribe(events, customer)
    events.settle()

    # The first change's only delivery fails (StartExecution fails once: 500) and is not retried yet.
    webhook_settings(max_attempts=1)
    assert admin(stack, "POST", "faults", {"service": "stepfunctions", "operation": "StartExecution",
                                           "count": 1})[0] == 200
    mark = events.delivery_mark()
    events.stripe.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    events.settle()
    (older,) = events.event_ids(customer, mark, {"customer.subscription.updated"})
    assert [d["status"] for d in events.delivered_events(mark) if d["event_id"] == older] == [500]
    assert not events.executions_named(older)

    # The newer state (canceled) is stored first...
    webhook_settings(max_attempts=5)
    events.stripe.v1.subscriptions.cancel(subscription.id)
    events.settle()
    stored = events.entitlement(sub)
    assert stored["status"] == "canceled"

    # ...then Stripe's retry of the older event arrives: it is a hint, Stripe's current state wins.
    body = events.raw_event(older)
    assert json.loads(body)["data"]["object"]["status"] == "active"
    assert events.post(body)[0] == 200
    events.settle()
    after = events.entitlement(sub)
    assert after["status"] == "canceled" and after["syncVersion"] == stored["syncVersion"] + 1
    assert events.output(older)["sync"]["entitlement"]["status"] == "canceled"


def test_a_forged_stale_event_body_cannot_set_an_old_state(events):
    sub, customer = events.seeded_user()
    subscription = subscribe(events, customer)
    events.stripe.v1.subscriptions.cancel(subscription.id)
    events.settle()
    stale = {"id": f"evt_stale{int(time.time() * 1e6)}", "object": "event", "type": "customer.subscription.updated",
             "created": 2_000_000_000, "livemode": False,
             "data": {"object": {"id": subscription.id, "object": "subscription", "customer": customer,
                                 "status": "active"}}}
    assert events.post(json.dumps(stale).encode())[0] == 200
    events.settle()
    assert events.entitlement(sub)["status"] == "canceled"


def test_same_second_events_in_any_order_end_at_the_final_state(events, webhook_settings):
    clock = events.clock()  # frozen: every event below has the same `created`
    sub, customer = events.seeded_user(clock=clock)
    subscription = subscribe(events, customer)
    events.settle()

    webhook_settings(reorder_window=6, duplicate_probability=0.5)
    mark = events.delivery_mark()
    item = subscription["items"].data[0]
    events.stripe.v1.subscriptions.update(subscription.id, params={
        "items": [{"id": item.id, "price": events.price("business").id}]})
    events.stripe.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    events.stripe.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": False})
    events.stripe.v1.subscriptions.cancel(subscription.id)
    events.settle()

    ids = events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))
    assert len(ids) == 4
    assert {json.loads(events.raw_event(i))["created"] for i in ids} == {T0}
    entitlement = events.entitlement(sub)
    assert (entitlement["status"], entitlement["plan"]) == ("canceled", "business")
    assert entitlement["cancel_at_period_end"] is False


# --- 7. resolving customers ---------------------------------------------------------------------


def test_a_customer_found_by_metadata_repairs_the_profile_link(events):
    sub, customer = events.seeded_user(link=False, metadata_keys=("cognito_user_id",))
    assert "stripeCustomerId" not in events.profile(sub)
    mark = events.delivery_mark()
    subscribe(events, customer)
    events.settle()

    assert events.profile(sub)["stripeCustomerId"] == customer
    assert events.entitlement(sub)["status"] == "active"
    ids = events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))
    links = [events.output(e)["customer"] for e in ids]
    assert all(link["outcome"] == "linked" and link["sub"] == sub for link in links), links
    # One execution wrote the link (a conditional write); the others found it. A ResolveCustomer
    # attempt that repaired and then failed is retried and finds the link already there.
    repaired = [link["profileRepaired"] for link in links].count(True)
    steps = [e for i in ids for e in history(events.sfn, events.execution_arn(i))]
    retried = any(e["type"] == "LambdaFunctionFailed" for e in steps)
    assert repaired == 1 or (repaired == 0 and retried), links


@pytest.mark.parametrize("profile, reason", [(False, "no_profile_for_metadata_user"), (None, "no_user_in_metadata")])
def test_a_customer_linked_to_no_user_is_acknowledged_and_recorded(events, stack, profile, reason):
    if profile is None:
        customer = events.stripe.v1.customers.create(params={"email": "nobody@example.com",
                                                             "payment_method": "pm_card_visa"}).id
    else:
        _, customer = events.seeded_user(profile=False)
    mark = events.delivery_mark()
    subscribe(events, customer)
    events.settle()

    ids = events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))
    assert ids
    sfn = events.sfn
    for event_id in ids:
        arn = events.execution_arn(event_id)
        assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        steps = history(sfn, arn)
        assert entered_states(steps)[-1] == "UnlinkedCustomerRecorded"
        assert not [e for e in steps if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert all(d["ok"] and d["attempt"] == 1 for d in events.delivered_events(mark) if d["event_id"] in ids)

    outputs = stack.client("cloudformation").describe_stacks(StackName="linkflow-local")["Stacks"][0]["Outputs"]
    table = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "UnlinkedCustomersTableName")
    assert table == events.tables["unlinked"]
    record = events.unlinked(customer)
    assert record is not None and record["reason"] == reason
    assert record["eventCount"] == len(ids) and record["lastEventId"] in ids


# --- 8. deleted customers -----------------------------------------------------------------------


def test_customer_deleted_clears_the_link_and_the_entitlement(events):
    sub, customer = events.signed_up_user()
    events.use_card(customer)
    subscribe(events, customer)
    events.settle()
    assert events.entitlement(sub)["status"] == "active"

    mark = events.delivery_mark()
    events.stripe.v1.customers.delete(customer)
    events.settle()

    assert "stripeCustomerId" not in events.profile(sub)
    entitlement = events.entitlement(sub)
    assert entitlement["status"] == "none"
    assert not {"stripeCustomerId", "subscriptionId", "plan", "current_period_end"} & set(entitlement)
    (deleted,) = events.event_ids(customer, mark, {"customer.deleted"})
    assert events.sfn.describe_execution(executionArn=events.execution_arn(deleted))["status"] == "SUCCEEDED"
    paths = [entered_states(history(events.sfn, events.execution_arn(e)))
             for e in events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))]
    assert sum("UnlinkDeletedCustomer" in path for path in paths) >= 1


# --- 9. Stripe unavailable ----------------------------------------------------------------------


def test_stripe_down_fails_at_sync_entitlement_after_backoff_and_a_redrive_completes(events, stack, clean_faults):
    sub, customer = events.seeded_user()
    subscription = subscribe(events, customer)
    events.settle()

    stripe_admin(stack, "POST", "faults", {"method": "GET", "path": "/v1/subscriptions", "status": 500,
                                           "until": time.time() + 300})
    mark = events.delivery_mark()
    events.stripe.v1.subscriptions.update(subscription.id, params={"cancel_at_period_end": True})
    events.settle()
    (event_id,) = events.event_ids(customer, mark, set(HANDLED_EVENT_TYPES))
    arn = events.execution_arn(event_id)
    failed = events.sfn.describe_execution(executionArn=arn)
    assert failed["status"] == "FAILED" and failed["redriveStatus"] == "REDRIVABLE"
    steps = history(events.sfn, arn)
    assert entered_states(steps)[-1] == "SyncEntitlement"
    attempts = [e for e in steps if e["type"] == "LambdaFunctionFailed"]
    assert len(attempts) == 7  # the first try and six retries (MaxAttempts 6)
    assert all(e["lambdaFunctionFailedEventDetails"]["error"] == "StripeUnavailable" for e in attempts)
    assert events.entitlement(sub)["cancel_at_period_end"] is False

    stripe_admin(stack, "DELETE", "faults")
    events.sfn.redrive_execution(executionArn=arn)
    events.settle()
    done = events.sfn.describe_execution(executionArn=arn)
    assert done["status"] == "SUCCEEDED" and done["redriveCount"] == 1
    assert entered_states(history(events.sfn, arn)).count("ResolveCustomer") == 1
    assert events.entitlement(sub)["cancel_at_period_end"] is True
