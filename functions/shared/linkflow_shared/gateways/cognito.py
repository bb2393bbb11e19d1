"""Cognito, as linkflow uses it: look users up, link external identities, disable and delete users.

:class:`CognitoGateway` is the port the steps depend on; :class:`BotoCognito` implements it on a
boto3 client, every call through :func:`~linkflow_shared.errors.cognito_errors` (a deleted user is
a :class:`~linkflow_shared.errors.CognitoUserNotFound`, throttling a ``CognitoUnavailable``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from ..errors import CognitoUserNotFound, cognito_errors
from ..models import Model, external_identity

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

UNCONFIRMED = "UNCONFIRMED"
EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"


class CognitoUser(Model):
    username: str
    sub: str
    email: str | None = None
    email_verified: bool = False
    given_name: str | None = None
    family_name: str | None = None
    enabled: bool = True
    status: str = ""
    identities: list[tuple[str, str]] = []

    @property
    def identity(self) -> tuple[str, str] | None:
        """``(ProviderName, provider user id)`` of a federated user; ``None`` for a native one."""
        if self.status != EXTERNAL_PROVIDER:
            return None
        return external_identity(self.username, {}) or (self.identities[0] if self.identities else None)


class CognitoGateway(Protocol):
    """The user pool operations linkflow's steps and triggers need."""

    def get_user(self, user_pool_id: str, username: str) -> CognitoUser: ...

    def find_user_by_sub(self, user_pool_id: str, sub: str) -> CognitoUser | None: ...

    def find_users_by_email(self, user_pool_id: str, *emails: str) -> list[CognitoUser]: ...

    def link_identity(
        self, user_pool_id: str, destination_username: str, provider_name: str, provider_user_id: str
    ) -> None: ...

    def disable_user(self, user_pool_id: str, username: str) -> bool: ...

    def delete_user(self, user_pool_id: str, username: str) -> bool: ...


def cognito_user(
    username: str, attributes: Iterable[AttributeTypeTypeDef], enabled: bool, status: str
) -> CognitoUser:
    attrs: Mapping[str, str] = {a["Name"]: a.get("Value", "") for a in attributes}
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
        email_verified=attrs.get("email_verified", "").lower() == "true",
        given_name=attrs.get("given_name") or None,
        family_name=attrs.get("family_name") or None,
        enabled=enabled,
        status=status,
        identities=identities,
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class BotoCognito:
    """:class:`CognitoGateway` on a boto3 ``cognito-idp`` client."""

    def __init__(self, idp: CognitoIdentityProviderClient) -> None:
        self._idp = idp

    def get_user(self, user_pool_id: str, username: str) -> CognitoUser:
        """The user named ``username``; :class:`CognitoUserNotFound` if it does not exist."""
        with cognito_errors():
            answer = self._idp.admin_get_user(UserPoolId=user_pool_id, Username=username)
        return cognito_user(
            answer["Username"],
            answer.get("UserAttributes", []),
            answer.get("Enabled", True),
            answer.get("UserStatus", ""),
        )

    def _list_users(self, user_pool_id: str, attribute: str, value: str) -> list[CognitoUser]:
        with cognito_errors():
            answer = self._idp.list_users(UserPoolId=user_pool_id, Filter=f"{attribute} = {_quote(value)}", Limit=10)
        return [
            cognito_user(u["Username"], u.get("Attributes", []), u.get("Enabled", True), u.get("UserStatus", ""))
            for u in answer.get("Users", [])
        ]

    def find_user_by_sub(self, user_pool_id: str, sub: str) -> CognitoUser | None:
        users = [u for u in self._list_users(user_pool_id, "sub", sub) if u.sub == sub]
        return users[0] if users else None

    def find_users_by_email(self, user_pool_id: str, *emails: str) -> list[CognitoUser]:
        """Users holding any of ``emails`` (Cognito's filter is exact, so pass each spelling)."""
        found: dict[str, CognitoUser] = {}
        for email in dict.fromkeys(e for e in emails if e):
            for user in self._list_users(user_pool_id, "email", email):
                found.setdefault(user.username, user)
        return list(found.values())

    def link_identity(
        self, user_pool_id: str, destination_username: str, provider_name: str, provider_user_id: str
    ) -> None:
        """Link an external identity to an existing user, so its sign-ins resolve to that user's sub."""
        with cognito_errors():
            self._idp.admin_link_provider_for_user(
                UserPoolId=user_pool_id,
                DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": destination_username},
                SourceUser={
                    "ProviderName": provider_name,
                    "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": provider_user_id,
                },
            )

    def disable_user(self, user_pool_id: str, username: str) -> bool:
        """Disable the user; False if it no longer exists."""
        try:
            with cognito_errors():
                self._idp.admin_disable_user(UserPoolId=user_pool_id, Username=username)
        except CognitoUserNotFound:
            return False
        return True

    def delete_user(self, user_pool_id: str, username: str) -> bool:
        """Delete the user; False if it no longer exists."""
        try:
            with cognito_errors():
                self._idp.admin_delete_user(UserPoolId=user_pool_id, Username=username)
        except CognitoUserNotFound:
            return False
        return True
