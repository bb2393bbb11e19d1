"""WriteProfile step: create the user's profile; an existing one is kept as it is."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import OnboardingInput, Settings, parse_input, write_profile
from linkflow_shared.aws_clients import dynamodb_table

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    onboarding = parse_input(OnboardingInput, event)
    profile = write_profile(onboarding, profiles_table=dynamodb_table(SETTINGS.user_profiles_table))
    logger.info("profile written", extra={"sub": onboarding.sub})
    return profile.dump()
