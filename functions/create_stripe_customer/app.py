"""CreateStripeCustomer step: the user's one Stripe customer (idempotency key from the sub)."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import OnboardingInput, Settings, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.onboarding import create_stripe_customer
from linkflow_shared.stripe_gateway import stripe_client

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    onboarding = parse_input(OnboardingInput, event)
    customer = create_stripe_customer(
        onboarding,
        idp=client("cognito-idp"),
        profiles_table=dynamodb_table(SETTINGS.user_profiles_table),
        stripe=stripe_client(
            SETTINGS.stripe_secret_name, api_base=SETTINGS.stripe_api_base, livemode=SETTINGS.stripe_livemode
        ),
        platform=SETTINGS.platform,
    )
    logger.info("Stripe customer ready", extra={"sub": onboarding.sub, "result": customer.dump()})
    return customer.dump()
