"""The joined view of one user across Cognito, DynamoDB and Stripe, and the drift it shows.

Drift codes are stable (scripts match on them):

=============================  ===============================================================
``no_cognito_user``            records exist for a sub Cognito does not know
``no_profile``                 a confirmed, enabled user without a UserProfiles item
``no_entitlement``             ... without an Entitlements item
``profile_without_customer``   the profile has no ``stripeCustomerId``
``customer_not_found``         the stored customer id is unknown to Stripe
``customer_deleted``           the stored customer id names a deleted customer
``customer_metadata_mismatch`` the stored customer's metadata names another sub (or none)
``entitlement_customer_mismatch`` profile and entitlement store different customer ids
``multiple_customers``         more than one live Stripe customer belongs to the sub
``email_mismatch``             Cognito, profile, entitlement and Stripe disagree on the email
``entitlement_behind_stripe``  Stripe has an active/trialing subscription, the entitlement does not
``onboarding_failed``          the user's onboarding execution failed (redrive it)
``customer_events_unlinked``   the events machine could not tie Stripe events of this customer to the user
``customer_without_user``      a Stripe customer found by email/id that no user is linked to
=============================  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from linkflow_shared.stores import EntitlementRecord, ProfileRecord

PAYING = {"active", "trialing"}
_FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}


class SubscriptionView(TypedDict):
    """One Stripe subscription of a customer, as ``users show`` reports it."""

    id: str | None
    status: str | None
    plan: str | None  # the price's lookup_key, else its id
    current_period_end: int | None
    cancel_at_period_end: bool | None


class OnboardingView(TypedDict):
    """The user's onboarding execution (named after the sub)."""

    execution_arn: str
    name: str
    status: str
    redrive_count: int


@dataclass
class Drift:
    code: str
    sub: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "sub": self.sub, "message": self.message}


@dataclass
class CognitoView:
    username: str
    sub: str
    status: str
    enabled: bool
    email: str | None = None
    email_verified: bool = False
    created: str | None = None
    identities: list[dict[str, str]] = field(default_factory=list)  # [{"provider", "user_id"}]

    @property
    def linked_providers(self) -> list[str]:
        return [i["provider"] for i in self.identities]

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "status": self.status, "enabled": self.enabled, "email": self.email,
                "email_verified": self.email_verified, "created": self.created,
                "linked_providers": self.linked_providers, "identities": self.identities}


@dataclass
class CustomerView:
    id: str
    email: str | None = None
    deleted: bool = False
    found: bool = True  # False: Stripe answered 404
    metadata: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # profile, entitlement, search, email, query
    subscriptions: list[SubscriptionView] = field(default_factory=list)
    unlinked: dict[str, Any] | None = None  # its UnlinkedCustomers item: events no user was found for

    @property
    def live(self) -> bool:
        return self.found and not self.deleted

    def add_source(self, source: str) -> CustomerView:
        if source not in self.sources:
            self.sources.append(source)
        return self

    def belongs_to(self, sub: str) -> bool:
        return sub in (self.metadata.get("cognito_sub"), self.metadata.get("cognito_user_id"))

    @property
    def metadata_sub(self) -> str | None:
        return self.metadata.get("cognito_sub") or self.metadata.get("cognito_user_id") or None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "deleted": self.deleted, "found": self.found,
                "metadata": self.metadata, "sources": self.sources, "subscriptions": self.subscriptions,
                "unlinked": self.unlinked}


@dataclass
class UserView:
    sub: str
    cognito: CognitoView | None = None
    profile: ProfileRecord | None = None
    entitlement: EntitlementRecord | None = None
    customers: list[CustomerView] = field(default_factory=list)
    onboarding: OnboardingView | None = None
    notes: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.cognito or self.profile or self.entitlement or self.customers)

    def to_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "cognito": self.cognito.to_json() if self.cognito else None,
            "profile": self.profile.model_dump(mode="json") if self.profile else None,
            "entitlement": self.entitlement.model_dump(mode="json") if self.entitlement else None,
            "stripe_customers": [c.to_json() for c in self.customers],
            "onboarding": self.onboarding,
            "notes": self.notes,
            "drift": [d.to_json() for d in self.drift],
        }


