"""The app's routes: ``GET /me``, ``POST /billing/checkout-session``, ``POST /billing/portal-session``.

The caller is the access token's ``sub`` (API Gateway verified the token; an ID token is refused
here too): nothing in a body can name another user, and a body field the route does not know is a
400. Checkout uses the caller's linked customer; a profile without one gets it through
onboarding's own idempotent path (the idempotency key from the sub, then the conditional link),
never a Stripe search. Only prices on the allow-list (lookup keys), redirects only under the app's
origin. A double click opens one session: the session is created with an idempotency key made
from the caller, the price and a two-minute window, so the second click gets the same session.
Nothing is written on any error.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from ..gateways import CognitoGateway, StripeGateway
from ..models import NATIVE_PROVIDER, external_identity, utc_now
from ..onboarding import OnboardingInput, create_stripe_customer
from ..stores import EntitlementsStore, ProfilesStore, Table
from .models import UNAUTHORIZED, ApiRequest, ApiResponse, CheckoutRequest, PortalRequest

SESSION_WINDOW_SECONDS = 120


@dataclass(frozen=True)
class AppConfig:
    """The app's side of the template: its origin and the prices it sells."""

    origin: str
    allowed_prices: Collection[str]
    user_pool_id: str
    platform: str

    def default(self, page: str) -> str:
        return f"{self.origin.rstrip('/')}/{page}"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = ApiResponse(status=status, body={"message": message})


def _caller(request: ApiRequest) -> str:
    if request.sub is None:
        raise _Refused(401, UNAUTHORIZED["message"])
    return request.sub


def _body(request: ApiRequest, model: type[CheckoutRequest] | type[PortalRequest]) -> BaseModel:
    if request.body is None:
        raise _Refused(400, request.body_error or "the body is not a JSON object")
    try:
        return model.model_validate(request.body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise _Refused(400, problems) from None


def under_origin(url: str, origin: str) -> bool:
    """Whether ``url`` is the app's origin or a page under it (scheme, host and port equal)."""
    target, base = urlsplit(url), urlsplit(origin)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or target.username or target.password:
        return False
    prefix = base.path.rstrip("/")
    return target.path == prefix or target.path.startswith(prefix + "/") or not prefix


def _redirect(url: str | None, default: str, config: AppConfig, field: str) -> str:
    chosen = url or default
    if not under_origin(chosen, config.origin):
        raise _Refused(400, f"{field} must be under the app's origin {config.origin}")
    return chosen


def get_me(request: ApiRequest, *, profiles: ProfilesStore, entitlements: EntitlementsStore) -> ApiResponse:
    """The caller's profile and entitlement."""
    try:
        sub = _caller(request)
    except _Refused as refused:
        return refused.response
    # one round trip for both records (a strongly consistent snapshot of the two)
    profile_item, entitlement_item = Table.get_together([profiles.read(sub), entitlements.read(sub)])
    profile, entitlement = profiles.record(profile_item), entitlements.record(entitlement_item)
    status = entitlement.status if entitlement else "none"
    return ApiResponse(status=200, body={
        "sub": sub,
        "email": profile.email if profile else request.claims.get("email"),
        "entitlement": {
            "status": status,
            "plan": entitlement.plan if entitlement else None,
            "features": list(entitlement.features or []) if entitlement else [],
            "current_period_end": entitlement.current_period_end if entitlement else None,
            "trial_end": entitlement.trial_expires_at if entitlement else None,
            "cancel_at_period_end": bool(entitlement.cancel_at_period_end) if entitlement else False,
        },
    })


def _customer(sub: str, request: ApiRequest, *, profiles: ProfilesStore, cognito: CognitoGateway,
              stripe: StripeGateway, config: AppConfig) -> str:
    """The caller's linked customer, or onboarding's own (created idempotently, then linked)."""
    profile = profiles.get(sub)
    if profile is None:
        raise _Refused(409, "no billing account yet: the account is still being set up")
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    user = cognito.get_user(config.user_pool_id, request.username)
    if user.sub != sub or not user.email:
        raise _Refused(409, "no billing account yet: the account has no email")
    identity = external_identity(user.username, {})
    onboarding = OnboardingInput(user_pool_id=config.user_pool_id, user_name=user.username, sub=sub,
                                 email=user.email, email_verified=user.email_verified,
                                 providers=[identity[0]] if identity else [NATIVE_PROVIDER])
    created = create_stripe_customer(onboarding, cognito=cognito, profiles=profiles, stripe=stripe,
                                     platform=config.platform)
    outcome, stored = profiles.link_customer(sub, created.customer_id, utc_now())
    if outcome == "links_another" and stored is not None and stored.stripe_customer_id:
        return stored.stripe_customer_id  # another path linked one first: that one is the user's
    return created.customer_id


def create_checkout_session(request: ApiRequest, *, profiles: ProfilesStore, cognito: CognitoGateway,
                            stripe: StripeGateway, config: AppConfig, now: float | None = None) -> ApiResponse:
    """A subscription Checkout Session for the caller's customer: ``{"url": ...}``."""
    try:
        sub = _caller(request)
        body = _body(request, CheckoutRequest)
        assert isinstance(body, CheckoutRequest)
        if body.price not in config.allowed_prices:
            raise _Refused(400, f"price {body.price!r} is not one the app sells")
        success = _redirect(body.success_url, config.default("?checkout=success"), config, "success_url")
        cancel = _redirect(body.cancel_url, config.default("?checkout=cancel"), config, "cancel_url")
        price_id = stripe.price_id(body.price)
        if price_id is None:
            raise _Refused(400, f"price {body.price!r} does not exist in Stripe")
        customer = _customer(sub, request, profiles=profiles, cognito=cognito, stripe=stripe, config=config)
    except _Refused as refused:
        return refused.response
    window = int((now if now is not None else time.time()) // SESSION_WINDOW_SECONDS)
    url = stripe.create_checkout_session(
        customer=customer, price_id=price_id, sub=sub, success_url=success, cancel_url=cancel,
        idempotency_key=f"linkflow-checkout-{sub}-{price_id}-{window}",
    )
    return ApiResponse(status=200, body={"url": url})


def create_portal_session(request: ApiRequest, *, profiles: ProfilesStore, stripe: StripeGateway,
                          config: AppConfig) -> ApiResponse:
    """Stripe's customer portal for the caller's customer: ``{"url": ...}``."""
    try:
        sub = _caller(request)
        body = _body(request, PortalRequest)
        assert isinstance(body, PortalRequest)
        back = _redirect(body.return_url, config.default(""), config, "return_url")
        profile = profiles.get(sub)
        if profile is None or not profile.stripe_customer_id:
            raise _Refused(409, "no billing account yet: subscribe first")
    except _Refused as refused:
        return refused.response
    return ApiResponse(status=200, body={"url": stripe.create_portal_session(profile.stripe_customer_id, back)})
