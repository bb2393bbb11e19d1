"""StripeWebhook (POST /stripe/webhook): verify the delivery, start its subscription-events
execution, answer at once. No Stripe call, no DynamoDB write."""

from typing import Any

from linkflow_shared.deps import Deps, required
from linkflow_shared.step import step
from linkflow_shared.subscription_events import EventHint, WebhookRequest, start_events_execution, stripe_webhook


@step(WebhookRequest, profile="ingress")
def handler(request: WebhookRequest, deps: Deps) -> dict[str, Any]:
    arn = required(deps.settings.subscription_events_state_machine_arn, "SUBSCRIPTION_EVENTS_STATE_MACHINE_ARN")

    def start(hint: EventHint) -> bool:
        return start_events_execution(deps.sfn, arn, hint)

    livemode = deps.settings.stripe_livemode
    return stripe_webhook(request, secrets=deps.webhook_secrets, livemode=livemode, start=start).to_api_gateway()
