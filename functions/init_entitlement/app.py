"""InitEntitlement step: give the user an entitlement with status ``none``."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import OnboardingInput, Settings, parse_input
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.onboarding import init_entitlement

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    onboarding = parse_input(OnboardingInput, event)
    entitlement = init_entitlement(onboarding, entitlements_table=dynamodb_table(SETTINGS.entitlements_table))
    logger.info("entitlement initialised", extra={"sub": onboarding.sub, "status": entitlement.status})
    return entitlement.dump()
