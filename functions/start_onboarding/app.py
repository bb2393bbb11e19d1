"""StartOnboarding (SQS): start the onboarding executions PostConfirmation could not start."""

from linkflow_shared.deps import Deps, required
from linkflow_shared.onboarding import BatchResult, QueuedStarts, start_onboarding
from linkflow_shared.step import step


@step(QueuedStarts)
def handler(batch: QueuedStarts, deps: Deps) -> BatchResult:
    arn = required(deps.settings.onboarding_state_machine_arn, "ONBOARDING_STATE_MACHINE_ARN")
    return start_onboarding(batch, sfn=deps.sfn, state_machine_arn=arn)
