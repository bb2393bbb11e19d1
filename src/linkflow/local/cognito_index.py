"""Find a user pool's users by email (or phone number) without reading every user.

moto answers ``ListUsers`` with ``Filter='email = "..."'`` by testing every user of the pool, the
local sign-up checks the email against every user too, and moto's ``CognitoIdpUserPool._get_user``
(behind ``AdminGetUser``, ``AdminCreateUser``, ``AdminSetUserPassword``, ``AdminUpdateUserAttributes``,
``GetUser``, ``InitiateAuth`` ... every call naming a user) flattens the attributes of every user of
a pool with ``UsernameAttributes`` before it looks the username up: each call costs time in
proportion to the users already there (at 10,000 users a few tens of ms of the stack's one GIL
each, and seeding 10,000 users took 650 s). This index maps ``(pool id, attribute, value)`` to the
users that have held it, kept current by watching every assignment of a user's ``attributes``
(moto's constructor, ``update_attributes`` and ``delete_attributes`` all assign it). A lookup answers only the users
that are in the pool and still hold the value, so a deletion or a change needs no bookkeeping; a
user built but not yet added to the pool (a trigger runs in between) is kept for later lookups.

``ListUsers`` is answered with one ``json.dumps`` (:func:`list_users_response`) instead of moto's
shape serializer.
"""

from __future__ import annotations

import enum
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

INDEXED = ("email", "phone_number")
_FILTER = re.compile(r"([\w:]+)\s*(=|\^=)\s*\"(.*)\"")  # moto's own parse of a ListUsers filter

_index: dict[tuple[str, str, str], list[Any]] = {}
_lock = threading.Lock()


def _record(user: Any, attributes: Any) -> None:
    pool_id = getattr(user, "user_pool_id", None)
    if pool_id is None or not isinstance(attributes, list):
        return
    with _lock:
        for attribute in attributes:
            name, value = attribute.get("Name"), attribute.get("Value")
            if name in INDEXED and isinstance(value, str):
                holders = _index.setdefault((pool_id, name, value), [])
                if not any(held is user for held in holders):
                    holders.append(user)


def users_with(pool: Any, name: str, value: str) -> list[Any]:
    """The users of ``pool`` whose attribute ``name`` is ``value`` now, oldest first."""
    key = (pool.id, name, value)
    with _lock:
        holders = list(_index.get(key, ()))
    holding = [u for u in holders if u.attribute_lookup.get(name) == value]
    if len(holding) != len(holders):  # changed since: forget them (a user not in the pool yet stays)
        with _lock:
            current = _index.get(key, [])
            kept = [u for u in current if any(u is v for v in holding) or not any(u is h for h in holders)]
            if kept:
                _index[key] = kept
            else:
                _index.pop(key, None)
    return sorted((u for u in holding if pool.users.get(u.username) is u), key=lambda u: u.create_date)


def get_user(pool: Any, username: str) -> Any:
    """moto's ``_get_user`` from the index: the oldest user holding ``username`` as one of the
    pool's ``UsernameAttributes`` (moto answers the first in the pool's order, which is creation
    order), else the user named ``username``; ``None`` if neither."""
    for attribute in pool.extended_config.get("UsernameAttributes") or ():
        if attribute in INDEXED:
            holders = users_with(pool, attribute, username)
            if holders:
                return holders[0]
    return pool.users.get(username)


_installed = False
_moto_list_users_response: Any = None  # moto's CognitoIdpResponse.list_users


# ListUsers' UserType members, in the order moto's serializer writes them (the others are dropped).
USER_MEMBERS = ("Username", "Attributes", "UserCreateDate", "UserLastModifiedDate", "Enabled", "UserStatus",
                "MFAOptions")


def _epoch(moment: datetime) -> float:
    """A timestamp as moto's JSON serializer writes it: epoch seconds, truncated to milliseconds."""
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000) / 1000


def _user_type(user: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member in USER_MEMBERS:
        value = user.get(member)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = _epoch(value)
        elif isinstance(value, enum.Enum):
            value = value.value
        out[member] = value
    return out


def list_users_response(self: Any) -> tuple[str, dict[str, str]]:
    """``ListUsers`` answered with one ``json.dumps``: moto's shape serializer took most of a page's
    time (60 users, some 50 ms of the stack's GIL at 10,000 users), and the reconcile snapshot reads
    every page while its Stripe and table snapshots run beside it."""
    users, token = self.backend.list_users(self._get_param("UserPoolId"), self._get_param("Filter"),
                                           limit=self._get_param("Limit"),
                                           pagination_token=self._get_param("PaginationToken"))
    attributes = self._get_param("AttributesToGet")
    answer: dict[str, Any] = {"Users": [_user_type(u.to_json(extended=True, attributes_to_get=attributes))
                                        for u in users]}
    if token:
        answer["PaginationToken"] = str(token)
    return json.dumps(answer), {"Content-Type": "application/x-amz-json-1.1"}


def install() -> None:
    """Patch moto (once: a second call changes nothing)."""
    global _installed, _moto_list_users_response
    from moto.cognitoidp import models as cmodels
    from moto.cognitoidp import responses as cresponses
    from moto.utilities.paginator import paginate

    if _installed:
        return
    _installed = True

    def __setattr__(self: Any, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "attributes":
            _record(self, value)

    cmodels.CognitoIdpUser.__setattr__ = __setattr__  # type: ignore[method-assign]
    scan = cmodels.CognitoIdpBackend.list_users.__wrapped__  # type: ignore[attr-defined]

    @paginate(pagination_model=cmodels.PAGINATION_MODEL)  # type: ignore[attr-defined]
    def list_users(self: Any, user_pool_id: str, filt: str) -> list[Any]:
        match = _FILTER.match(filt) if filt else None
        if match is None or match[1] not in INDEXED or match[2] != "=":
            return list(scan(self, user_pool_id, filt))
        return users_with(self.describe_user_pool(user_pool_id), match[1], match[3])

    cmodels.CognitoIdpBackend.list_users = list_users  # type: ignore[method-assign]
    cmodels.CognitoIdpUserPool._get_user = get_user  # type: ignore[method-assign,assignment]
    _moto_list_users_response = cresponses.CognitoIdpResponse.list_users
    cresponses.CognitoIdpResponse.list_users = list_users_response  # type: ignore[method-assign,assignment]
