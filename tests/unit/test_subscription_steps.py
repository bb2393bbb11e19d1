"""The subscription-events steps against moto (tables from template.yaml): ResolveCustomer,
RecordUnlinkedCustomer, UnlinkDeletedCustomer; every handler's bad input; the template wiring."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from linkflow_shared import InvalidStepInput, ProfileRecord
from linkflow_shared.subscription_events import (
    CustomerLink,
    EventHint,
    ResolvedCustomerInput,
    UnlinkedCustomerInput,
    record_unlinked_customer,
    resolve_customer,
    unlink_deleted_customer,
)
from unit_support import TEMPLATE, InMemoryStripe, function_env, resolve, resources

EVENT_FUNCTIONS = ["ResolveCustomerFunction", "SyncEntitlementFunction", "RecordUnlinkedCustomerFunction",
                   "UnlinkDeletedCustomerFunction"]


def Customers(**customers: dict[str, Any]) -> InMemoryStripe:  # noqa: N802  (reads like the fake it builds)
    """Stripe knowing exactly ``customers`` (by id)."""
    fake = InMemoryStripe()
    for customer_id, given in customers.items():
        fields = dict(given)
        fake.add(fields.pop("email", None), id=customer_id, **fields)
    return fake


def stripe_calls(fake: InMemoryStripe) -> int:
    return len(fake.calls)


def hint(customer: str, event_id: str = "evt_1") -> EventHint:
    return EventHint(event_id=event_id, event_type="customer.subscription.updated", customer_id=customer)


def profile(aws: Any, customer: str | None = None, sub: str | None = None) -> ProfileRecord:
    record = ProfileRecord(user_id=sub or str(uuid.uuid4()), email="ada@example.com", stripe_customer_id=customer,
                           created_at="2026-01-01T00:00:00.000Z")
    return aws.profiles.create(record)


# --- ResolveCustomer ----------------------------------------------------------------------------


def test_a_linked_customer_resolves_by_the_index_without_calling_stripe(aws):
    owner = profile(aws, "cus_a")
    fake = Customers()
    link = resolve_customer(hint("cus_a"), profiles=aws.profiles, stripe=fake)
    assert (link.outcome, link.sub, link.email, link.resolved_by) == ("linked", owner.user_id, owner.email,
                                                                      "profile_index")
    assert stripe_calls(fake) == 0


@pytest.mark.parametrize("key", ["cognito_user_id", "cognito_sub"])
def test_metadata_resolves_and_repairs_a_profile_without_a_link(aws, key):
    owner = profile(aws)
    fake = Customers(cus_b={"object": "customer", "email": "ada@example.com", "metadata": {key: owner.user_id}})
    table = aws.profiles
    link = resolve_customer(hint("cus_b"), profiles=table, stripe=fake)
    assert (link.outcome, link.sub, link.resolved_by, link.profile_repaired) == (
        "linked", owner.user_id, "customer_metadata", True)
    assert table.get(owner.user_id).stripe_customer_id == "cus_b"
    # The next event finds the link (here by metadata again: the index lags on AWS) and repairs nothing.
    again = resolve_customer(hint("cus_b", "evt_2"), profiles=table, stripe=fake)
    assert again.outcome == "linked" and again.profile_repaired is False


def test_a_profile_linking_another_customer_is_not_overwritten(aws):
    owner = profile(aws, "cus_other")
    fake = Customers(cus_c={"object": "customer", "metadata": {"cognito_sub": owner.user_id}})
    table = aws.profiles
    link = resolve_customer(hint("cus_c"), profiles=table, stripe=fake)
    assert (link.outcome, link.reason, link.metadata_sub) == ("unlinked", "profile_links_another_customer",
                                                              owner.user_id)
    assert table.get(owner.user_id).stripe_customer_id == "cus_other"


@pytest.mark.parametrize("customer, reason", [
    ({"object": "customer", "email": "x@example.com", "metadata": {}}, "no_user_in_metadata"),
    ({"object": "customer", "metadata": {"cognito_user_id": "no-such-user"}}, "no_profile_for_metadata_user"),
])
def test_a_customer_no_user_owns_is_unlinked_with_the_reason(aws, customer, reason):
    link = resolve_customer(hint("cus_d"), profiles=aws.profiles,
                            stripe=Customers(cus_d=customer))
    assert (link.outcome, link.reason, link.sub) == ("unlinked", reason, None)
    assert aws.items("UserProfilesTable") == []  # a repair needs a profile: none was created


def test_deleted_unknown_and_doubly_linked_customers(aws):
    table = aws.profiles
    fake = Customers(cus_gone={"object": "customer", "deleted": True})
    assert resolve_customer(hint("cus_gone"), profiles=table, stripe=fake).outcome == "deleted"
    assert resolve_customer(hint("cus_never"), profiles=table, stripe=fake).reason == "unknown_customer"
    profile(aws, "cus_twice")
    profile(aws, "cus_twice")
    link = resolve_customer(hint("cus_twice"), profiles=table, stripe=fake)
    assert (link.outcome, link.reason) == ("unlinked", "linked_to_several_users")


# --- RecordUnlinkedCustomer ---------------------------------------------------------------------


def unlinked_input(customer: str, event_id: str, reason: str = "no_user_in_metadata") -> UnlinkedCustomerInput:
    return UnlinkedCustomerInput(event_id=event_id, event_type="invoice.paid", customer_id=customer,
                            customer=CustomerLink(outcome="unlinked", customer_id=customer, reason=reason,
                                                  customer_email="x@example.com"))


def test_an_unlinked_customer_is_counted_once_per_event(aws):
    table = aws.unlinked
    first = record_unlinked_customer(unlinked_input("cus_u", "evt_1"), unlinked=table)
    again = record_unlinked_customer(unlinked_input("cus_u", "evt_1"), unlinked=table)  # a retry or redrive
    later = record_unlinked_customer(unlinked_input("cus_u", "evt_2"), unlinked=table)
    assert (first.event_count, again.event_count, later.event_count) == (1, 1, 2)
    stored = table.get("cus_u")
    assert (stored.reason, stored.last_event_id, stored.email) == ("no_user_in_metadata", "evt_2", "x@example.com")
    assert stored.first_seen_at == first.first_seen_at <= stored.last_seen_at
    assert [c.stripe_customer_id for c in table.list_all()] == ["cus_u"]


# --- UnlinkDeletedCustomer ----------------------------------------------------------------------


def linked_input(customer: str, sub: str) -> ResolvedCustomerInput:
    return ResolvedCustomerInput(event_id="evt_del", event_type="customer.deleted", customer_id=customer,
                            customer=CustomerLink(outcome="linked", customer_id=customer, sub=sub))


def test_the_deleted_customer_is_removed_from_the_profile_only_if_it_still_links_it(aws):
    table = aws.profiles
    owner = profile(aws, "cus_del")
    assert unlink_deleted_customer(linked_input("cus_del", owner.user_id), profiles=table).unlinked is True
    assert table.get(owner.user_id).stripe_customer_id is None
    assert unlink_deleted_customer(linked_input("cus_del", owner.user_id), profiles=table).unlinked is False
    relinked = profile(aws, "cus_new")
    assert unlink_deleted_customer(linked_input("cus_del", relinked.user_id), profiles=table).unlinked is False
    assert table.get(relinked.user_id).stripe_customer_id == "cus_new"


# --- handlers -----------------------------------------------------------------------------------

BAD_INPUTS = {
    "not an object": ["evt_1"],
    "no event id": {"eventType": "invoice.paid", "customerId": "cus_1"},
    "blank customer": {"eventId": "evt_1", "eventType": "invoice.paid", "customerId": " "},
    "unknown outcome": {"eventId": "evt_1", "eventType": "invoice.paid", "customerId": "cus_1",
                        "customer": {"outcome": "maybe", "customerId": "cus_1"}},
}


@pytest.mark.parametrize("logical_id, case", [
    (fn, case) for fn in EVENT_FUNCTIONS for case in sorted(BAD_INPUTS)
    if not (fn == "ResolveCustomerFunction" and case == "unknown outcome")  # it reads no customer link
])
def test_bad_step_input_is_a_terminal_error_and_writes_nothing(aws, load_handler, context, logical_id, case):
    handler = load_handler(logical_id)
    with pytest.raises(InvalidStepInput):
        handler(BAD_INPUTS[case], context)
    for table in resources("AWS::DynamoDB::Table"):
        assert aws.items(table) == []


@pytest.mark.parametrize("logical_id", ["SyncEntitlementFunction", "UnlinkDeletedCustomerFunction"])
def test_steps_for_linked_customers_refuse_an_unlinked_one(aws, load_handler, context, logical_id):
    state = unlinked_input("cus_1", "evt_1").dump()
    with pytest.raises(InvalidStepInput):
        load_handler(logical_id)(state, context)


def test_record_unlinked_refuses_a_linked_customer(aws, load_handler, context):
    with pytest.raises(InvalidStepInput):
        load_handler("RecordUnlinkedCustomerFunction")(linked_input("cus_1", "u").dump(), context)


def test_the_handlers_run_a_step_end_to_end(aws, load_handler, context):
    owner = profile(aws, "cus_e2e")
    unlink = load_handler("UnlinkDeletedCustomerFunction")
    assert unlink(linked_input("cus_e2e", owner.user_id).dump(), context)["unlinked"] is True
    recorded = load_handler("RecordUnlinkedCustomerFunction")(unlinked_input("cus_x", "evt_9").dump(), context)
    assert (recorded["stripeCustomerId"], recorded["eventCount"]) == ("cus_x", 1)


# --- template -----------------------------------------------------------------------------------


def test_the_events_machine_may_invoke_exactly_the_functions_its_definition_names():
    machine = TEMPLATE["Resources"]["SubscriptionEventsStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD" and resolve(machine["Name"]) == "linkflow-dev-subscription-events"
    named = {v["Fn::GetAtt"][0] for k, v in machine["DefinitionSubstitutions"].items() if k.endswith("FunctionArn")}
    invoke = [p["LambdaInvokePolicy"] for p in machine["Policies"] if "LambdaInvokePolicy" in p]  # + log delivery
    invokable = {p["FunctionName"]["Ref"] for p in invoke}
    assert named == invokable == set(EVENT_FUNCTIONS)


def test_the_ingress_is_the_http_api_route_and_may_start_only_the_events_machine():
    fn = TEMPLATE["Resources"]["StripeWebhookFunction"]["Properties"]
    assert fn["Events"] == {"Webhook": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "WebhookHttpApi"},
                                                                         "Path": "/stripe/webhook",
                                                                         "Method": "POST"}}}
    arn = function_env("StripeWebhookFunction")["SUBSCRIPTION_EVENTS_STATE_MACHINE_ARN"]
    assert arn.endswith(":stateMachine:linkflow-dev-subscription-events")
    statements = [s for p in fn["Policies"] if "Statement" in p for s in p["Statement"]]
    assert [resolve(s["Resource"]) for s in statements] == [arn]
    assert [s["Action"] for s in statements] == ["states:StartExecution"]  # no DynamoDB, nothing else


def test_the_outputs_name_the_events_resources():
    outputs = TEMPLATE["Outputs"]
    assert outputs["SubscriptionEventsStateMachineArn"]["Value"] == {"Ref": "SubscriptionEventsStateMachine"}
    assert outputs["UnlinkedCustomersTableName"]["Value"] == {"Ref": "UnlinkedCustomersTable"}
    assert "/stripe/webhook" in json.dumps(outputs["StripeWebhookUrl"]["Value"])
    # per-stage by default (Stage dev); UnlinkedCustomersTableName=UnlinkedStripeCustomers keeps the old name
    assert function_env("RecordUnlinkedCustomerFunction")["UNLINKED_CUSTOMERS_TABLE"] == (
        "linkflow-dev-UnlinkedStripeCustomers")
