"""The resources of a deployed linkflow stack, found from its CloudFormation outputs.

The same lookup serves AWS and the local stack (which registers ``linkflow-local`` with the same
outputs): nothing here knows which one it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

ONBOARDING = "onboarding"
SUBSCRIPTION_EVENTS = "subscription-events"
RECONCILE = "reconcile"
MACHINES = (ONBOARDING, SUBSCRIPTION_EVENTS, RECONCILE)
_MACHINE_OUTPUTS = {ONBOARDING: "OnboardingStateMachineArn", SUBSCRIPTION_EVENTS: "SubscriptionEventsStateMachineArn",
                    RECONCILE: "ReconcileStateMachineArn"}
_REQUIRED = ("UserPoolId", "OnboardingStateMachineArn", "UserProfilesTableName", "EntitlementsTableName",
             "StripeSecretName")


@dataclass(frozen=True)
class StackResources:
    name: str
    user_pool_id: str
    user_profiles_table: str
    entitlements_table: str
    stripe_secret_name: str
    machines: dict[str, str] = field(default_factory=dict)  # "onboarding" → state machine ARN
    user_pool_client_id: str | None = None
    email_claims_table: str | None = None
    unlinked_customers_table: str | None = None  # absent before the subscription-events machine
    stage: str | None = None
    reconcile_bucket: str | None = None  # absent before the reconcile machine
    parameters: dict[str, str] = field(default_factory=dict)  # the stack's template parameters, where listed

    @classmethod
    def from_outputs(cls, name: str, outputs: dict[str, str],
                     parameters: dict[str, str] | None = None) -> StackResources:
        missing = [key for key in _REQUIRED if not outputs.get(key)]
        if missing:
            raise UsageError(f"stack {name!r} has no output {', '.join(missing)}: is it a linkflow stack?")
        return cls(
            name=name,
            user_pool_id=outputs["UserPoolId"],
            user_profiles_table=outputs["UserProfilesTableName"],
            entitlements_table=outputs["EntitlementsTableName"],
            stripe_secret_name=outputs["StripeSecretName"],
            machines={key: outputs[out] for key, out in _MACHINE_OUTPUTS.items() if outputs.get(out)},
            user_pool_client_id=outputs.get("UserPoolClientId"),
            email_claims_table=outputs.get("EmailClaimsTableName"),
            unlinked_customers_table=outputs.get("UnlinkedCustomersTableName"),
            stage=outputs.get("Stage"),
            reconcile_bucket=outputs.get("ReconcileBucketName"),
            parameters=dict(parameters or {}),
        )

    def machine_arn(self, machine: str) -> str:
        if machine not in MACHINES:
            raise UsageError(f"--machine {machine!r}: expected one of {', '.join(MACHINES)}")
        arn = self.machines.get(machine)
        if arn is None:
            raise UsageError(f"stack {self.name!r} has no {machine} state machine "
                             f"(no {_MACHINE_OUTPUTS[machine]} output)")
        return arn

    def selected(self, machine: str | None) -> dict[str, str]:
        """The machines a ``--machine`` option selects (all the stack has when None)."""
        if machine is None:
            return dict(self.machines)
        return {machine: self.machine_arn(machine)}

    def machine_of(self, state_machine_arn: str) -> str | None:
        return next((key for key, arn in self.machines.items() if arn == state_machine_arn), None)


def load_stack(cloudformation: CloudFormationClient, name: str | None) -> StackResources:
    """The stack named ``name``; :class:`UsageError` if there is no name or no such stack."""
    if not name:
        raise UsageError("no stack: pass --stack NAME or set LINKFLOW_STACK")
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if exc.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in message:
            where = cloudformation.meta.region_name
            raise UsageError(f"unknown stack {name!r}: no CloudFormation stack of that name in {where}") from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stacks[0].get("Parameters", [])
                  if "ParameterKey" in p and "ParameterValue" in p}
    return StackResources.from_outputs(name, outputs, parameters)
