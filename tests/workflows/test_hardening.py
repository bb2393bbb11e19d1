"""Hostile tests of issue #11 on the local stack: what an outage, a wrong Stripe key or a racing
payment could do to a paying user's records, and what the workflows do instead.

- A Stripe 404 for a linked customer (a wrong key, a test/live mix-up) fails SyncEntitlement with
  ``StripeCustomerMissing`` and changes nothing: before, it read as "deleted" and wiped the
  entitlement and the link.
- A Connect event (``account`` set) is refused at the ingress; nothing starts.
- Compensations delete only onboarding's own empty customer: a customer that has a subscription by
  the time the compensation runs is kept, with the profile and the paid entitlement that link it,
  and recorded in UnlinkedStripeCustomers for an operator.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from onboarding_support import Onboarding, confirm_while_another_path_links_a_customer, state_output
from subscription_events_support import Events
from support import admin, confirm, sign_up, unique_email, wait_until


@pytest.fixture(scope="module")
def events(stack) -> Events:
    return Events(stack)


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


def event_body(customer: str, event_type: str = "customer.subscription.updated", **extra: object) -> bytes:
    return json.dumps({
        "id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": event_type, "livemode": False,
        "created": int(time.time()), "api_version": "2026-02-25.clover",
        "data": {"object": {"id": f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "customer": customer}},
        **extra,
    }).encode()


def subscribe(events: Events, customer: str) -> None:
    events.stripe.v1.subscriptions.create(params={"customer": customer, "items": [{"price": events.price("pro").id}]})


# --- 4. a Stripe 404 never wipes a paying user --------------------------------------------------


def test_a_404_for_a_linked_customer_fails_the_sync_and_changes_nothing(events):
    sub, customer = events.seeded_user()
    subscribe(events, customer)
    events.settle()
    assert events.entitlement(sub)["status"] == "active"
    # The profile now links a customer this Stripe key cannot see (another account, the other mode).
    stranger = f"cus_{uuid.uuid4().hex[:14]}"
    events._ddb.update_item(TableName=events.tables["profiles"], Key={"userId": {"S": sub}},
                            UpdateExpression="SET stripeCustomerId = :c",
                            ExpressionAttributeValues={":c": {"S": stranger}})
    before = events.entitlement(sub)

    body = event_body(stranger)
    status, answer = events.post(body)
    assert status == 200 and answer["duplicate"] is False
    arn = events.execution_arn(json.loads(body)["id"])
    done = wait_until(lambda: (d := events.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                      what="the events execution")
    assert done["status"] == "FAILED" and done["error"] == "StripeCustomerMissing", done
    assert events.entitlement(sub) == before, "a 404 must not touch the entitlement"
    assert events.profile(sub)["stripeCustomerId"] == stranger, "nor the link"


def test_a_connect_event_is_refused_at_the_ingress_and_starts_nothing(events):
    sub, customer = events.seeded_user()
    body = event_body(customer, account="acct_1Connected")
    status, answer = events.post(body)
    assert (status, answer["error"]) == (400, "connect_event")
    assert events.executions_named(json.loads(body)["id"]) == []


# --- 5. compensations never delete a paying customer ---------------------------------------------


def fail_once_at(stack, onboarding: Onboarding, function: str, email: str) -> tuple[str, dict]:
    """Sign ``email`` up with ``function`` failing once (an error nothing retries): ``(sub, the
    failed execution)``."""
    admin(stack, "POST", "faults", {"service": "lambda", "function": function, "error": "InjectedFault", "count": 1})
    sub = sign_up(stack, email)
    confirm(stack, sub)
    failed = onboarding.finished(sub)
    assert failed["status"] == "FAILED" and failed["error"] == "InjectedFault", failed
    return sub, failed


def customer_paying(events: Events, customer: str) -> None:
    events.use_card(customer)
    subscribe(events, customer)
    events.settle()


def test_a_rollback_keeps_a_customer_that_started_paying_with_its_profile_and_entitlement(
        stack, events, onboarding, clean_faults):
    # The run stops right after creating its customer ...
    email = unique_email("rollback.paying")
    sub, failed = fail_once_at(stack, onboarding, "StoreStripeCustomerIdFunction", email)
    customer = state_output(onboarding.events(sub), "CreateStripeCustomer")["stripeCustomer"]["customerId"]
    # ... meanwhile the user subscribes (the events machine links the customer by its metadata) ...
    customer_paying(events, customer)
    assert events.entitlement(sub)["status"] == "active"
    # ... and is then deleted from Cognito; the redrive finds the user gone and rolls back.
    onboarding.idp.admin_delete_user(UserPoolId=onboarding.pool, Username=sub)
    onboarding.sfn.redrive_execution(executionArn=failed["executionArn"])
    done = onboarding.finished(sub)
    assert done["status"] == "FAILED" and done["error"] == "UserDeletedDuringOnboarding", done

    rollback = state_output(onboarding.events(sub), "CompensateRollbackOnboarding")["rollback"]
    assert rollback["keptCustomers"] == {customer: "has_subscriptions"} and rollback["deletedCustomerIds"] == []
    assert rollback["entitlementDeleted"] is False and rollback["profileDeleted"] is False
    assert events.stripe.v1.customers.retrieve(customer).get("deleted") is not True
    assert events.entitlement(sub)["status"] == "active"
    assert events.profile(sub)["stripeCustomerId"] == customer
    assert onboarding.claim(email) is not None, "the email stays claimed while the paying records remain"
    assert events.unlinked(customer)["reason"] == "kept_by_compensation:has_subscriptions"


def test_the_duplicate_customer_compensation_keeps_a_customer_with_a_subscription(
        stack, events, onboarding, clean_faults):
    # The run's compensation fails once (nothing retries it), so the customer can start paying first.
    admin(stack, "POST", "faults", {"service": "lambda", "function": "CompensateDeleteStripeCustomerFunction",
                                    "error": "InjectedFault", "count": 1})
    sub, other = confirm_while_another_path_links_a_customer(stack, onboarding, unique_email("duplicate.paying"))
    failed = onboarding.finished(sub)
    assert failed["status"] == "FAILED" and failed["error"] == "InjectedFault", failed
    own = state_output(onboarding.events(sub), "CreateStripeCustomer")["stripeCustomer"]["customerId"]
    customer_paying(events, own)  # the events machine records it as unlinked first (another is linked)

    onboarding.sfn.redrive_execution(executionArn=failed["executionArn"])
    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    deletion = state_output(onboarding.events(sub), "CompensateDeleteStripeCustomer")["deletedCustomer"]
    assert deletion == {"deletedCustomerId": None, "keptCustomerId": other.id, "refused": "has_subscriptions"}
    assert events.stripe.v1.customers.retrieve(own).get("deleted") is not True
    assert events.unlinked(own)["reason"] == "kept_by_compensation:has_subscriptions"
