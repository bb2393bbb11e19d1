"""Issue #11 point 2: pre-account takeover through an email change and linking.

The attack: an attacker signs up natively, confirms, then changes its email to the victim's
address with its own access token (UpdateUserAttributes). When the victim first signs in with
Google, PreSignUp used to link that Google identity into the account holding the address (any
owner whose email attribute matched, verified or not): the attacker's account, whose password the
attacker holds, would then receive the victim's sign-ins.

Two layers stop it, and each is tested alone:
- the pool (template.yaml): ``AttributesRequireVerificationBeforeUpdate: [email]`` keeps the new
  email pending until the code sent to it comes back, so the attacker's account never holds the
  victim's address; the app client cannot write ``email_verified``;
- the Lambda rules (functions/shared): a federated identity is linked only into an owner whose
  email is verified, and an email change resets ``email_verified`` (the local Cognito, as Cognito).
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest
from onboarding_support import Onboarding, provider_user_id
from support import admin, confirm, sign_up, unique_email

PASSWORD = "Corr3ct-Horse-Battery!"  # what support.sign_up uses


@pytest.fixture(scope="module")
def onboarding(stack) -> Onboarding:
    return Onboarding(stack)


@pytest.fixture(scope="module")
def lenient_pool(stack) -> str:
    """A second pool wired to the same triggers, without AttributesRequireVerificationBeforeUpdate:
    an email change takes effect at once (unverified), so only the Lambda rules stand."""
    idp = stack.client("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=stack.info["cognito"]["user_pool_id"])["UserPool"]
    assert pool["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"] == ["email"]
    created = idp.create_user_pool(
        PoolName="linkflow-local-lenient", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        LambdaConfig={k: pool["LambdaConfig"][k] for k in ("PreSignUp", "PostConfirmation")},
    )["UserPool"]
    return str(created["Id"])


def _client(stack: Any, pool_id: str) -> str:
    if pool_id == stack.info["cognito"]["user_pool_id"]:
        return str(stack.info["cognito"]["client_id"])
    idp = stack.client("cognito-idp")
    found = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)["UserPoolClients"]
    if found:
        return str(found[0]["ClientId"])
    return str(idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app", WriteAttributes=[
        "email", "given_name", "family_name"], ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
        ["UserPoolClient"]["ClientId"])


def _attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def _native_user(stack: Any, onboarding: Onboarding, pool_id: str, email: str) -> tuple[str, str]:
    """Sign up, confirm, wait for the onboarding, sign in: ``(sub, access token)``."""
    idp = stack.client("cognito-idp")
    client_id = _client(stack, pool_id)
    sub = idp.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)["UserSub"]
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=sub)
    assert onboarding.finished(sub)["status"] == "SUCCEEDED"
    tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
    return sub, str(tokens["AccessToken"])


def _google_first_sign_in(stack: Any, pool_id: str, email: str) -> dict[str, Any]:
    status, answer = admin(stack, "POST", "federated-signin", {
        "provider": "Google", "email": email, "email_verified": True, "provider_user_id": provider_user_id(),
        "user_pool_id": pool_id})
    assert status == 200, answer
    return dict(answer)


def _assert_attack_failed(stack: Any, onboarding: Onboarding, pool_id: str, attacker: str, attacker_email: str,
                          victim: dict[str, Any], victim_email: str) -> None:
    idp = stack.client("cognito-idp")
    assert victim["new_user"] is True and victim["linked"] is False, victim
    assert victim["sub"] != attacker, "the victim's Google sign-in resolved to the attacker's account"
    attacker_user = idp.admin_get_user(UserPoolId=pool_id, Username=attacker)
    identities = _attributes(attacker_user).get("identities", "[]")
    assert "Google" not in identities, identities
    assert onboarding.finished(victim["sub"])["status"] == "SUCCEEDED"
    assert onboarding.claim(victim_email)["userId"] == victim["sub"]  # the victim owns its address
    assert onboarding.claim(attacker_email)["userId"] == attacker  # and the attacker only its own
    assert onboarding.profile(victim["sub"])["email"] == victim_email
    assert onboarding.profile(attacker)["email"] == attacker_email


def test_the_email_change_takeover_ends_with_two_accounts_and_the_victim_owning_its_email(stack, onboarding):
    pool_id = stack.info["cognito"]["user_pool_id"]
    idp = stack.client("cognito-idp")
    attacker_email, victim_email = unique_email("attacker"), unique_email("victim")
    attacker, token = _native_user(stack, onboarding, pool_id, attacker_email)

    answer = idp.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": victim_email}])
    assert [d["AttributeName"] for d in answer["CodeDeliveryDetailsList"]] == ["email"]  # the code goes to the victim
    seen = _attributes(idp.get_user(AccessToken=token))
    assert (seen["email"], seen["email_verified"]) == (attacker_email, "true")  # the change is only pending
    assert onboarding.users_with_email(victim_email) == []

    victim = _google_first_sign_in(stack, pool_id, victim_email)

    _assert_attack_failed(stack, onboarding, pool_id, attacker, attacker_email, victim, victim_email)
    assert {u["Username"] for u in onboarding.users_with_email(victim_email)} == {victim["username"]}


def test_without_the_pool_setting_the_lambda_rules_still_refuse_the_link(stack, onboarding, lenient_pool):
    idp = stack.client("cognito-idp")
    attacker_email, victim_email = unique_email("attacker"), unique_email("victim")
    attacker, token = _native_user(stack, onboarding, lenient_pool, attacker_email)

    idp.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": victim_email}])
    seen = _attributes(idp.get_user(AccessToken=token))
    assert (seen["email"], seen["email_verified"]) == (victim_email, "false")  # changed at once, unverified

    victim = _google_first_sign_in(stack, lenient_pool, victim_email)

    _assert_attack_failed(stack, onboarding, lenient_pool, attacker, attacker_email, victim, victim_email)


# --- the local Cognito's email verification, as Cognito has it -------------------------------------


def test_a_pending_email_takes_effect_with_its_code_and_not_before(stack, onboarding):
    pool_id = stack.info["cognito"]["user_pool_id"]
    idp = stack.client("cognito-idp")
    old, new = unique_email("mover"), unique_email("moved")
    sub, token = _native_user(stack, onboarding, pool_id, old)
    idp.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": new}])
    code = stack.admin.verification_code(sub)
    assert code["pending_value"] == new and len(code["code"]) == 6

    with pytest.raises(botocore.exceptions.ClientError) as wrong:
        idp.verify_user_attribute(AccessToken=token, AttributeName="email",
                                  Code="000000" if code["code"] != "000000" else "111111")
    assert wrong.value.response["Error"]["Code"] == "CodeMismatchException"
    assert _attributes(idp.admin_get_user(UserPoolId=pool_id, Username=sub))["email"] == old

    resent = idp.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    fresh = stack.admin.verification_code(sub)
    idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code=fresh["code"])
    after = _attributes(idp.admin_get_user(UserPoolId=pool_id, Username=sub))
    assert (after["email"], after["email_verified"]) == (new, "true")


def test_the_app_client_cannot_write_email_verified(stack, onboarding):
    pool_id = stack.info["cognito"]["user_pool_id"]
    idp = stack.client("cognito-idp")
    email = unique_email("self.verifier")
    sub, token = _native_user(stack, onboarding, pool_id, email)
    for attributes in ([{"Name": "email_verified", "Value": "true"}],
                       [{"Name": "email", "Value": unique_email("x")}, {"Name": "email_verified", "Value": "true"}]):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            idp.update_user_attributes(AccessToken=token, UserAttributes=attributes)
        assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        idp.sign_up(ClientId=stack.info["cognito"]["client_id"], Username=unique_email("signup"), Password=PASSWORD,
                    UserAttributes=[{"Name": "email_verified", "Value": "true"}])
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert _attributes(idp.admin_get_user(UserPoolId=pool_id, Username=sub))["email"] == email


def test_an_admin_email_change_applies_at_once_only_when_it_verifies_it(stack, onboarding, lenient_pool):
    idp = stack.client("cognito-idp")
    pool_id = stack.info["cognito"]["user_pool_id"]
    sub = sign_up(stack, unique_email("admin.moved"))
    confirm(stack, sub)
    assert onboarding.finished(sub)["status"] == "SUCCEEDED"

    pending = unique_email("pending")
    idp.admin_update_user_attributes(UserPoolId=pool_id, Username=sub,
                                     UserAttributes=[{"Name": "email", "Value": pending}])
    assert _attributes(idp.admin_get_user(UserPoolId=pool_id, Username=sub))["email"] != pending

    verified = unique_email("verified")
    idp.admin_update_user_attributes(UserPoolId=pool_id, Username=sub, UserAttributes=[
        {"Name": "email", "Value": verified}, {"Name": "email_verified", "Value": "true"}])
    seen = _attributes(idp.admin_get_user(UserPoolId=pool_id, Username=sub))
    assert (seen["email"], seen["email_verified"]) == (verified, "true")

    # Where the pool does not require verification, the change applies and resets email_verified.
    lenient = idp.admin_create_user(UserPoolId=lenient_pool, Username=unique_email("lenient"), UserAttributes=[
        {"Name": "email_verified", "Value": "true"}], MessageAction="SUPPRESS")["User"]["Username"]
    changed = unique_email("changed")
    idp.admin_update_user_attributes(UserPoolId=lenient_pool, Username=lenient,
                                     UserAttributes=[{"Name": "email", "Value": changed}])
    seen = _attributes(idp.admin_get_user(UserPoolId=lenient_pool, Username=lenient))
    assert (seen["email"], seen["email_verified"]) == (changed, "false")
