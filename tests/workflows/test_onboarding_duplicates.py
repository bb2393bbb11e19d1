"""One account per email: PreSignUp rejects a native sign-up whose email is taken, links a Google
identity with a verified email to the account holding it, never links an unverified one; sign-ups
that get past PreSignUp are caught by the workflow's atomic email claim."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest
from onboarding_support import Onboarding, provider_user_id, state_output
from support import admin, confirm, sign_up, unique_email


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


def _google_sign_in(stack, email: str, *, verified: bool = True, subject: str | None = None) -> dict:
    status, answer = admin(stack, "POST", "federated-signin", {"provider": "Google", "email": email,
                                                               "email_verified": verified,
                                                               "provider_user_id": subject or provider_user_id()})
    assert status == 200, answer
    return answer


def _rejected_sign_up(stack, email: str) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as rejected:
        sign_up(stack, email)
    error = rejected.value.response["Error"]
    assert error["Code"] == "UserLambdaValidationException", error
    return error["Message"]


def _only_owner(onboarding: Onboarding, email: str, owner: str, spellings: list[str]) -> None:
    """``owner`` is the only holder of ``email`` in every store; nothing was recorded against it."""
    for spelling in spellings:
        assert [u["Attributes"] for u in onboarding.users_with_email(spelling)
                if {"Name": "sub", "Value": owner} not in u["Attributes"]] == [], spelling
    assert onboarding.profile_ids_with_email(email) == [owner]
    claim = onboarding.claim(email)
    assert claim["userId"] == owner and "rejections" not in claim
    (customer,) = onboarding.customers(email)
    assert customer.metadata["cognito_sub"] == owner


# --- PreSignUp rejects a native sign-up whose email is taken -------------------------------------


def test_native_sign_up_with_the_email_of_a_google_account_is_rejected_in_any_spelling(stack, onboarding):
    email = unique_email("google.owner")
    google = _google_sign_in(stack, email)
    assert google["new_user"] is True
    assert onboarding.finished(google["sub"])["status"] == "SUCCEEDED"
    spellings = [email, email.upper(), f"  {email}  ", "\t" + email.title()]

    for spelling in spellings:
        message = _rejected_sign_up(stack, spelling)
        assert f"An account with email {email} already exists. Please sign in instead." in message, spelling

    _only_owner(onboarding, email, google["sub"], spellings)
    assert onboarding.executions_named(google["sub"])[0]["status"] == "SUCCEEDED"


def test_native_sign_up_with_another_spelling_of_a_native_accounts_email_is_rejected(stack, onboarding):
    email = unique_email("native.owner")
    owner = onboarding.native_user(email)
    # The local Cognito, like Cognito's email attribute, compares exact strings: this spelling is
    # not refused by Cognito itself and reaches PreSignUp.
    message = _rejected_sign_up(stack, email.upper())
    assert f"An account with email {email} already exists. Please sign in instead." in message
    _only_owner(onboarding, email, owner, [email, email.upper()])


def test_a_native_sign_up_that_slips_past_a_failing_pre_sign_up_is_disabled_by_the_workflow(
        stack, onboarding, clean_faults):
    email = unique_email("slipped")
    google = _google_sign_in(stack, email)
    assert onboarding.finished(google["sub"])["status"] == "SUCCEEDED"
    # PreSignUp cannot read the email claim nor list users (two attempts each): it fails open.
    for operation, service, resource in (("GetItem", "dynamodb", stack.info["outputs"]["EmailClaimsTableName"]),
                                         ("ListUsers", "cognito-idp", None)):
        admin(stack, "POST", "faults", {"service": service, "operation": operation, "resource": resource,
                                        "count": 2})
    slipped = sign_up(stack, email.upper())
    admin(stack, "DELETE", "faults")
    confirm(stack, slipped)

    done = onboarding.finished(slipped)
    assert done["status"] == "FAILED" and done["error"] == "DuplicateEmailAccount", done
    assert onboarding.states(slipped) == ["CheckDuplicateEmail", "RouteByEmailClaim",
                                          "CompensateDisableDuplicateAccount", "DuplicateAccountDisabled"]
    assert onboarding.cognito_user(slipped)["Enabled"] is False
    claim = onboarding.claim(email)
    assert claim["userId"] == google["sub"] and claim["rejectedUserIds"] == [slipped]
    (rejection,) = claim["rejections"]
    assert (rejection["userId"], rejection["ownerUserId"], rejection["reason"], rejection["cognitoDisabled"]) == (
        slipped, google["sub"], "duplicate_native_sign_up", True)
    assert onboarding.profile(slipped) is None and onboarding.entitlement(slipped) is None
    assert onboarding.profile_ids_with_email(email) == [google["sub"]]
    assert len(onboarding.customers(email)) == 1


# --- Google sign-in with the email of a native account -------------------------------------------


def test_google_sign_in_with_a_verified_email_is_linked_to_the_native_account(stack, onboarding):
    email = unique_email("linked")
    owner = onboarding.native_user(email)
    subject = provider_user_id()

    first = _google_sign_in(stack, email, subject=subject)
    again = _google_sign_in(stack, email, subject=subject)

    # Cognito fails the first attempt once after PreSignUp linked; every sign-in resolves to the owner.
    assert (first["sub"], first["linked"], first["new_user"]) == (owner, True, False)
    assert "Already found an entry for username" in first["first_attempt_error"]
    assert (again["sub"], again["linked"]) == (owner, True)
    assert [(i["providerName"], i["userId"]) for i in onboarding.identities(owner)] == [("Google", subject)]
    assert onboarding.cognito_user(f"Google_{subject}") is None
    assert onboarding.profile(owner)["providers"] == ["Cognito", "Google"]
    assert onboarding.profile_ids_with_email(email) == [owner]
    (customer,) = onboarding.customers(email)
    assert customer.id == onboarding.profile(owner)["stripeCustomerId"]
    assert [e["name"] for e in onboarding.executions_named(owner)] == [owner]


def test_google_sign_in_with_an_unverified_email_is_never_linked_and_claims_nothing(stack, onboarding):
    # Product rule: an unverified email never claims an address. The account is onboarded under its
    # own sub (profile, entitlement, customer) and the owner keeps the email.
    email = unique_email("unverified")
    owner = onboarding.native_user(email)
    subject = provider_user_id()

    google = _google_sign_in(stack, email, verified=False, subject=subject)

    assert (google["linked"], google["new_user"]) == (False, True) and google["sub"] != owner
    done = onboarding.finished(google["sub"])
    assert done["status"] == "SUCCEEDED", done
    assert onboarding.states(google["sub"])[:3] == ["CheckDuplicateEmail", "RouteByEmailClaim", "WriteProfile"]
    claim_result = state_output(onboarding.events(google["sub"]), "CheckDuplicateEmail")["emailClaim"]
    assert claim_result["outcome"] == "unverified"
    assert onboarding.identities(owner) == []
    assert onboarding.cognito_user(google["username"])["Enabled"] is True
    claim = onboarding.claim(email)
    assert claim["userId"] == owner and not claim.get("rejectedUserIds")
    assert onboarding.profile(google["sub"]) is not None and onboarding.entitlement(google["sub"]) is not None
    assert onboarding.profile(google["sub"])["stripeCustomerId"]
    assert onboarding.profile(owner)["providers"] == ["Cognito"]
    assert sorted(c.metadata["cognito_sub"] for c in onboarding.customers(email)) == sorted([owner, google["sub"]])


def test_google_sign_in_that_pre_sign_up_could_not_link_is_linked_by_the_workflow(stack, onboarding, clean_faults):
    email = unique_email("linklater")
    owner = onboarding.native_user(email)
    subject = provider_user_id()
    # Cognito refuses PreSignUp's link (both attempts): it fails open and Cognito creates the user.
    admin(stack, "POST", "faults", {"service": "cognito-idp", "operation": "AdminLinkProviderForUser", "count": 2})

    google = _google_sign_in(stack, email, subject=subject)

    assert (google["linked"], google["new_user"]) == (False, True)
    done = onboarding.finished(google["sub"])
    assert done["status"] == "SUCCEEDED", done
    assert onboarding.states(google["sub"]) == ["CheckDuplicateEmail", "RouteByEmailClaim", "LinkProvider",
                                                "LinkedToExistingAccount"]
    assert [(i["providerName"], i["userId"]) for i in onboarding.identities(owner)] == [("Google", subject)]
    assert onboarding.cognito_user(google["username"]) is None  # Cognito links only an identity without a user
    assert _google_sign_in(stack, email, subject=subject)["sub"] == owner
    assert onboarding.profile(owner)["providers"] == ["Cognito", "Google"]
    assert onboarding.profile(google["sub"]) is None and onboarding.entitlement(google["sub"]) is None
    assert onboarding.claim(email)["userId"] == owner
    assert len(onboarding.customers(email)) == 1


# --- two native sign-ups racing past PreSignUp ----------------------------------------------------


def test_two_sign_ups_with_one_email_confirmed_at_once_leave_one_owner_and_one_disabled_account(stack, onboarding):
    email = unique_email("twins")
    # PreSignUp only counts confirmed users: both unconfirmed sign-ups get through.
    subs = [sign_up(stack, email), sign_up(stack, email)]
    assert subs[0] != subs[1]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda sub: confirm(stack, sub), subs))
    outcomes = {sub: onboarding.finished(sub) for sub in subs}

    (owner,) = [sub for sub, d in outcomes.items() if d["status"] == "SUCCEEDED"]
    (loser,) = [sub for sub, d in outcomes.items() if d["status"] == "FAILED"]
    assert outcomes[loser]["error"] == "DuplicateEmailAccount"
    assert onboarding.states(loser)[-2:] == ["CompensateDisableDuplicateAccount", "DuplicateAccountDisabled"]
    assert onboarding.cognito_user(owner)["Enabled"] is True
    assert onboarding.cognito_user(loser)["Enabled"] is False
    claim = onboarding.claim(email)
    assert claim["userId"] == owner and claim["rejectedUserIds"] == [loser]
    (rejection,) = claim["rejections"]
    assert (rejection["userId"], rejection["ownerUserId"], rejection["reason"], rejection["cognitoDisabled"]) == (
        loser, owner, "duplicate_native_sign_up", True)
    assert onboarding.profile_ids_with_email(email) == [owner]
    assert onboarding.entitlement(loser) is None
    (customer,) = onboarding.customers(email)
    assert customer.metadata["cognito_sub"] == owner == onboarding.profile(owner)["userId"]
    assert customer.id == onboarding.profile(owner)["stripeCustomerId"]
