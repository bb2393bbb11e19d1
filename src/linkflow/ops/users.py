"""``users show``: find a user by sub, email or Stripe customer id and join the three stores."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe
from botocore.exceptions import ClientError
from linkflow_shared.models import normalize_email
from linkflow_shared.onboarding import onboarding_execution_name
from linkflow_shared.stores import EntitlementRecord, EntitlementsStore, ProfilesStore, Table, UnlinkedCustomersStore

from .clients import Clients
from .drift import (
    CognitoView,
    CustomerView,
    Drift,
    OnboardingView,
    SubscriptionView,
    UserView,
    find_drift,
    orphan_drift,
)
from .errors import UsageError
from .stack import ONBOARDING, StackResources
from .timeline import iso

SUB, EMAIL, CUSTOMER = "sub", "email", "customer"
_CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]+$")


def classify(query: str) -> tuple[str, str]:
    """``(kind, value)``: a Cognito sub (UUID), an email (normalized) or a Stripe customer id."""
    text = query.strip()
    if _CUSTOMER_ID.match(text):
        return CUSTOMER, text
    try:
        return SUB, str(uuid.UUID(text))
    except ValueError:
        pass
    if "@" in text:
        try:
            return EMAIL, normalize_email(text)
        except ValueError:
            raise UsageError(f"{query!r} is not a valid email address") from None
    raise UsageError(f"{query!r} is neither a Cognito sub (UUID), an email, nor a Stripe customer id (cus_...)")


@dataclass
class UserReport:
    query: str
    kind: str
    users: list[UserView] = field(default_factory=list)
    orphans: list[CustomerView] = field(default_factory=list)

    @property
    def drift(self) -> list[Drift]:
        return [d for u in self.users for d in u.drift] + [orphan_drift(c) for c in self.orphans]

    def to_json(self) -> dict[str, Any]:
        return {"query": {"input": self.query, "kind": self.kind}, "users": [u.to_json() for u in self.users],
                "orphan_customers": [c.to_json() for c in self.orphans],
                "drift": [d.to_json() for d in self.drift]}


def _cognito_user(user: Mapping[str, Any]) -> CognitoView:
    """ListUsers' ``UserType`` (``Attributes``) or AdminGetUser's answer (``UserAttributes``)."""
    attrs = {a["Name"]: a.get("Value", "") for a in user.get("Attributes") or user.get("UserAttributes") or []}
    try:
        identities = [{"provider": str(i.get("providerName")), "user_id": str(i.get("userId"))}
                      for i in json.loads(attrs.get("identities") or "[]")]
    except (ValueError, AttributeError):
        identities = []
    return CognitoView(username=user["Username"], sub=attrs.get("sub", ""), status=user.get("UserStatus", ""),
                       enabled=bool(user.get("Enabled", True)), email=attrs.get("email"),
                       email_verified=attrs.get("email_verified", "").lower() == "true",
                       created=iso(user.get("UserCreateDate")), identities=identities)


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _subscription(raw: dict[str, Any]) -> SubscriptionView:
    items = (raw.get("items") or {}).get("data") or []
    price = (items[0].get("price") or {}) if items else {}
    return {"id": raw.get("id"), "status": raw.get("status"), "plan": price.get("lookup_key") or price.get("id"),
            "current_period_end": raw.get("current_period_end") or (items[0].get("current_period_end") if items
                                                                    else None),
            "cancel_at_period_end": raw.get("cancel_at_period_end")}


class UserLookup:
    def __init__(self, clients: Clients, stack: StackResources) -> None:
        self.clients = clients
        self.stack = stack
        self.idp = clients.cognito
        self.profiles = ProfilesStore(Table(clients.table(stack.user_profiles_table)))
        self.entitlements = EntitlementsStore(Table(clients.table(stack.entitlements_table)))
        self.unlinked = (
            UnlinkedCustomersStore(Table(clients.table(stack.unlinked_customers_table)))
            if stack.unlinked_customers_table
            else None
        )
        self._customers: dict[str, CustomerView] = {}

    @property
    def stripe(self) -> stripe.StripeClient:
        return self.clients.stripe(self.stack.stripe_secret_name)

    # -- the three stores --------------------------------------------------------------------
    def _cognito_by(self, attribute: str, value: str) -> list[CognitoView]:
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        users = self.idp.list_users(UserPoolId=self.stack.user_pool_id, Filter=f"{attribute} = {quoted}")["Users"]
        return [_cognito_user(u) for u in users]

    def _entitlement(self, sub: str) -> EntitlementRecord | None:
        return self.entitlements.get(sub)

    def _onboarding(self, sub: str) -> OnboardingView | None:
        machine = self.stack.machines.get(ONBOARDING)
        if machine is None:
            return None
        name = onboarding_execution_name(sub)
        arn = machine.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            desc = self.clients.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise
        return {"execution_arn": arn, "name": name, "status": desc["status"],
                "redrive_count": int(desc.get("redriveCount") or 0)}

    def _customer(self, customer_id: str, source: str) -> CustomerView:
        view = self._customers.get(customer_id)
        if view is None:
            try:
                raw = _plain(self.stripe.v1.customers.retrieve(customer_id))
                view = self._customer_view(raw)
            except stripe.InvalidRequestError as exc:
                if exc.http_status != 404:
                    raise
                view = CustomerView(id=customer_id, found=False)
                self._customers[customer_id] = view
        return view.add_source(source)

    def _customer_view(self, raw: dict[str, Any]) -> CustomerView:
        view = self._customers.get(raw["id"])
        if view is None:
            view = CustomerView(id=raw["id"], email=raw.get("email"), deleted=bool(raw.get("deleted")),
                                metadata={k: str(v) for k, v in (raw.get("metadata") or {}).items()})
            self._customers[view.id] = view
        return view

    def _customers_by_email(self, email: str) -> list[CustomerView]:
        page = self.stripe.v1.customers.list(params={"email": email, "limit": 100})
        return [self._customer_view(_plain(c)) for c in page.data]

    def _customers_by_sub(self, sub: str) -> list[CustomerView]:
        page = self.stripe.v1.customers.search(params={"query": f"metadata['cognito_sub']:'{sub}'", "limit": 100})
        return [self._customer_view(_plain(c)) for c in page.data]

    def _subscriptions(self, customer: CustomerView) -> None:
        page = self.stripe.v1.subscriptions.list(params={"customer": customer.id, "status": "all", "limit": 20})
        customer.subscriptions = [_subscription(_plain(s)) for s in page.data]

    def _unlinked_record(self, customer: CustomerView) -> None:
        if self.unlinked is not None and customer.unlinked is None:
            record = self.unlinked.get(customer.id)
            customer.unlinked = record.model_dump(mode="json") if record else None

    # -- one user ----------------------------------------------------------------------------
    def view(self, sub: str, cognito: CognitoView | None = None) -> UserView:
        user = UserView(sub=sub)
        user.cognito = cognito or next(iter(self._cognito_by("sub", sub)), None)
        user.profile = self.profiles.get(sub)
        user.entitlement = self._entitlement(sub)
        user.onboarding = self._onboarding(sub)
        customers: dict[str, CustomerView] = {}
        for source, stored in (("profile", user.profile and user.profile.stripe_customer_id),
                               ("entitlement", user.entitlement and user.entitlement.stripe_customer_id)):
            if stored:
                customers[stored] = self._customer(stored, source)
        for found in self._customers_by_sub(sub):
            customers.setdefault(found.id, found.add_source("search"))
        emails = {e for e in (user.cognito and user.cognito.email, user.profile and user.profile.email) if e}
        for email in sorted(emails):
            for found in self._customers_by_email(email):
                if found.belongs_to(sub):
                    customers.setdefault(found.id, found.add_source("email"))
        user.customers = list(customers.values())
        for customer in user.customers:
            self._unlinked_record(customer)
            if customer.live:
                self._subscriptions(customer)
        find_drift(user)
        return user

    # -- a query -----------------------------------------------------------------------------
    def lookup(self, query: str) -> UserReport:
        kind, value = classify(query)
        report = UserReport(query=query, kind=kind)
        if kind == SUB:
            subs, candidates = [value], list[CustomerView]()
        elif kind == EMAIL:
            subs, candidates = self._subs_for_email(value, query.strip())
        else:
            subs, candidates = self._subs_for_customer(value)
        report.users = [view for view in (self.view(sub) for sub in dict.fromkeys(subs)) if view.found]
        linked = {c.id for u in report.users for c in u.customers}
        linked |= {i for u in report.users for i in (u.profile and u.profile.stripe_customer_id,
                                                     u.entitlement and u.entitlement.stripe_customer_id) if i}
        report.orphans = [c for c in candidates if c.live and c.id not in linked]
        for orphan in report.orphans:
            self._unlinked_record(orphan)
        if not report.users and not report.orphans:
            raise UsageError(f"no user found for {query!r} in Cognito, UserProfiles, Entitlements or Stripe")
        return report

    def _subs_for_email(self, email: str, raw: str) -> tuple[list[str], list[CustomerView]]:
        spellings = list(dict.fromkeys((email, raw)))
        subs = [u.sub for spelling in spellings for u in self._cognito_by("email", spelling)]
        subs += [p.user_id for p in self.profiles.find_by_email(email)]
        customers = list({c.id: c for s in spellings for c in self._customers_by_email(s)}.values())
        subs += [c.metadata_sub for c in customers if c.live and c.metadata_sub]
        return subs, customers

    def _subs_for_customer(self, customer_id: str) -> tuple[list[str], list[CustomerView]]:
        customer = self._customer(customer_id, "query")
        subs = [p.user_id for p in self.profiles.find_by_customer(customer_id)]
        if customer.metadata_sub:
            subs.append(customer.metadata_sub)
        if not customer.found and not subs:
            raise UsageError(f"unknown customer {customer_id}: not in Stripe, no profile links it")
        return subs, [customer]
