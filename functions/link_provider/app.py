"""LinkProvider step: make a federated identity sign in as the account that owns its email."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import ClaimedEmailInput, Settings, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.onboarding import link_provider

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_input(ClaimedEmailInput, event)
    result = link_provider(
        state, idp=client("cognito-idp"), profiles_table=dynamodb_table(SETTINGS.user_profiles_table)
    )
    logger.info("federated identity linked to the email's owner", extra={"sub": state.sub, "result": result.dump()})
    return result.dump()
