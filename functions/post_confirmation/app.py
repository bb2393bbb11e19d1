"""PostConfirmation trigger: start the user's onboarding execution and return the event at once.

Only ``PostConfirmation_ConfirmSignUp`` (native confirmation, or a federated user's first sign-in)
starts anything; no Stripe or DynamoDB work happens here.
"""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from linkflow_shared import CognitoTriggerEvent, OnboardingInput, Settings, parse_input, start_onboarding
from linkflow_shared.aws_clients import client

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    trigger = parse_input(CognitoTriggerEvent, event)
    if trigger.trigger_source != "PostConfirmation_ConfirmSignUp":
        logger.info("not a sign-up confirmation; nothing to start", extra={"trigger_source": trigger.trigger_source})
        return event
    onboarding = OnboardingInput.from_trigger(trigger)
    if not SETTINGS.onboarding_state_machine_arn:
        raise RuntimeError("ONBOARDING_STATE_MACHINE_ARN is not set")
    sfn = client("stepfunctions", profile="trigger")
    started = start_onboarding(sfn, SETTINGS.onboarding_state_machine_arn, onboarding)
    logger.info("onboarding started" if started else "onboarding already started", extra={"sub": onboarding.sub})
    if started:
        with single_metric("OnboardingStarted", MetricUnit.Count, 1, namespace=SETTINGS.metrics_namespace) as metric:
            metric.add_dimension("stage", SETTINGS.stage)
    return event
