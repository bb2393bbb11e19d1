"""The base model and the field types every record, event and step input/output shares.

Field names are snake_case in Python; on the wire (DynamoDB items, state machine JSON, Cognito
events) they keep the names of the existing system (camelCase, except the entitlement's
``cognito_sub``/``current_period_end``/``trial_expires_at``). Dump with :meth:`Model.dump`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from .errors import InvalidStepInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
NATIVE_PROVIDER = "Cognito"
# Cognito prefixes a federated user's username with the provider name; social providers appear
# lower-cased in some places, so map them back to the ProviderName AdminLinkProviderForUser wants.
_SOCIAL_PROVIDERS = {
    "google": "Google",
    "facebook": "Facebook",
    "signinwithapple": "SignInWithApple",
    "loginwithamazon": "LoginWithAmazon",
}


def normalize_email(raw: str) -> str:
    """The form an email is stored and claimed in: trimmed, lower-cased, shape-checked."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("not a valid email address")
    return email


def mask_email(email: str) -> str:
    """``a***@example.com``: enough to tell users apart in a log line, not enough to mail them."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError("not a UUID") from exc


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Email = Annotated[str, AfterValidator(normalize_email)]
Sub = Annotated[str, AfterValidator(_uuid)]
NonBlank = Annotated[str, AfterValidator(_not_blank)]


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds, the timestamp format of every record."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The wire form: aliases, JSON types."""
        return self.model_dump(by_alias=True, mode="json")


class Record(Model):
    """A DynamoDB item: :meth:`item` leaves absent optional attributes out (sparse GSIs, no NULL keys)."""

    def item(self) -> dict[str, Any]:
        return {k: v for k, v in self.dump().items() if v is not None}


M = TypeVar("M", bound=BaseModel)


def parse_step_input(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; a failure is an :class:`InvalidStepInput` naming the model.

    The message names the fields and what is wrong with them, never their values (emails are
    personal data and end up in execution histories and logs).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidStepInput(f"invalid {model.__name__}: {problems}") from None


def external_identity(user_name: str, attributes: dict[str, str]) -> tuple[str, str] | None:
    """``(ProviderName, provider user id)`` of a federated user, ``None`` for a native one."""
    raw = attributes.get("identities")
    if raw:
        try:
            identities = json.loads(raw)
        except json.JSONDecodeError:
            identities = []
        primary = [i for i in identities if i.get("primary")] or identities
        if primary and primary[0].get("providerName") and primary[0].get("userId"):
            return str(primary[0]["providerName"]), str(primary[0]["userId"])
    prefix, sep, provider_user_id = user_name.partition("_")
    if not sep or not provider_user_id:
        return None
    if prefix.lower() in _SOCIAL_PROVIDERS:
        return _SOCIAL_PROVIDERS[prefix.lower()], provider_user_id
    return None
