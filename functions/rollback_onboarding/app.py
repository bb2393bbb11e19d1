"""CompensateRollbackOnboarding: remove what onboarding created for a user deleted mid-run."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from linkflow_shared import OnboardingState, Settings, parse_input
from linkflow_shared.aws_clients import dynamodb_table
from linkflow_shared.compensations import rollback_onboarding
from linkflow_shared.stripe_gateway import stripe_client

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = parse_input(OnboardingState, event)
    result = rollback_onboarding(
        state,
        stripe=stripe_client(
            SETTINGS.stripe_secret_name, api_base=SETTINGS.stripe_api_base, livemode=SETTINGS.stripe_livemode
        ),
        profiles_table=dynamodb_table(SETTINGS.user_profiles_table),
        entitlements_table=dynamodb_table(SETTINGS.entitlements_table),
        claims_table=dynamodb_table(SETTINGS.email_claims_table),
    )
    logger.warning("onboarding rolled back: user deleted mid-run", extra={"sub": state.sub, "result": result.dump()})
    return result.dump()
