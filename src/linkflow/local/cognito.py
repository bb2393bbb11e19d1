"""Cognito behaviour moto lacks, added at the API level.

- Lambda triggers: ``SignUp`` runs PreSignUp (a raised error rejects the sign-up with
  ``UserLambdaValidationException`` carrying the trigger's message, as Cognito does);
  ``ConfirmSignUp`` / ``AdminConfirmSignUp`` run PostConfirmation with Cognito's event shape.
- Native sign-up uniqueness as Cognito has it: only a confirmed native user holding the email
  blocks a new sign-up; users of external providers do not (moto blocks on any email match).
- ``AdminLinkProviderForUser``, with the linked identity in the user's ``identities`` attribute.
- ``federated_signin``: a first sign-in through Google/Apple/..., firing
  ``PreSignUp_ExternalProvider`` and PostConfirmation.
- Email changes as Cognito makes them (``UpdateUserAttributes``, ``AdminUpdateUserAttributes``):
  a new email resets ``email_verified`` to false unless the same admin call sets it true; when the
  pool's ``UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`` lists ``email``
  the new value stays pending (the old email and its verified state remain, GetUser and
  AdminGetUser show them) until ``VerifyUserAttribute`` with the code sent to the new address
  (``verification_code`` hands it to the tests: the stand-in for reading that mailbox).
  ``GetUserAttributeVerificationCode`` issues a new code. An app client writes only its
  ``WriteAttributes`` (if it lists them) and never ``*_verified`` unless listed:
  ``NotAuthorizedException`` otherwise, on ``SignUp`` and ``UpdateUserAttributes`` alike. Tokens
  name the user by its username (as Cognito's do), not by the email it signed in with, so they
  outlive an email change.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.cognitoidp import models as cmodels
from moto.cognitoidp import responses as cresponses
from moto.cognitoidp.exceptions import (
    InvalidParameterException,
    ResourceNotFoundError,
    UsernameExistsException,
    UserNotFoundError,
)
from moto.cognitoidp.utils import expand_attrs, flatten_attrs
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult

from . import cognito_index

Invoker = Callable[[str, dict[str, Any]], tuple[Any, bool]]
_invoke: Invoker | None = None
_installed = False


class UserLambdaValidationException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UserLambdaValidationException", message)


def _trigger_event(pool: Any, user: Any, source: str, client_id: str | None) -> dict[str, Any]:
    attrs = flatten_attrs(user.attributes)
    attrs.setdefault("sub", user.id)
    attrs.setdefault("cognito:user_status", str(getattr(user.status, "value", user.status)))
    return {
        "version": "1",
        "region": pool.region,
        "userPoolId": pool.id,
        "userName": user.username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown",
                          "clientId": client_id or "CLIENT_ID_NOT_APPLICABLE"},
        "triggerSource": source,
        "request": {"userAttributes": attrs, "validationData": None, "clientMetadata": {}},
        "response": {},
    }


def run_trigger(pool: Any, user: Any, kind: str, source: str, client_id: str | None = None) -> dict[str, Any]:
    """Invoke the pool's ``kind`` trigger (PreSignUp, PostConfirmation) if one is configured."""
    arn = (pool.extended_config.get("LambdaConfig") or {}).get(kind)
    event = _trigger_event(pool, user, source, client_id)
    if not arn:
        return event
    assert _invoke is not None, "cognito triggers need a Lambda invoker: call install() first"
    result, errored = _invoke(arn, event)
    if errored:
        message = result.get("errorMessage", "") if isinstance(result, dict) else str(result)
        raise UserLambdaValidationException(f"{kind} failed with error {message}.")
    return result if isinstance(result, dict) else event


def _is_native(user: Any) -> bool:
    return str(getattr(user.status, "value", user.status)) != "EXTERNAL_PROVIDER"


def _pool_for_client(backend: Any, client_id: str) -> Any:
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool
    raise ResourceNotFoundError(client_id)


