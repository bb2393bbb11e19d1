"""PreSignUp trigger: reject a native sign-up whose email is taken, link a verified federated
identity to the account holding its email, fail open (with a log line) on infrastructure errors."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from linkflow_shared import CognitoTriggerEvent, Settings, parse_input
from linkflow_shared.aws_clients import client, dynamodb_table
from linkflow_shared.sign_up_guard import guard_sign_up

SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    trigger = parse_input(CognitoTriggerEvent, event)
    decision = guard_sign_up(
        trigger,
        idp=client("cognito-idp", profile="trigger"),
        claims_table=dynamodb_table(SETTINGS.email_claims_table, profile="trigger"),
        profiles_table=dynamodb_table(SETTINGS.user_profiles_table, profile="trigger"),
    )
    if decision.action == "fail_open":
        logger.warning("PreSignUp failing open: sign-up proceeds unchecked", extra={"result": decision.dump()})
        with single_metric("PreSignUpFailedOpen", MetricUnit.Count, 1, namespace=SETTINGS.metrics_namespace) as m:
            m.add_dimension("stage", SETTINGS.stage)
    else:
        logger.info("PreSignUp decided", extra={"trigger_source": trigger.trigger_source, "result": decision.dump()})
    return event
