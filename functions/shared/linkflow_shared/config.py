"""Settings from the environment template.yaml gives every function.

The step adapter reads them once per process (``Settings.from_env()``, at a handler's first call)
and builds every client and table from them (:class:`~linkflow_shared.deps.Deps`); domain code
takes what it needs as explicit arguments, so an explicit value always beats the environment and
tests need no patching. Importing this module reads nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PLATFORM = "linkflow"
# Identity providers whose verified emails may be linked into an existing account (template
# parameter TrustedLinkingProviders): a provider that lets users assert any email must not be here.
DEFAULT_TRUSTED_LINKING_PROVIDERS = ("Google", "SignInWithApple")


@dataclass(frozen=True)
class Settings:
    """Everything a function may need; a function's template environment sets what it uses."""

    stage: str = "dev"
    user_profiles_table: str = "UserProfiles"
    entitlements_table: str = "Entitlements"
    email_claims_table: str = "EmailClaims"
    unlinked_customers_table: str = "UnlinkedStripeCustomers"
    stripe_secret_name: str = "linkflow/stripe"
    stripe_webhook_secret_name: str = "linkflow/stripe-webhook"
    stripe_livemode: bool = False
    stripe_api_base: str | None = None
    onboarding_state_machine_arn: str | None = None
    subscription_events_state_machine_arn: str | None = None
    onboarding_start_queue_url: str | None = None
    user_pool_id: str | None = None
    app_origin: str = "http://localhost:3000/app"
    allowed_prices: tuple[str, ...] = ()
    reconcile_bucket: str | None = None
    platform: str = DEFAULT_PLATFORM
    metrics_namespace: str = "linkflow"
    trusted_linking_providers: tuple[str, ...] = DEFAULT_TRUSTED_LINKING_PROVIDERS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            stage=env.get("STAGE", defaults.stage),
            user_profiles_table=env.get("USER_PROFILES_TABLE", defaults.user_profiles_table),
            entitlements_table=env.get("ENTITLEMENTS_TABLE", defaults.entitlements_table),
            email_claims_table=env.get("EMAIL_CLAIMS_TABLE", defaults.email_claims_table),
            unlinked_customers_table=env.get("UNLINKED_CUSTOMERS_TABLE", defaults.unlinked_customers_table),
            stripe_secret_name=env.get("STRIPE_SECRET_NAME", defaults.stripe_secret_name),
            stripe_webhook_secret_name=env.get("STRIPE_WEBHOOK_SECRET_NAME", defaults.stripe_webhook_secret_name),
            stripe_livemode=env.get("STRIPE_LIVEMODE", "false").strip().lower() == "true",
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            onboarding_state_machine_arn=env.get("ONBOARDING_STATE_MACHINE_ARN") or None,
            subscription_events_state_machine_arn=env.get("SUBSCRIPTION_EVENTS_STATE_MACHINE_ARN") or None,
            onboarding_start_queue_url=env.get("ONBOARDING_START_QUEUE_URL") or None,
            user_pool_id=env.get("USER_POOL_ID") or None,
            app_origin=env.get("APP_ORIGIN", defaults.app_origin),
            allowed_prices=_names(env.get("ALLOWED_PRICES"), defaults.allowed_prices),
            reconcile_bucket=env.get("RECONCILE_BUCKET") or None,
            platform=env.get("PLATFORM", defaults.platform),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", defaults.metrics_namespace),
            trusted_linking_providers=_names(env.get("TRUSTED_LINKING_PROVIDERS"), defaults.trusted_linking_providers),
        )


def _names(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    return tuple(name.strip() for name in raw.split(",") if name.strip())
