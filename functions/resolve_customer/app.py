"""ResolveCustomer step: which user the event's Stripe customer belongs to (repairing the
profile's link when only the customer's metadata knows)."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import Settings
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.customer_links import resolve_customer
from linkflow_shared.models import EventHint, parse_event_input
from linkflow_shared.stripe_gateway import stripe_client

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    hint = parse_event_input(EventHint, event)
    link = resolve_customer(
        hint,
        profiles_table=dynamodb_table(SETTINGS.user_profiles_table),
        stripe=stripe_client(
            SETTINGS.stripe_secret_name, api_base=SETTINGS.stripe_api_base, livemode=SETTINGS.stripe_livemode
        ),
    )
    logger.info("customer resolved", extra={"event": hint.event_id, "outcome": link.outcome, "sub": link.sub,
                                            "resolved_by": link.resolved_by, "reason": link.reason})
    return link.dump()
