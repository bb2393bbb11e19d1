"""CompensateDisableDuplicateAccount: disable an account whose email another account owns."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from linkflow_shared import ClaimedEmailInput, Settings, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.compensations import disable_duplicate_account

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_input(ClaimedEmailInput, event)
    rejection = disable_duplicate_account(
        state, idp=client("cognito-idp"), claims_table=dynamodb_table(SETTINGS.email_claims_table)
    )
    logger.warning("duplicate account disabled", extra={"sub": state.sub, "result": rejection.dump()})
    with single_metric("DuplicateAccountDisabled", MetricUnit.Count, 1, namespace=SETTINGS.metrics_namespace) as m:
        m.add_dimension("stage", SETTINGS.stage)
    return rejection.dump()
