"""The subscription-events workflow: Stripe's webhooks start it, its steps keep entitlements equal
to Stripe's current state."""

from .ingress import (
    HANDLED_EVENT_TYPES,
    MAX_BODY_BYTES,
    SIGNATURE_TOLERANCE_SECONDS,
    WebhookRequest,
    WebhookResponse,
    event_hint,
    events_execution_name,
    parse_event,
    start_events_execution,
    stripe_webhook,
    verify_signature,
)
from .models import (
    CustomerLink,
    EventHint,
    LinkedEventInput,
    ResolvedCustomerInput,
    SyncResult,
    UnlinkedCustomerInput,
    UnlinkResult,
)
from .plans import plan_for_price, plan_for_subscription
from .steps import record_unlinked_customer, resolve_customer, unlink_deleted_customer
from .sync import StripeView, entitlement_from_view, fetch_stripe_view, pick_subscription, sync_entitlement

__all__ = [
    "HANDLED_EVENT_TYPES",
    "MAX_BODY_BYTES",
    "SIGNATURE_TOLERANCE_SECONDS",
    "CustomerLink",
    "EventHint",
    "LinkedEventInput",
    "ResolvedCustomerInput",
    "StripeView",
    "SyncResult",
    "UnlinkResult",
    "UnlinkedCustomerInput",
    "WebhookRequest",
    "WebhookResponse",
    "entitlement_from_view",
    "event_hint",
    "events_execution_name",
    "fetch_stripe_view",
    "parse_event",
    "pick_subscription",
    "plan_for_price",
    "plan_for_subscription",
    "record_unlinked_customer",
    "resolve_customer",
    "start_events_execution",
    "stripe_webhook",
    "sync_entitlement",
    "unlink_deleted_customer",
    "verify_signature",
]
