"""Compare one user's records across Cognito, DynamoDB and Stripe: what is broken (pure; the
repairs are in ``repair.py``).

The rules, in the order they are checked (a user missing its profile is not checked further: the
repair rebuilds what follows from the profile, and the next run checks the rest):

- the Cognito user is gone but a profile or entitlement remains → ``orphan_records``;
- an unconfirmed or disabled user (a duplicate the workflow disabled) is not a finding;
- no profile: onboarding still running → nothing; it succeeded → ``missing_profile``; it failed,
  timed out, was aborted or never started → ``missing_onboarding``;
- no entitlement, or one without ``email`` → ``missing_entitlement``;
- no ``stripeCustomerId``: a live customer whose metadata names the sub → ``unlinked_customer``,
  none → ``missing_customer``; a ``stripeCustomerId`` Stripe shows deleted → ``missing_customer``;
- several live customers for the sub → ``duplicate_customers``;
- the linked customer's metadata lacks ``cognito_user_id``/``cognito_sub``/``user_pool_id`` →
  ``customer_metadata``;
- the entitlement differs from what the linked customer's subscriptions imply (the events
  machine's own derivation) → ``entitlement_drift``;
- the verified Cognito email differs from the profile's, the claim's, the entitlement's or the
  linked customer's → ``email_drift``.
"""

from __future__ import annotations

from ..models import normalize_email
from ..subscription_events.sync import StripeView, entitlement_from_view
from .models import CustomerEntry, Finding, UserSnapshot

REQUIRED_METADATA = ("cognito_user_id", "cognito_sub", "user_pool_id")
SYNCED = ("status", "plan", "current_period_end", "trial_expires_at", "stripe_customer_id", "subscription_id")
NOT_FINISHED = "RUNNING"
SUCCEEDED = "SUCCEEDED"


def live_customers(user: UserSnapshot) -> list[CustomerEntry]:
    """The user's live customers: linked by the profile, or naming the sub in their metadata."""
    linked = user.profile.stripe_customer_id if user.profile else None
    return [c for c in user.customers if not c.deleted and (user.sub in c.named_subs or c.id == linked)]


def find(user: UserSnapshot, *, onboarding_status: str | None) -> list[Finding]:
    """What is broken for ``user`` (see the module docstring). ``onboarding_status``: the status of
    the user's onboarding execution (``None``: there is none); only read when the profile is missing."""
    sub, cognito, profile = user.sub, user.cognito, user.profile
    if cognito is None:
        if profile is not None or user.entitlement is not None:
            detail = "profile or entitlement of a user gone from Cognito"
            return [Finding(kind="orphan_records", sub=sub, detail=detail)]
        return []
    if not cognito.confirmed or not cognito.enabled:
        return []
    if profile is None:
        if onboarding_status == NOT_FINISHED:
            return []
        if onboarding_status == SUCCEEDED:
            return [Finding(kind="missing_profile", sub=sub, detail="onboarding succeeded but the profile is gone")]
        return [Finding(kind="missing_onboarding", sub=sub, detail=f"onboarding is {onboarding_status or 'absent'}")]
    findings: list[Finding] = []
    if user.entitlement is None or not user.entitlement.email:
        detail = "no entitlement" if user.entitlement is None else "the entitlement has no email"
        findings.append(Finding(kind="missing_entitlement", sub=sub, detail=detail))
    findings += _customers(user)
    findings += _emails(user)
    return findings


def _customers(user: UserSnapshot) -> list[Finding]:
    assert user.profile is not None
    sub, linked = user.sub, user.profile.stripe_customer_id
    live = live_customers(user)
    findings: list[Finding] = []
    if not linked:
        if live:
            chosen = keep_among(live, linked=None)
            findings.append(Finding(kind="unlinked_customer", sub=sub, detail=f"{chosen.id} names the user",
                                    customer_ids=[chosen.id]))
        else:
            findings.append(Finding(kind="missing_customer", sub=sub, detail="no Stripe customer names the user"))
    gone = next((c for c in user.customers if c.id == linked and c.deleted), None)
    if gone is not None:
        detail = f"the linked customer {gone.id} is deleted in Stripe"
        findings.append(Finding(kind="missing_customer", sub=sub, detail=detail, customer_ids=[gone.id]))
    if len(live) > 1:
        findings.append(Finding(kind="duplicate_customers", sub=sub, detail=f"{len(live)} live customers",
                                customer_ids=sorted(c.id for c in live)))
    current = next((c for c in user.customers if c.id == linked), None)
    if current is not None and not current.deleted:
        missing = [k for k in REQUIRED_METADATA if not current.metadata.get(k)]
        if missing:
            findings.append(Finding(kind="customer_metadata", sub=sub, detail=f"lacks {', '.join(missing)}",
                                    customer_ids=[current.id]))
    if current is not None and user.entitlement is not None and user.entitlement.email:
        drift = entitlement_drift(user, current)
        if drift:
            findings.append(Finding(kind="entitlement_drift", sub=sub, detail=drift, customer_ids=[current.id]))
    return findings


def keep_among(customers: list[CustomerEntry], *, linked: str | None) -> CustomerEntry:
    """Which of several customers of one sub stays: the linked one, else one with billing history,
    else the oldest."""
    for customer in customers:
        if customer.id == linked:
            return customer
    return min(customers, key=lambda c: (not c.billing_history, c.created, c.id))


def entitlement_drift(user: UserSnapshot, customer: CustomerEntry) -> str | None:
    """How the stored entitlement differs from what Stripe's current state implies (``None``: equal)."""
    assert user.entitlement is not None
    view = StripeView(customer_id=customer.id, deleted=customer.deleted, subscriptions=customer.subscriptions)
    expected = entitlement_from_view(view, cognito_sub=user.sub, email=user.entitlement.email)
    stored = user.entitlement
    if stored.status == expected.status == "none":
        return None  # nothing to grant either way (onboarding's entitlement names no customer yet)
    differing = [f for f in SYNCED if getattr(stored, f) != getattr(expected, f)]
    if bool(stored.cancel_at_period_end) != bool(expected.cancel_at_period_end):
        differing.append("cancel_at_period_end")
    if not differing:
        return None
    return "; ".join(f"{f}: {getattr(stored, f)!r} != Stripe's {getattr(expected, f)!r}" for f in differing)


def _emails(user: UserSnapshot) -> list[Finding]:
    cognito, profile = user.cognito, user.profile
    assert cognito is not None and profile is not None
    if not cognito.email_verified or not cognito.email:
        return []
    try:
        verified = normalize_email(cognito.email)
    except ValueError:
        return []
    seen = {"profile": profile.email}
    if user.entitlement is not None and user.entitlement.email:
        seen["entitlement"] = user.entitlement.email
    seen["claim"] = next((c.email for c in user.claims if c.user_id == user.sub), "")
    linked = next((c for c in user.customers if c.id == profile.stripe_customer_id and not c.deleted), None)
    if linked is not None:
        seen["customer"] = (linked.email or "").strip().lower()
    differing = sorted(where for where, email in seen.items() if email != verified)
    if not differing:
        return []
    detail = f"{', '.join(differing)} differ from Cognito's verified email"
    return [Finding(kind="email_drift", sub=user.sub, detail=detail)]