def sign_up(self: Any, client_id: str, username: str, password: str, attributes: list[dict[str, str]]) -> Any:
    pool = _pool_for_client(self, client_id)
    flat = flatten_attrs(attributes or [])
    _check_client_writes(pool, client_id, flat)
    username_attrs = pool.extended_config.get("UsernameAttributes") or []
    if username_attrs:
        if "email" in username_attrs and "@" in username:
            flat["email"] = username
        elif "phone_number" in username_attrs and username.startswith("+"):
            flat["phone_number"] = username
        else:
            raise InvalidParameterException("Username should be either an email or a phone number.")
        for attr in username_attrs:
            holders = cognito_index.users_with(pool, attr, flat[attr]) if flat.get(attr) else []
            if any(_is_native(other) and other.status == cmodels.UserStatus.CONFIRMED for other in holders):
                raise UsernameExistsException("An account with the given email already exists.")
    elif username in pool.users:
        raise UsernameExistsException(username)
    self._validate_password(pool.id, password)
    user = cmodels.CognitoIdpUser(
        user_pool_id=pool.id,
        username=None if username_attrs else username,
        password=password,
        attributes=expand_attrs(flat),
        status=cmodels.UserStatus.UNCONFIRMED,
    )
    pool.users[user.username] = user
    try:
        response = run_trigger(pool, user, "PreSignUp", "PreSignUp_SignUp", client_id).get("response") or {}
    except UserLambdaValidationException:
        del pool.users[user.username]
        raise
    if response.get("autoVerifyEmail"):
        user.update_attributes([{"Name": "email_verified", "Value": "true"}])
    if response.get("autoConfirmUser"):
        user.status = cmodels.UserStatus.CONFIRMED
    details = None
    if flat.get("email"):
        details = {"Destination": _mask(flat["email"]), "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    return user, details


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def _confirm(backend: Any, pool: Any, user: Any, client_id: str | None) -> None:
    if user.status == cmodels.UserStatus.CONFIRMED:
        raise JsonRESTError("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
    user.status = cmodels.UserStatus.CONFIRMED
    if "email" in (pool.extended_config.get("AutoVerifiedAttributes") or []) and "email" in user.attribute_lookup:
        user.update_attributes([{"Name": "email_verified", "Value": "true"}])
    run_trigger(pool, user, "PostConfirmation", "PostConfirmation_ConfirmSignUp", client_id)


def confirm_sign_up(self: Any, client_id: str, username: str) -> str:
    pool = _pool_for_client(self, client_id)
    _confirm(self, pool, self.admin_get_user(pool.id, username), client_id)
    return ""


def admin_confirm_sign_up(self: Any, user_pool_id: str, username: str) -> str:
    pool = self.describe_user_pool(user_pool_id)
    _confirm(self, pool, self.admin_get_user(user_pool_id, username), None)
    return ""


def _identities(user: Any) -> list[dict[str, Any]]:
    raw = flatten_attrs(user.attributes).get("identities")
    return json.loads(raw) if raw else []


def admin_link_provider_for_user(
    self: Any, user_pool_id: str, destination: dict[str, Any], source: dict[str, Any]
) -> None:
    pool = self.describe_user_pool(user_pool_id)
    if destination.get("ProviderName") != "Cognito":
        raise InvalidParameterException("DestinationUser ProviderName must be Cognito.")
    target = pool._get_user(destination.get("ProviderAttributeValue", ""))
    if target is None:
        raise UserNotFoundError("User does not exist.")
    provider = source.get("ProviderName", "")
    provider_user_id = source.get("ProviderAttributeValue", "")
    if not provider or not provider_user_id or provider == "Cognito":
        raise InvalidParameterException("SourceUser must name an external provider and its user id.")
    if f"{provider}_{provider_user_id}" in pool.users:
        raise InvalidParameterException(
            "Merging is not currently supported, provide a SourceUser that has not been linked to an existing user."
        )
    for user in pool.users.values():
        for identity in _identities(user):
            if identity["providerName"] == provider and identity["userId"] == provider_user_id:
                raise JsonRESTError("AliasExistsException", "Source user is already linked to a user.")
    identities = _identities(target) + [
        {"userId": provider_user_id, "providerName": provider, "providerType": provider,
         "issuer": None, "primary": False, "dateCreated": int(time.time() * 1000)}
    ]
    target.update_attributes([{"Name": "identities", "Value": json.dumps(identities)}])


def _link_response(self: Any) -> Any:
    params = self.parameters
    self.backend.admin_link_provider_for_user(params["UserPoolId"], params["DestinationUser"], params["SourceUser"])
    return EmptyResult()


def federated_signin(
    backend: Any, user_pool_id: str, provider: str, email: str, email_verified: bool,
    provider_user_id: str | None = None,
) -> dict[str, Any]:
    """A first sign-in through an external provider, as Cognito's hosted UI would do it."""
    pool = backend.describe_user_pool(user_pool_id)
    provider_user_id = provider_user_id or str(uuid.uuid4().int)[:21]
    for user in pool.users.values():
        for identity in _identities(user):
            if identity["providerName"] == provider and identity["userId"] == provider_user_id:
                return {"username": user.username, "sub": user.id, "linked": True, "new_user": False}
    username = f"{provider}_{provider_user_id}"
    if username in pool.users:
        existing = pool.users[username]
        return {"username": username, "sub": existing.id, "linked": False, "new_user": False}
    attributes = [
        {"Name": "email", "Value": email},
        {"Name": "email_verified", "Value": "true" if email_verified else "false"},
        {"Name": "identities", "Value": json.dumps([{"userId": provider_user_id, "providerName": provider,
            "providerType": provider, "issuer": None, "primary": True, "dateCreated": int(time.time() * 1000)}])},
    ]
    user = cmodels.CognitoIdpUser(user_pool_id=pool.id, username=username, password=None,
                                  attributes=attributes, status="EXTERNAL_PROVIDER")
    run_trigger(pool, user, "PreSignUp", "PreSignUp_ExternalProvider")
    for other in pool.users.values():
        if any(i["providerName"] == provider and i["userId"] == provider_user_id for i in _identities(other)):
            # Linked by the trigger: Cognito fails this first attempt ("Already found an entry for
            # username"), and the retry signs in as the existing user.
            return {"username": other.username, "sub": other.id, "linked": True, "new_user": False,
                    "first_attempt_error": f"Already found an entry for username {username}"}
    pool.users[username] = user
    run_trigger(pool, user, "PostConfirmation", "PostConfirmation_ConfirmSignUp")
    return {"username": username, "sub": user.id, "linked": False, "new_user": True}


# --- attribute updates: email verification as Cognito has it --------------------------------------

VERIFIED_FLAGS = {"email": "email_verified", "phone_number": "phone_number_verified"}


def _not_authorized(message: str) -> JsonRESTError:
    return JsonRESTError("NotAuthorizedException", message)


def _check_client_writes(pool: Any, client_id: str | None, flat: dict[str, str]) -> None:
    """An app client writes only its ``WriteAttributes`` and never a ``*_verified`` flag it does not list."""
    client = pool.clients.get(client_id) if client_id else None
    allowed = (client.extended_config.get("WriteAttributes") if client is not None else None) or None
    for name in flat:
        if (allowed is not None and name not in allowed) or (
                allowed is None and name in VERIFIED_FLAGS.values()):
            raise _not_authorized("A client attempted to write unauthorized attribute")


def _require_verification(pool: Any) -> list[str]:
    settings = pool.extended_config.get("UserAttributeUpdateSettings") or {}
    return list(settings.get("AttributesRequireVerificationBeforeUpdate") or [])


def _pending(user: Any) -> dict[str, dict[str, str]]:
    """Attribute -> ``{"value", "code"}``: values waiting for VerifyUserAttribute, and codes sent."""
    if not hasattr(user, "linkflow_pending"):
        user.linkflow_pending = {}
    pending: dict[str, dict[str, str]] = user.linkflow_pending
    return pending


def _delivery(attribute: str, value: str) -> dict[str, str]:
    medium = "EMAIL" if attribute == "email" else "SMS"
    destination = _mask(value) if attribute == "email" else f"+*******{value[-4:]}"
    return {"Destination": destination, "DeliveryMedium": medium, "AttributeName": attribute}


def _send_code(user: Any, attribute: str, value: str, *, pending_value: bool) -> dict[str, str]:
    entry = {"code": f"{secrets.randbelow(10**6):06d}"}
    if pending_value:
        entry["value"] = value
    _pending(user)[attribute] = entry
    return _delivery(attribute, value)


def _check_alias_free(pool: Any, user: Any, email: str) -> None:
    """As for sign-up: a confirmed native user holding the email blocks it."""
    if "email" not in (pool.extended_config.get("UsernameAttributes") or []):
        return
    for other in cognito_index.users_with(pool, "email", email):
        if other is not user and _is_native(other) and other.status == cmodels.UserStatus.CONFIRMED:
            raise JsonRESTError("AliasExistsException", "An account with the given email already exists.")


def update_attributes(pool: Any, user: Any, attributes: list[dict[str, str]], *, admin: bool) -> list[dict[str, str]]:
    """Apply an attribute update as Cognito does; the code deliveries it causes."""
    flat = flatten_attrs(attributes or [])
    if "sub" in flat:
        raise InvalidParameterException("Cannot modify the non-mutable attribute sub")
    current = flatten_attrs(user.attributes)
    deliveries = []
    for attribute, flag in VERIFIED_FLAGS.items():
        new = flat.get(attribute)
        if new is None or new == current.get(attribute):
            flat.pop(attribute, None)
            continue
        if attribute == "email":
            _check_alias_free(pool, user, new)
        if admin and flat.get(flag) == "true":
            _pending(user).pop(attribute, None)  # verified by the admin in the same call: applied now
        elif attribute in _require_verification(pool):
            del flat[attribute]  # the old value and its verified state stay until the code comes back
            flat.pop(flag, None)
            deliveries.append(_send_code(user, attribute, new, pending_value=True))
        else:
            flat[flag] = "false"
            deliveries.append(_send_code(user, attribute, new, pending_value=False))
    if flat:
        user.update_attributes(expand_attrs(flat))
    return deliveries


def _user_of_token(backend: Any, access_token: str) -> tuple[Any, Any, str]:
    for pool in backend.user_pools.values():
        if access_token in pool.access_tokens:
            client_id, username = pool.access_tokens[access_token]
            return pool, backend.get_user(access_token), client_id
    raise _not_authorized("Invalid Access Token")


def update_user_attributes(self: Any, access_token: str, attributes: list[dict[str, str]]) -> list[dict[str, str]]:
    pool, user, client_id = _user_of_token(self, access_token)
    _check_client_writes(pool, client_id, flatten_attrs(attributes or []))
    return update_attributes(pool, user, attributes, admin=False)


def admin_update_user_attributes(self: Any, user_pool_id: str, username: str,
                                 attributes: list[dict[str, str]]) -> None:
    pool = self.describe_user_pool(user_pool_id)
    update_attributes(pool, self.admin_get_user(user_pool_id, username), attributes, admin=True)


def _update_response(self: Any) -> Any:
    deliveries = self._get_region_agnostic_backend().update_user_attributes(
        self._get_param("AccessToken"), self._get_param("UserAttributes"))
    return ActionResult({"CodeDeliveryDetailsList": deliveries or []})


def _verify_response(self: Any) -> Any:
    backend = self._get_region_agnostic_backend()._find_backend_by_access_token(self._get_param("AccessToken"))
    pool, user, _client = _user_of_token(backend, self._get_param("AccessToken"))
    attribute = self._get_param("AttributeName")
    entry = _pending(user).get(attribute)
    if attribute not in VERIFIED_FLAGS or entry is None or entry["code"] != self._get_param("Code"):
        raise JsonRESTError("CodeMismatchException", "Invalid verification code provided, please try again.")
    value = entry.get("value", flatten_attrs(user.attributes).get(attribute, ""))
    if attribute == "email" and "value" in entry:
        _check_alias_free(pool, user, value)
    del _pending(user)[attribute]
    user.update_attributes([{"Name": attribute, "Value": value}, {"Name": VERIFIED_FLAGS[attribute], "Value": "true"}])
    return EmptyResult()


def _code_response(self: Any) -> Any:
    backend = self._get_region_agnostic_backend()._find_backend_by_access_token(self._get_param("AccessToken"))
    _pool, user, _client = _user_of_token(backend, self._get_param("AccessToken"))
    attribute = self._get_param("AttributeName")
    if attribute not in VERIFIED_FLAGS:
        raise InvalidParameterException(f"Cannot verify attribute {attribute}.")
    waiting = _pending(user).get(attribute, {}).get("value")
    value = waiting or flatten_attrs(user.attributes).get(attribute)
    if not value:
        raise InvalidParameterException(f"User has no attribute {attribute}.")
    return ActionResult({"CodeDeliveryDetails": _send_code(user, attribute, value, pending_value=bool(waiting))})


def verification_code(backend: Any, user_pool_id: str, username: str, attribute: str = "email") -> dict[str, Any]:
    """The last code sent for ``attribute`` (what the user would read in the mailbox), and the
    value waiting for it (``None``: the code verifies the current value)."""
    user = backend.admin_get_user(user_pool_id, username)
    entry = _pending(user).get(attribute)
    if entry is None:
        raise InvalidParameterException(f"No verification code was sent for {attribute}.")
    return {"username": user.username, "attribute": attribute, "code": entry["code"],
            "pending_value": entry.get("value")}


_moto_create_refresh_token = cmodels.CognitoIdpUserPool.create_refresh_token
_moto_create_access_token = cmodels.CognitoIdpUserPool.create_access_token


def _username(pool: Any, signed_in_as: str) -> str:
    # moto keeps the name the user signed in with (their email); Cognito's tokens carry the
    # username, so they stay valid when the email changes.
    user = pool._get_user(signed_in_as)
    return str(user.username) if user is not None else signed_in_as


def create_refresh_token(self: Any, client_id: str, username: str) -> tuple[str, str]:
    return _moto_create_refresh_token(self, client_id, _username(self, username))


def create_access_token(self: Any, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    return _moto_create_access_token(self, client_id, _username(self, username), origin_jti)


def install(invoke: Invoker) -> None:
    global _invoke, _installed
    _invoke = invoke
    if _installed:
        return
    _installed = True
    cognito_index.install()
    backend_cls = cmodels.CognitoIdpBackend
    backend_cls.sign_up = sign_up  # type: ignore[method-assign]
    backend_cls.confirm_sign_up = confirm_sign_up  # type: ignore[method-assign]
    backend_cls.admin_confirm_sign_up = admin_confirm_sign_up  # type: ignore[method-assign]
    backend_cls.admin_link_provider_for_user = admin_link_provider_for_user  # type: ignore[attr-defined]
    cresponses.CognitoIdpResponse.admin_link_provider_for_user = _link_response  # type: ignore[attr-defined]
    cmodels.CognitoIdpUserPool.create_refresh_token = create_refresh_token  # type: ignore[method-assign]
    cmodels.CognitoIdpUserPool.create_access_token = create_access_token  # type: ignore[method-assign]
    backend_cls.update_user_attributes = update_user_attributes  # type: ignore[method-assign,assignment]
    backend_cls.admin_update_user_attributes = admin_update_user_attributes  # type: ignore[method-assign]
    responses = cresponses.CognitoIdpResponse
    responses.update_user_attributes = _update_response  # type: ignore[method-assign]
    responses.verify_user_attribute = _verify_response  # type: ignore[attr-defined]
    responses.get_user_attribute_verification_code = _code_response  # type: ignore[attr-defined]
