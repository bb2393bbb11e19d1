"""The Cognito user pool: look users up, link external identities, disable and delete users.

Every call goes through :func:`~linkflow_shared.errors.cognito_errors`, so a deleted user is a
:class:`~linkflow_shared.errors.CognitoUserNotFound` and throttling a ``CognitoUnavailable``.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import CognitoUserNotFound, cognito_errors
from .models import Model, external_identity

UNCONFIRMED = "UNCONFIRMED"
EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"


class CognitoUser(Model):
    username: str
    sub: str
    email: str | None = None
    enabled: bool = True
    status: str = ""
    identities: list[tuple[str, str]] = []

    @property
    def identity(self) -> tuple[str, str] | None:
        """``(ProviderName, provider user id)`` of a federated user; ``None`` for a native one."""
        if self.status != EXTERNAL_PROVIDER:
            return None
        return external_identity(self.username, {}) or (self.identities[0] if self.identities else None)


def _user(username: str, attributes: list[dict[str, str]], enabled: bool, status: str) -> CognitoUser:
    attrs = {a["Name"]: a.get("Value", "") for a in attributes}
    identities: list[tuple[str, str]] = []
    if attrs.get("identities"):
        try:
            identities = [(str(i["providerName"]), str(i["userId"])) for i in json.loads(attrs["identities"])]
        except (json.JSONDecodeError, KeyError, TypeError):
            identities = []
    return CognitoUser(
        username=username,
        sub=attrs.get("sub", ""),
        email=attrs.get("email"),
        enabled=enabled,
        status=status,
        identities=identities,
    )


def get_user(idp: Any, user_pool_id: str, username: str) -> CognitoUser:
    """The user named ``username``; :class:`CognitoUserNotFound` if it does not exist."""
    with cognito_errors():
        answer = idp.admin_get_user(UserPoolId=user_pool_id, Username=username)
    return _user(
        answer["Username"], answer.get("UserAttributes", []), answer.get("Enabled", True), answer.get("UserStatus", "")
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list_users(idp: Any, user_pool_id: str, attribute: str, value: str) -> list[CognitoUser]:
    with cognito_errors():
        answer = idp.list_users(UserPoolId=user_pool_id, Filter=f"{attribute} = {_quote(value)}", Limit=10)
    return [
        _user(u["Username"], u.get("Attributes", []), u.get("Enabled", True), u.get("UserStatus", ""))
        for u in answer.get("Users", [])
    ]


def find_user_by_sub(idp: Any, user_pool_id: str, sub: str) -> CognitoUser | None:
    users = [u for u in _list_users(idp, user_pool_id, "sub", sub) if u.sub == sub]
    return users[0] if users else None


def find_users_by_email(idp: Any, user_pool_id: str, *emails: str) -> list[CognitoUser]:
    """Users holding any of ``emails`` (Cognito's filter is exact, so pass each spelling)."""
    found: dict[str, CognitoUser] = {}
    for email in dict.fromkeys(e for e in emails if e):
        for user in _list_users(idp, user_pool_id, "email", email):
            found.setdefault(user.username, user)
    return list(found.values())


def link_identity(
    idp: Any, user_pool_id: str, destination_username: str, provider_name: str, provider_user_id: str
) -> None:
    """Link an external identity to an existing user, so its sign-ins resolve to that user's sub."""
    with cognito_errors():
        idp.admin_link_provider_for_user(
            UserPoolId=user_pool_id,
            DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": destination_username},
            SourceUser={
                "ProviderName": provider_name,
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": provider_user_id,
            },
        )


def disable_user(idp: Any, user_pool_id: str, username: str) -> bool:
    """Disable the user; False if it no longer exists."""
    try:
        with cognito_errors():
            idp.admin_disable_user(UserPoolId=user_pool_id, Username=username)
    except CognitoUserNotFound:
        return False
    return True


def delete_user(idp: Any, user_pool_id: str, username: str) -> bool:
    """Delete the user; False if it no longer exists."""
    try:
        with cognito_errors():
            idp.admin_delete_user(UserPoolId=user_pool_id, Username=username)
    except CognitoUserNotFound:
        return False
    return True
