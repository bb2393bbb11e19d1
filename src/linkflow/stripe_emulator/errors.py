"""Stripe error objects: ``{"error": {"type", "code", "message", "param", ...}}`` and their statuses.

    StripeError (an HTTP answer, raised anywhere inside a request)
    ├── 400 invalid_request_error   invalid_request(), idempotency_error via idempotency_error()
    ├── 401 invalid_request_error   authentication()
    ├── 402 card_error              card_declined()
    ├── 404 invalid_request_error   resource_missing(), unknown_route()
    ├── 409 idempotency_error       idempotency_in_flight()
    ├── 429 rate_limit_error        rate_limited()  (with Stripe-Should-Retry: true)
    └── 500 api_error               api_error()
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.headers = headers or {}
        self.extra = extra or {}  # e.g. the payment_intent a card error is about

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return invalid_request(f"Missing required param: {param}.", param=param, code="parameter_missing")


def resource_missing(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    return StripeError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def missing_reference(kind: str, object_id: str, param: str) -> StripeError:
    """A parameter names an object that does not exist: a 400, unlike a missing path object."""
    return invalid_request(f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def unknown_route(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )


def authentication(message: str) -> StripeError:
    return StripeError(401, "invalid_request_error", message)


def card_declined(param: str | None = None, decline_code: str = "generic_decline") -> StripeError:
    return StripeError(
        402, "card_error", "Your card was declined.", code="card_declined", param=param, decline_code=decline_code
    )


def card_error(code: str, message: str, *, decline_code: str | None = None, param: str | None = None,
               extra: dict[str, Any] | None = None) -> StripeError:
    """A 402 ``card_error`` as a test card's outcome gives it."""
    return StripeError(402, "card_error", message, code=code, param=param, decline_code=decline_code, extra=extra)


def idempotency_error(key: str) -> StripeError:
    return StripeError(
        400,
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
    )


def idempotency_in_flight(key: str) -> StripeError:
    return StripeError(
        409,
        "idempotency_error",
        "There is currently another in-progress request using this Idempotency-Key (that probably "
        f"means you submitted twice, and the other request is still going through): {key}. "
        "Please try again later.",
        code="idempotency_key_in_use",
    )


def rate_limited() -> StripeError:
    return StripeError(
        429,
        "rate_limit_error",
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        code="rate_limit",
        headers={"Stripe-Should-Retry": "true"},
    )


def api_error(status: int = 500) -> StripeError:
    return StripeError(status, "api_error", "An unknown error occurred (injected by the Stripe emulator).")


def for_status(status: int, *, message: str | None = None, code: str | None = None) -> StripeError:
    """The error an injected fault answers with: the usual Stripe error for that status."""
    if status == 429:
        err = rate_limited()
    elif status >= 500:
        err = api_error(status)
    elif status == 402:
        err = card_declined()
    elif status == 401:
        err = authentication("Invalid API Key provided (injected by the Stripe emulator).")
    elif status == 409:
        err = StripeError(
            409, "invalid_request_error", "This object cannot be accessed right now because another API "
            "request or Stripe process is currently accessing it.", code="lock_timeout",
            headers={"Stripe-Should-Retry": "true"},
        )
    elif status == 404:
        err = StripeError(404, "invalid_request_error", "No such resource (injected by the Stripe emulator).",
                          code="resource_missing")
    else:
        err = StripeError(status, "invalid_request_error", "Injected error (Stripe emulator).")
    if message is not None:
        err.message = message
    if code is not None:
        err.code = code
    return err
