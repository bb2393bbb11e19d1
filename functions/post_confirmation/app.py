"""PostConfirmation trigger: start the user's onboarding execution (or queue the start when Step
Functions refuses it) and return the event at once."""

from linkflow_shared.deps import Deps, required
from linkflow_shared.onboarding import CognitoTriggerEvent, post_confirmation
from linkflow_shared.step import step


@step(CognitoTriggerEvent, profile="trigger", answer="event")
def handler(trigger: CognitoTriggerEvent, deps: Deps) -> dict[str, str]:
    arn = required(deps.settings.onboarding_state_machine_arn, "ONBOARDING_STATE_MACHINE_ARN")
    started = post_confirmation(trigger, sfn=deps.sfn, state_machine_arn=arn, queue=lambda: deps.start_queue)
    if started in ("started", "queued"):
        deps.count("OnboardingStarted" if started == "started" else "OnboardingStartQueued")
    return {"onboarding": started}
