"""CheckDuplicateEmail step: claim the normalized email atomically and say what happens next."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import OnboardingInput, Settings, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.onboarding import check_duplicate_email

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    onboarding = parse_input(OnboardingInput, event)
    result = check_duplicate_email(
        onboarding, idp=client("cognito-idp"), claims_table=dynamodb_table(SETTINGS.email_claims_table)
    )
    logger.info("email claim checked", extra={"sub": onboarding.sub, "result": result.dump()})
    return result.dump()
