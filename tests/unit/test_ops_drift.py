"""Drift between Cognito, the two tables and Stripe, from joined views built by hand."""

from __future__ import annotations

from linkflow_shared.stores import EntitlementRecord, ProfileRecord

from linkflow.ops.drift import CognitoView, CustomerView, UserView, find_drift, orphan_drift

SUB = "4d54c1f7-4d03-455b-b60a-99c1282deeff"
OTHER = "9b0e6f43-0000-4000-8000-000000000001"


def _healthy(**changes) -> UserView:
    view = UserView(
        sub=SUB,
        cognito=CognitoView(username=SUB, sub=SUB, status="CONFIRMED", enabled=True, email="ada@example.com"),
        profile=ProfileRecord(user_id=SUB, email="ada@example.com", stripe_customer_id="cus_A"),
        entitlement=EntitlementRecord(cognito_sub=SUB, email="ada@example.com", status="none",
                                      stripe_customer_id="cus_A"),
        customers=[CustomerView(id="cus_A", email="ada@example.com", metadata={"cognito_sub": SUB},
                                sources=["profile", "search"])],
        onboarding={"name": SUB, "status": "SUCCEEDED"},
    )
    for key, value in changes.items():
        setattr(view, key, value)
    return view


def _codes(view: UserView) -> list[str]:
    return [d.code for d in find_drift(view)]


def test_a_healthy_user_has_no_drift():
    assert _codes(_healthy()) == []


def test_missing_records():
    assert _codes(_healthy(profile=None)) == ["no_profile"]
    assert _codes(_healthy(entitlement=None)) == ["no_entitlement"]
    no_customer = _healthy(profile=ProfileRecord(user_id=SUB, email="ada@example.com"), customers=[],
                           entitlement=EntitlementRecord(cognito_sub=SUB, email="ada@example.com"))
    assert _codes(no_customer) == ["profile_without_customer"]
    assert _codes(_healthy(cognito=None)) == ["no_cognito_user"]


def test_missing_records_are_expected_for_unconfirmed_disabled_or_still_onboarding_users():
    for cognito in (CognitoView(username=SUB, sub=SUB, status="UNCONFIRMED", enabled=True),
                    CognitoView(username=SUB, sub=SUB, status="CONFIRMED", enabled=False)):
        view = _healthy(cognito=cognito, profile=None, entitlement=None, customers=[])
        assert _codes(view) == []
        assert view.notes
    running = _healthy(profile=None, entitlement=None, customers=[], onboarding={"name": SUB, "status": "RUNNING"})
    assert _codes(running) == []


def test_stored_customer_deleted_or_unknown_or_someone_elses():
    deleted = CustomerView(id="cus_A", deleted=True, sources=["profile"])
    assert _codes(_healthy(customers=[deleted])) == ["customer_deleted"]
    unknown = CustomerView(id="cus_A", found=False, sources=["profile"])
    (missing,) = find_drift(_healthy(customers=[unknown]))
    assert missing.code == "customer_not_found"
    assert "StripeCustomerMissing" in missing.message, "users show says what the events machine does about it"
    theirs = CustomerView(id="cus_A", email="ada@example.com", metadata={"cognito_sub": OTHER})
    drift = find_drift(_healthy(customers=[theirs]))
    assert [d.code for d in drift] == ["customer_metadata_mismatch"] and OTHER in drift[0].message


def test_several_live_customers_for_one_sub():
    second = CustomerView(id="cus_B", email="ada@example.com", metadata={"cognito_user_id": SUB}, sources=["email"])
    view = _healthy()
    view.customers.append(second)
    drift = find_drift(view)
    assert [d.code for d in drift] == ["multiple_customers"]
    assert "cus_A" in drift[0].message and "cus_B" in drift[0].message


def test_profile_and_entitlement_disagree_on_the_customer():
    view = _healthy(entitlement=EntitlementRecord(cognito_sub=SUB, email="ada@example.com", stripe_customer_id="cus_Z"))
    assert "entitlement_customer_mismatch" in _codes(view)


def test_email_mismatch_ignores_case_and_names_every_store():
    view = _healthy(profile=ProfileRecord(user_id=SUB, email="ADA@example.com ", stripe_customer_id="cus_A"))
    assert _codes(view) == []
    stripe_differs = _healthy()
    stripe_differs.customers[0].email = "old@example.com"
    drift = find_drift(stripe_differs)
    assert [d.code for d in drift] == ["email_mismatch"]
    assert "stripe cus_A=old@example.com" in drift[0].message and "cognito=ada@example.com" in drift[0].message


def test_paid_in_stripe_but_no_access():
    view = _healthy()
    view.customers[0].subscriptions = [{"id": "sub_1", "status": "active", "plan": "pro"}]
    drift = find_drift(view)
    assert [d.code for d in drift] == ["entitlement_behind_stripe"]
    assert "sub_1 is active" in drift[0].message and "entitlement is none" in drift[0].message
    view.entitlement = EntitlementRecord(cognito_sub=SUB, email="ada@example.com", status="active",
                                         stripe_customer_id="cus_A")
    assert _codes(view) == []


def test_failed_onboarding_points_at_the_redrive():
    drift = find_drift(_healthy(onboarding={"name": SUB, "status": "FAILED"}))
    assert [d.code for d in drift] == ["onboarding_failed"]
    assert f"linkflow executions redrive {SUB}" in drift[0].message


def test_events_the_events_machine_could_not_link():
    view = _healthy()
    view.customers[0].unlinked = {"reason": "no_profile_for_customer", "last_event_type": "checkout.session.completed",
                                  "last_event_id": "evt_1"}
    drift = find_drift(view)
    assert [d.code for d in drift] == ["customer_events_unlinked"]
    assert "checkout.session.completed evt_1" in drift[0].message


def test_orphan_customer():
    drift = orphan_drift(CustomerView(id="cus_X", email="ada@example.com"))
    assert drift.code == "customer_without_user" and drift.sub is None and "cus_X" in drift.message
    seen = orphan_drift(CustomerView(id="cus_Y", unlinked={"last_event_type": "invoice.paid", "last_event_id": "e"}))
    assert "recorded as unlinked (last invoice.paid e)" in seen.message


def test_json_field_names_are_stable():
    doc = _healthy().to_json()
    assert set(doc) == {"sub", "cognito", "profile", "entitlement", "stripe_customers", "onboarding", "notes",
                        "drift"}
    assert set(doc["cognito"]) == {"username", "status", "enabled", "email", "email_verified", "created",
                                   "linked_providers", "identities"}
    assert set(doc["stripe_customers"][0]) == {"id", "email", "deleted", "found", "metadata", "sources",
                                               "subscriptions", "unlinked"}
    assert doc["profile"]["stripe_customer_id"] == "cus_A"
    assert doc["entitlement"]["status"] == "none"
