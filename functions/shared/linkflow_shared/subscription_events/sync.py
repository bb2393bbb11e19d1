"""SyncEntitlement: write a user's entitlement from Stripe's *current* state, never an older one.

The webhook event is only a hint that something changed for a customer. The step reads Stripe
again (the customer, and all its subscriptions with ``status=all``), derives the entitlement from
that view alone, and writes it with an optimistic-concurrency guard:

1. read the entitlement's ``syncVersion`` ``v`` (strongly consistent; 0 when absent);
2. fetch the customer and its subscriptions from Stripe;
3. write the derived entitlement with ``syncVersion = v + 1`` on condition ``syncVersion = v``
   (``attribute_not_exists`` for 0); if the condition fails another sync wrote in between: go back
   to 1 (a few times here, then :class:`WriteConflict`, which the state machine retries with
   jittered backoff).

Why an older view can never overwrite a newer one: the write that sets version ``k`` succeeded
only because its step-1 read saw ``k - 1``, i.e. it read *after* the write of ``k - 1`` landed, and
its Stripe fetch came after that read. So the fetches behind successive versions happened in real
time order, and every stored entitlement is a view of Stripe at least as recent as the one it
replaced. Neither ``event.created`` (one-second resolution) nor any clock decides anything.

Why the last write is Stripe's final state: every change in Stripe emits an event whose execution
starts after the change. That execution keeps trying until one of its writes succeeds, and its
fetch then started after the change; any later successful write fetched later still. Duplicates
and reordering only add syncs of the same or newer state. A sync whose view equals the stored one
still writes (bumping the version): skipping it would let a concurrent sync holding an older view
land after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ..errors import StripeCustomerMissing, StripeNotFound, WriteConflict
from ..gateways import StripeGateway
from ..models import utc_now
from ..stores import EntitlementRecord, EntitlementsStore, EntitlementStatus
from .models import ResolvedCustomerInput, SyncResult
from .plans import plan_for_subscription

logger = Logger(child=True)

# Which subscription decides when a customer has several: the best status, then the newest.
STATUS_RANK = {
    "active": 0,
    "trialing": 1,
    "past_due": 2,
    "unpaid": 3,
    "paused": 4,
    "incomplete": 5,
    "canceled": 6,
    "incomplete_expired": 7,
}
ENTITLEMENT_STATUSES: frozenset[str] = frozenset(STATUS_RANK) | {"none"}
WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class StripeView:
    """A customer as Stripe shows it now: deleted or not, and every subscription (any status)."""

    customer_id: str
    deleted: bool
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    features: list[str] = field(default_factory=list)  # active Entitlements' lookup keys


def fetch_stripe_view(stripe: StripeGateway, customer_id: str) -> StripeView:
    """Stripe's view of a linked customer. Only Stripe's own ``deleted: true`` means deleted; a 404
    (a wrong key, a test/live mix-up, another account) is :class:`StripeCustomerMissing` and
    changes nothing: reading it as "deleted" would wipe a paying user's entitlement."""
    try:
        customer = stripe.retrieve_customer(customer_id)
    except StripeNotFound as exc:
        raise StripeCustomerMissing(
            f"Stripe does not know customer {customer_id} under this API key: {exc}; nothing was changed"
        ) from exc
    if customer.get("deleted"):
        return StripeView(customer_id=customer_id, deleted=True)
    return StripeView(customer_id=customer_id, deleted=False, subscriptions=stripe.list_subscriptions(customer_id),
                      features=stripe.active_entitlements(customer_id))


def pick_subscription(subscriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subscription that decides the entitlement, the same one whatever order Stripe lists them in."""
    if not subscriptions:
        return None
    return min(
        subscriptions,
        key=lambda s: (STATUS_RANK.get(str(s.get("status")), len(STATUS_RANK)), -int(s.get("created") or 0), s["id"]),
    )


def _period_end(subscription: dict[str, Any], item: Any) -> int | None:
    # Since API 2025-03-31 the period lives on the items; older versions keep it on the subscription.
    if item and item.get("current_period_end"):
        return int(item["current_period_end"])
    ends = [i.get("current_period_end") for i in (subscription.get("items") or {}).get("data") or []]
    ends = [e for e in ends if e]
    if ends:
        return int(max(ends))
    end = subscription.get("current_period_end")
    return int(end) if end else None


def _status(raw: object) -> EntitlementStatus:
    status = str(raw)
    if status not in ENTITLEMENT_STATUSES:
        logger.warning("unknown subscription status; entitlement none", extra={"status": status})
        return "none"
    return status  # type: ignore[return-value]  # checked against ENTITLEMENT_STATUSES above


def entitlement_from_view(view: StripeView, *, cognito_sub: str, email: str | None) -> EntitlementRecord:
    """The entitlement Stripe's view implies (ordering fields are added by the write)."""
    chosen = None if view.deleted else pick_subscription(view.subscriptions)
    features = [] if view.deleted else sorted(view.features)
    if chosen is None:
        customer = None if view.deleted else view.customer_id
        return EntitlementRecord(cognito_sub=cognito_sub, email=email, status="none", stripe_customer_id=customer,
                                 features=features)
    plan, item = plan_for_subscription(chosen)
    if plan is None:
        logger.warning("subscription has no price mapped to a plan", extra={"subscription": chosen["id"]})
    status = _status(chosen.get("status"))
    trial_end = chosen.get("trial_end")
    return EntitlementRecord(
        cognito_sub=cognito_sub,
        email=email,
        status=status,
        plan=plan,
        current_period_end=_period_end(chosen, item),
        trial_expires_at=int(trial_end) if status == "trialing" and trial_end else None,
        cancel_at_period_end=bool(chosen.get("cancel_at_period_end")),
        stripe_customer_id=view.customer_id,
        subscription_id=chosen["id"],
        features=features,
    )


def sync_entitlement(
    state: ResolvedCustomerInput,
    *,
    entitlements: EntitlementsStore,
    stripe: StripeGateway,
    attempts: int = WRITE_ATTEMPTS,
) -> SyncResult:
    """Read the version, fetch Stripe, write conditionally; again if another sync wrote meanwhile."""
    link = state.customer
    for attempt in range(1, attempts + 1):
        base = entitlements.read_sync_version(state.sub)
        view = fetch_stripe_view(stripe, link.customer_id)
        now = utc_now()  # taken after the fetch; informational, the version decides
        record = entitlement_from_view(view, cognito_sub=state.sub, email=link.email).model_copy(
            update={
                "updated_at": now,
                "synced_at": now,
                "sync_version": base + 1,
                "last_event_id": state.event_id,
                "last_event_type": state.event_type,
            }
        )
        if entitlements.write_synced(record, base):
            return SyncResult(
                sync_version=base + 1, customer_deleted=view.deleted, attempts=attempt, entitlement=record
            )
        logger.info("another sync wrote first; reading again", extra={"sub": state.sub, "attempt": attempt})
    raise WriteConflict(f"entitlement {state.sub} kept changing during {attempts} sync attempts")
