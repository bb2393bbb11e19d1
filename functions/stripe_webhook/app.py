"""StripeWebhook (POST /stripe/webhook): verify the delivery, start its subscription-events
execution, answer at once. No Stripe call, no DynamoDB write."""

import os
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import Settings
from linkflow_shared.stripe_gateway import load_stripe_secret
from linkflow_shared.webhook_ingress import (
    WebhookRequest,
    handle_webhook,
    ingress_sfn_client,
    start_events_execution,
)

SETTINGS = Settings.from_env()
STATE_MACHINE_ARN = os.environ["SUBSCRIPTION_EVENTS_STATE_MACHINE_ARN"]
logger = Logger()
tracer = Tracer()


def webhook_secrets() -> list[str]:
    """The current and the previous signing secret: both verify while a secret is rolled."""
    secret = load_stripe_secret(SETTINGS.stripe_secret_name)
    return [secret.webhook_secret, secret.webhook_secret_previous]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = WebhookRequest.from_api_gateway(event)
    response = handle_webhook(
        request,
        secrets=webhook_secrets,
        livemode=SETTINGS.stripe_livemode,
        start=partial(start_events_execution, ingress_sfn_client(), STATE_MACHINE_ARN),
    )
    logger.info("webhook answered", extra={"status": response.status, "answer": response.body})
    return response.to_api_gateway()
