"""The app's API: requests as API Gateway (HTTP API, payload 2.0, Cognito JWT authorizer) hands
them over, and answers in its shape."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

UNAUTHORIZED = {"message": "Unauthorized"}  # exactly what API Gateway answers


class ApiRequest(BaseModel):
    """The part of an HTTP API event the app routes read: the method, the JSON body (``None`` when
    it is not a JSON object) and the authorizer's JWT claims."""

    model_config = ConfigDict(frozen=True)
    method: str = ""
    body: dict[str, Any] | None = None
    body_error: str | None = None
    claims: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_api_gateway(cls, event: Any) -> dict[str, Any]:
        event = event if isinstance(event, dict) else {}
        if "requestContext" not in event and "method" in event:
            return dict(event)
        context = event.get("requestContext") or {}
        claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
        body, error = _json_body(event)
        return {"method": str((context.get("http") or {}).get("method") or "").upper(), "body": body,
                "body_error": error, "claims": {str(k): str(v) for k, v in claims.items()}}

    @property
    def sub(self) -> str | None:
        """The caller, when the token is an access token (an ID token is refused)."""
        if self.claims.get("token_use") != "access" or not self.claims.get("sub"):
            return None
        return self.claims["sub"]

    @property
    def username(self) -> str:
        return self.claims.get("username") or self.claims.get("cognito:username") or self.claims.get("sub", "")


def _json_body(event: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    raw = event.get("body")
    if raw in (None, ""):
        return {}, None
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(str(raw), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, "the body is not base64 UTF-8"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"the body is not JSON: {exc.msg}"
    if not isinstance(parsed, dict):
        return None, "the body is not a JSON object"
    return parsed, None


class ApiResponse(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: int
    body: dict[str, Any]

    def to_api_gateway(self) -> dict[str, Any]:
        return {"statusCode": self.status, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(self.body), "isBase64Encoded": False}


class CheckoutRequest(BaseModel):
    """``POST /billing/checkout-session``: a price lookup key; redirects default to the app's pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    price: str
    success_url: str | None = None
    cancel_url: str | None = None


class PortalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    return_url: str | None = None
