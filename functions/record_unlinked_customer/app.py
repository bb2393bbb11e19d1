"""RecordUnlinkedCustomer step: note a Stripe customer no user owns, for operators to settle."""

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.models import UnlinkedCustomerInput, parse_event_input
from linkflow_shared.unlinked_customers import record_unlinked_customer

UNLINKED_CUSTOMERS_TABLE = os.environ["UNLINKED_CUSTOMERS_TABLE"]
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_event_input(UnlinkedCustomerInput, event)
    record = record_unlinked_customer(state, table=dynamodb_table(UNLINKED_CUSTOMERS_TABLE))
    logger.warning("Stripe customer linked to no user", extra={"customer": record.stripe_customer_id,
                                                                "reason": record.reason, "events": record.event_count})
    return record.dump()