def _norm(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def _missing_records(view: UserView) -> list[Drift]:
    cognito, sub = view.cognito, view.sub
    if cognito is None:
        return [Drift("no_cognito_user", sub, f"Cognito has no user with sub {sub}, but linkflow records exist")]
    if cognito.status == "UNCONFIRMED" or not cognito.enabled:
        why = "unconfirmed" if cognito.status == "UNCONFIRMED" else "disabled"
        if view.profile is None:
            view.notes.append(f"the Cognito user is {why}: no profile is expected")
        return []
    if view.onboarding and view.onboarding.get("status") == "RUNNING":
        view.notes.append("onboarding is still running: missing records may be on their way")
        return []
    drift = []
    if view.profile is None:
        drift.append(Drift("no_profile", sub, "no UserProfiles item for this user"))
    if view.entitlement is None:
        drift.append(Drift("no_entitlement", sub, "no Entitlements item for this user"))
    if view.profile is not None and not view.profile.stripe_customer_id:
        drift.append(Drift("profile_without_customer", sub, "the profile has no stripeCustomerId"))
    return drift


def _stored_customers(view: UserView) -> list[Drift]:
    sub, drift = view.sub, []
    profile_id = view.profile.stripe_customer_id if view.profile else None
    entitlement_id = view.entitlement.stripe_customer_id if view.entitlement else None
    if profile_id and entitlement_id and profile_id != entitlement_id:
        drift.append(Drift("entitlement_customer_mismatch", sub,
                           f"profile stores {profile_id}, entitlement stores {entitlement_id}"))
    by_id = {c.id: c for c in view.customers}
    for stored in dict.fromkeys(i for i in (profile_id, entitlement_id) if i):
        customer = by_id.get(stored)
        if customer is None:
            continue
        if not customer.found:
            drift.append(Drift("customer_not_found", sub,
                               f"stored customer {stored} does not exist in Stripe under this key (a wrong key, "
                               "the other mode, another account?): syncs fail with StripeCustomerMissing and "
                               "change nothing; see the runbook"))
        elif customer.deleted:
            drift.append(Drift("customer_deleted", sub, f"stored customer {stored} is deleted in Stripe"))
        elif not customer.belongs_to(sub):
            owner = customer.metadata_sub or "no sub"
            drift.append(Drift("customer_metadata_mismatch", sub,
                               f"stored customer {stored} has metadata naming {owner}"))
    live = [c.id for c in view.customers if c.live]
    if len(live) > 1:
        drift.append(Drift("multiple_customers", sub, f"{len(live)} live Stripe customers: {', '.join(live)}"))
    return drift


def _emails(view: UserView) -> list[Drift]:
    seen: dict[str, str | None] = {}
    if view.cognito:
        seen["cognito"] = _norm(view.cognito.email)
    if view.profile:
        seen["profile"] = _norm(view.profile.email)
    if view.entitlement and view.entitlement.email:
        seen["entitlement"] = _norm(view.entitlement.email)
    for customer in view.customers:
        if customer.live and customer.email:
            seen[f"stripe {customer.id}"] = _norm(customer.email)
    if len({e for e in seen.values() if e}) <= 1:
        return []
    listed = ", ".join(f"{where}={email}" for where, email in seen.items())
    return [Drift("email_mismatch", view.sub, f"emails differ: {listed}")]


def _entitlement_vs_stripe(view: UserView) -> list[Drift]:
    paying = [s for c in view.customers if c.live for s in c.subscriptions if s.get("status") in PAYING]
    status = view.entitlement.status if view.entitlement else None
    if not paying or status in PAYING:
        return []
    subscription = paying[0]
    return [Drift("entitlement_behind_stripe", view.sub,
                  f"Stripe subscription {subscription.get('id')} is {subscription.get('status')} "
                  f"but the entitlement is {status or 'missing'}")]


def _unlinked_events(view: UserView) -> list[Drift]:
    return [Drift("customer_events_unlinked", view.sub,
                  f"Stripe events of {c.id} were recorded as unlinked ({c.unlinked.get('reason')}; last "
                  f"{c.unlinked.get('last_event_type')} {c.unlinked.get('last_event_id')})")
            for c in view.customers if c.unlinked]


def _onboarding(view: UserView) -> list[Drift]:
    onboarding = view.onboarding
    if not onboarding or onboarding.get("status") not in _FAILED:
        return []
    return [Drift("onboarding_failed", view.sub,
                  f"onboarding execution {onboarding.get('name')} is {onboarding.get('status')}"
                  f" (linkflow executions redrive {onboarding.get('name')})")]


def find_drift(view: UserView) -> list[Drift]:
    """Every disagreement between the three stores for one user (also kept on ``view.drift``)."""
    view.drift = [*_missing_records(view), *_stored_customers(view), *_emails(view),
                  *_entitlement_vs_stripe(view), *_unlinked_events(view), *_onboarding(view)]
    return view.drift


def orphan_drift(customer: CustomerView) -> Drift:
    owner = customer.metadata_sub
    detail = f"its metadata names {owner}, which has no records" if owner else "no cognito_sub in its metadata"
    if customer.unlinked:
        detail += (f"; its events are recorded as unlinked (last {customer.unlinked.get('last_event_type')} "
                   f"{customer.unlinked.get('last_event_id')})")
    return Drift("customer_without_user", owner, f"Stripe customer {customer.id} ({customer.email}) is linked "
                                                 f"to no user: {detail}")
