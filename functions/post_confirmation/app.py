"""PostConfirmation trigger: start the user's onboarding execution and return the event at once."""

from linkflow_shared.deps import Deps, required
from linkflow_shared.onboarding import CognitoTriggerEvent, post_confirmation
from linkflow_shared.step import step


@step(CognitoTriggerEvent, profile="trigger", answer="event")
def handler(trigger: CognitoTriggerEvent, deps: Deps) -> dict[str, bool | None]:
    arn = required(deps.settings.onboarding_state_machine_arn, "ONBOARDING_STATE_MACHINE_ARN")
    started = post_confirmation(trigger, sfn=deps.sfn, state_machine_arn=arn)
    if started:
        deps.count("OnboardingStarted")
    return {"started": started}
