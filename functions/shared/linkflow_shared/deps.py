"""What a step may need, built lazily from one complete :class:`~linkflow_shared.config.Settings`.

A handler gets a fresh ``Deps`` per invocation (cheap: nothing is built until asked for, and the
clients underneath are cached per process by ``aws_clients`` and ``gateways.stripe``). What only
some functions use (the app's API, reconcile, the snapshots) is imported when first asked for: its
pydantic models cost every other function's cold start about a third of its import time. Tests pass
ready collaborators instead (``Deps(settings, stripe=fake)``): an explicit value beats the
environment.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from . import aws_clients
from .aws_clients import Profile
from .config import Settings
from .gateways import (
    BotoCognito,
    CognitoGateway,
    SdkStripe,
    SqsQueue,
    StripeGateway,
    load_webhook_secrets,
    stripe_client,
)
from .stores import EmailClaimsStore, EntitlementsStore, ProfilesStore, Table, UnlinkedCustomersStore

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_stepfunctions import SFNClient

    from .app_api import AppConfig
    from .gateways.snapshots import S3Snapshots
    from .reconcile import Repairer, RunInput


class Deps:
    def __init__(self, settings: Settings, *, profile: Profile = "task", **ready: Any) -> None:
        self.settings = settings
        self.profile: Profile = profile
        for name, value in ready.items():  # a ready collaborator shadows the lazy property
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise TypeError(f"Deps has no collaborator named {name}")
            self.__dict__[name] = value

    def _table(self, name: str) -> Table:
        return Table(aws_clients.dynamodb_table(name, profile=self.profile))

    @cached_property
    def cognito(self) -> CognitoGateway:
        return BotoCognito(aws_clients.cognito(self.profile))

    @cached_property
    def stripe(self) -> StripeGateway:
        s = self.settings
        return SdkStripe(lambda: stripe_client(s.stripe_secret_name, api_base=s.stripe_api_base,
                                               livemode=s.stripe_livemode))

    @cached_property
    def sfn(self) -> SFNClient:
        return aws_clients.stepfunctions(self.profile)

    @cached_property
    def idp(self) -> CognitoIdentityProviderClient:
        return aws_clients.cognito(self.profile)

    @cached_property
    def snapshots(self) -> S3Snapshots:
        from .gateways.snapshots import S3Snapshots

        bucket = required(self.settings.reconcile_bucket, "RECONCILE_BUCKET")
        return S3Snapshots(aws_clients.s3(self.profile), bucket)

    def tables(self) -> dict[str, Table]:
        """The three tables reconcile scans, by the names its snapshot uses."""
        s = self.settings
        return {"profiles": self._table(s.user_profiles_table), "entitlements": self._table(s.entitlements_table),
                "claims": self._table(s.email_claims_table)}

    def app(self) -> AppConfig:
        from .app_api import AppConfig

        s = self.settings
        pool = required(s.user_pool_id, "USER_POOL_ID")
        return AppConfig(origin=s.app_origin, allowed_prices=s.allowed_prices, user_pool_id=pool, platform=s.platform)

    def repairer(self, run: RunInput, stripe: StripeGateway) -> Repairer:
        """The reconcile fixes for ``run``, with this function's stores and ``stripe`` (paced)."""
        from .reconcile import DEFAULT_FIXES, Repairer

        s = self.settings
        return Repairer(
            cognito=self.cognito, stripe=stripe, profiles=self.profiles, entitlements=self.entitlements,
            claims=self.email_claims, sfn=self.sfn,
            onboarding_state_machine_arn=required(s.onboarding_state_machine_arn, "ONBOARDING_STATE_MACHINE_ARN"),
            user_pool_id=required(s.user_pool_id, "USER_POOL_ID"), platform=s.platform, run_id=run.run_id,
            fix_kinds=set(run.fix) or DEFAULT_FIXES, dry_run=run.dry_run,
        )

    @cached_property
    def start_queue(self) -> SqsQueue:
        url = required(self.settings.onboarding_start_queue_url, "ONBOARDING_START_QUEUE_URL")
        return SqsQueue(aws_clients.sqs(self.profile), url)

    @cached_property
    def profiles(self) -> ProfilesStore:
        return ProfilesStore(self._table(self.settings.user_profiles_table))

    @cached_property
    def entitlements(self) -> EntitlementsStore:
        return EntitlementsStore(self._table(self.settings.entitlements_table))

    @cached_property
    def email_claims(self) -> EmailClaimsStore:
        return EmailClaimsStore(self._table(self.settings.email_claims_table))

    @cached_property
    def unlinked_customers(self) -> UnlinkedCustomersStore:
        return UnlinkedCustomersStore(self._table(self.settings.unlinked_customers_table))

    def webhook_secrets(self) -> list[str]:
        """The current and the previous signing secret: both verify while a secret is rolled."""
        return load_webhook_secrets(self.settings.stripe_webhook_secret_name)

    def count(self, metric: str) -> None:
        """One CloudWatch metric data point (EMF log line), dimensioned by stage."""
        with single_metric(metric, MetricUnit.Count, 1, namespace=self.settings.metrics_namespace) as point:
            point.add_dimension("stage", self.settings.stage)


def required(value: str | None, variable: str) -> str:
    """A setting the function cannot work without (its template environment must set it)."""
    if not value:
        raise RuntimeError(f"{variable} is not set")
    return value
