"""UnlinkDeletedCustomer step: the customer is deleted in Stripe, so the profile stops linking it."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import Settings
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.customer_links import unlink_deleted_customer
from linkflow_shared.models import ResolvedCustomerInput, parse_event_input

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_event_input(ResolvedCustomerInput, event)
    result = unlink_deleted_customer(state, profiles_table=dynamodb_table(SETTINGS.user_profiles_table))
    logger.info("deleted customer unlinked", extra={"event": state.event_id, **result.dump()})
    return result.dump()
