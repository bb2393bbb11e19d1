"""Onboarding compensations on the local stack: a Stripe customer linked by another path while the
run created its own is deleted; a user deleted from Cognito mid-run has everything the run
created removed and the execution fails with ``UserDeletedDuringOnboarding``.

Each race is made deterministic: either the workflow's ``POST /v1/customers`` is held in flight
(a latency fault that clearing the faults releases) while the other side acts, or the execution
is failed at a task first and redriven after the user was deleted.
"""

from __future__ import annotations

import pytest
from onboarding_support import Onboarding, confirm_while_another_path_links_a_customer, outage_until, state_output
from support import admin, confirm, sign_up, stripe_admin, unique_email

UP_TO_THE_STRIPE_TASK = ["CheckDuplicateEmail", "RouteByEmailClaim", "WriteProfile", "InitEntitlement",
                         "CreateStripeCustomer"]


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


def test_a_customer_linked_by_another_path_first_is_kept_and_the_runs_own_customer_is_deleted(
        stack, onboarding, clean_faults):
    email = unique_email("checkout.first")
    # Meanwhile checkout's get-or-create makes a customer for the user and links it first.
    sub, other = confirm_while_another_path_links_a_customer(stack, onboarding, email)

    done = onboarding.finished(sub)
    assert done["status"] == "SUCCEEDED", done
    assert onboarding.states(sub) == UP_TO_THE_STRIPE_TASK + [
        "StoreStripeCustomerId", "RouteByStoredCustomer", "CompensateDeleteStripeCustomer",
        "OnboardingCompleteWithExistingCustomer"]
    events = onboarding.events(sub)
    own = state_output(events, "CreateStripeCustomer")["stripeCustomer"]
    assert own["created"] is True and own["customerId"] != other.id
    assert state_output(events, "StoreStripeCustomerId")["storedCustomer"]["outcome"] == "conflict"
    assert state_output(events, "CompensateDeleteStripeCustomer")["deletedCustomer"] == {
        "deletedCustomerId": own["customerId"], "keptCustomerId": other.id, "refused": None}

    assert onboarding.profile(sub)["stripeCustomerId"] == other.id
    assert [c.id for c in onboarding.customers(email)] == [other.id]
    assert onboarding.stripe.v1.customers.retrieve(own["customerId"]).get("deleted") is True
    assert onboarding.stripe.v1.customers.retrieve(other.id).get("deleted") is not True
    assert len(onboarding.customer_creations(sub)) == 1


def test_a_user_deleted_while_its_stripe_customer_is_created_is_rolled_back(stack, onboarding, clean_faults):
    email = unique_email("deleted.midrun")
    sub = sign_up(stack, email)

    with onboarding.held_customer_creation() as in_flight:
        confirm(stack, sub)
        in_flight()
        assert onboarding.profile(sub) is not None and onboarding.entitlement(sub) is not None
        onboarding.idp.admin_delete_user(UserPoolId=onboarding.pool, Username=sub)

    done = onboarding.finished(sub)
    assert done["status"] == "FAILED", done
    assert done["error"] == "UserDeletedDuringOnboarding"
    assert "deleted" in done["cause"]
    assert onboarding.states(sub) == UP_TO_THE_STRIPE_TASK + [
        "StoreStripeCustomerId", "CompensateRollbackOnboarding", "UserDeletedDuringOnboarding"]
    events = onboarding.events(sub)
    created = state_output(events, "CreateStripeCustomer")["stripeCustomer"]["customerId"]
    rollback = state_output(events, "CompensateRollbackOnboarding")
    assert rollback["error"]["Error"] == "CognitoUserNotFound"
    assert rollback["rollback"] == {"deletedCustomerIds": [created], "profileDeleted": True,
                                    "entitlementDeleted": True, "emailClaimReleased": True, "keptCustomers": {}}

    assert onboarding.stripe.v1.customers.retrieve(created).get("deleted") is True
    assert onboarding.customers(email) == []
    assert onboarding.profile(sub) is None
    assert onboarding.entitlement(sub) is None
    assert onboarding.claim(email) is None
    assert onboarding.cognito_user(sub) is None


def test_a_user_deleted_during_a_stripe_outage_is_rolled_back_when_the_execution_is_redriven(
        stack, onboarding, clean_faults):
    stripe_admin(stack, "POST", "faults", {"method": "POST", "path": "/v1/customers", "status": 503,
                                           "until": outage_until()})
    email = unique_email("deleted.outage")
    sub = sign_up(stack, email)
    confirm(stack, sub)
    failed = onboarding.finished(sub)
    assert failed["status"] == "FAILED" and failed["error"] == "StripeUnavailable", failed
    assert onboarding.states(sub) == UP_TO_THE_STRIPE_TASK

    onboarding.idp.admin_delete_user(UserPoolId=onboarding.pool, Username=sub)
    stripe_admin(stack, "DELETE", "faults")
    onboarding.sfn.redrive_execution(executionArn=failed["executionArn"])
    done = onboarding.finished(sub)

    assert done["status"] == "FAILED" and done["error"] == "UserDeletedDuringOnboarding", done
    assert done["redriveCount"] == 1
    assert onboarding.states(sub) == UP_TO_THE_STRIPE_TASK + [
        "CreateStripeCustomer", "CompensateRollbackOnboarding", "UserDeletedDuringOnboarding"]
    rollback = state_output(onboarding.events(sub), "CompensateRollbackOnboarding")["rollback"]
    assert rollback == {"deletedCustomerIds": [], "profileDeleted": True, "entitlementDeleted": True,
                        "emailClaimReleased": True, "keptCustomers": {}}
    # The redrive found the user gone before calling Stripe: no customer was ever created.
    assert {c["status"] for c in onboarding.customer_creations(sub)} == {503}
    assert onboarding.customers(email) == []
    assert onboarding.profile(sub) is None and onboarding.entitlement(sub) is None
    assert onboarding.claim(email) is None


def test_a_user_deleted_before_the_email_claim_is_rolled_back_with_nothing_to_remove(stack, onboarding, clean_faults):
    # The first CheckDuplicateEmail fails with an error nothing retries: the execution stops there.
    admin(stack, "POST", "faults", {"service": "lambda", "function": "CheckDuplicateEmailFunction",
                                    "error": "InjectedFault", "count": 1})
    email = unique_email("deleted.early")
    sub = sign_up(stack, email)
    confirm(stack, sub)
    failed = onboarding.finished(sub)
    assert failed["status"] == "FAILED" and failed["error"] == "InjectedFault", failed

    onboarding.idp.admin_delete_user(UserPoolId=onboarding.pool, Username=sub)
    onboarding.sfn.redrive_execution(executionArn=failed["executionArn"])
    done = onboarding.finished(sub)

    assert done["status"] == "FAILED" and done["error"] == "UserDeletedDuringOnboarding", done
    assert onboarding.states(sub) == ["CheckDuplicateEmail", "CheckDuplicateEmail", "CompensateRollbackOnboarding",
                                      "UserDeletedDuringOnboarding"]
    rollback = state_output(onboarding.events(sub), "CompensateRollbackOnboarding")["rollback"]
    assert rollback == {"deletedCustomerIds": [], "profileDeleted": False, "entitlementDeleted": False,
                        "emailClaimReleased": False, "keptCustomers": {}}
    assert onboarding.claim(email) is None and onboarding.profile(sub) is None
    assert onboarding.customer_creations(sub) == [] and onboarding.customers(email) == []
