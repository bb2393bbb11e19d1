"""StoreStripeCustomerId step: link the run's customer to the profile with a conditional write."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import Settings, StoreCustomerInput, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.onboarding import store_customer_id

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_input(StoreCustomerInput, event)
    result = store_customer_id(
        state, idp=client("cognito-idp"), profiles_table=dynamodb_table(SETTINGS.user_profiles_table)
    )
    logger.info("Stripe customer id stored", extra={"sub": state.sub, "result": result.dump()})
    return result.dump()
