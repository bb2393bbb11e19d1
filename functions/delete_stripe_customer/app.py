"""CompensateDeleteStripeCustomer: delete the run's customer when the profile links another one."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import DeleteCustomerInput, Settings, parse_input
from linkflow_shared.compensations import delete_duplicate_customer
from linkflow_shared.stripe_gateway import stripe_client

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_input(DeleteCustomerInput, event)
    stripe = stripe_client(
        SETTINGS.stripe_secret_name, api_base=SETTINGS.stripe_api_base, livemode=SETTINGS.stripe_livemode
    )
    result = delete_duplicate_customer(state, stripe=stripe)
    logger.info("duplicate Stripe customer compensated", extra={"sub": state.sub, "result": result.dump()})
    return result.dump()
