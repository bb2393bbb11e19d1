"""SyncEntitlement step: re-read the customer's subscriptions from Stripe and write the
entitlement they imply, guarded so that an older view never overwrites a newer one."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import Settings
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.models import ResolvedCustomerInput, parse_event_input
from linkflow_shared.stripe_gateway import stripe_client
from linkflow_shared.subscription_sync import sync_entitlement

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_event_input(ResolvedCustomerInput, event)
    result = sync_entitlement(
        state,
        entitlements_table=dynamodb_table(SETTINGS.entitlements_table),
        stripe=stripe_client(
            SETTINGS.stripe_secret_name, api_base=SETTINGS.stripe_api_base, livemode=SETTINGS.stripe_livemode
        ),
    )
    logger.info("entitlement synced", extra={"event": state.event_id, "sub": state.customer.sub,
                                             "status": result.entitlement.status, "version": result.sync_version})
    return result.dump()
