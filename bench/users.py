"""Real Cognito users on the bench stack, and the trigger events Cognito would send for them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from .stack import PASSWORD, BenchStack


def email(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}@example.com"


def confirmed_user(stack: BenchStack, prefix: str) -> dict[str, Any]:
    """A confirmed native user whose PostConfirmation has not run yet (AdminCreateUser and a
    permanent password fire no trigger): the bench fires it. Answers the AdminGetUser view."""
    cognito, pool = stack.client("cognito-idp"), stack.info["cognito"]["user_pool_id"]
    address = email(prefix)
    created = cognito.admin_create_user(
        UserPoolId=pool, Username=address, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"},
                        {"Name": "given_name", "Value": "Ada"}, {"Name": "family_name", "Value": "Lovelace"}])
    username = created["User"]["Username"]
    cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
    return cognito.admin_get_user(UserPoolId=pool, Username=username)  # type: ignore[no-any-return]


def post_confirmation_event(stack: BenchStack, user: dict[str, Any]) -> dict[str, Any]:
    """``PostConfirmation_ConfirmSignUp`` for ``user``, shaped as Cognito sends it."""
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    attributes["cognito:user_status"] = user["UserStatus"]
    return {
        "version": "1",
        "region": stack.info["region"],
        "userPoolId": stack.info["cognito"]["user_pool_id"],
        "userName": user["Username"],
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": stack.info["cognito"]["client_id"]},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": attributes, "clientMetadata": {}},
        "response": {},
    }


def sign_up(stack: BenchStack, address: str) -> str:
    """A native SignUp as an app does it (the PreSignUp trigger runs in the stack); answers the sub."""
    answer = stack.client("cognito-idp").sign_up(
        ClientId=stack.info["cognito"]["client_id"], Username=address, Password=PASSWORD,
        UserAttributes=[{"Name": "given_name", "Value": "Ada"}, {"Name": "family_name", "Value": "Lovelace"}])
    return str(answer["UserSub"])


def confirm(stack: BenchStack, sub: str) -> None:
    """The sign-up's confirmation (the PostConfirmation trigger runs in the stack)."""
    stack.client("cognito-idp").admin_confirm_sign_up(UserPoolId=stack.info["cognito"]["user_pool_id"], Username=sub)


def sign_up_and_confirm(stack: BenchStack, address: str, timings: dict[str, float] | None = None) -> str:
    """SignUp then its confirmation; answers the sub. ``timings`` adds up each call's milliseconds
    under the name of the trigger it ran (an upper bound of the trigger's duration)."""
    start = time.perf_counter()
    sub = sign_up(stack, address)
    confirming = time.perf_counter()
    confirm(stack, sub)
    if timings is not None:
        timings["PreSignUpFunction"] = timings.get("PreSignUpFunction", 0.0) + (confirming - start) * 1000
        timings["PostConfirmationFunction"] = (timings.get("PostConfirmationFunction", 0.0)
                                               + (time.perf_counter() - confirming) * 1000)
    return sub
