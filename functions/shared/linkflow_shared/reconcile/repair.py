"""Apply the fix for one finding: idempotent, and refused (never forced) when it would lose data.

Every fix reuses the workflows' own code: the onboarding steps (WriteProfile, InitEntitlement,
CreateStripeCustomer with its idempotency key), the profile's conditional link, the events
machine's sync with its version guard. Stripe writes carry idempotency keys derived from what they
write; DynamoDB writes are conditional. So a fix that runs twice, or a run right after a run,
changes nothing more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from ..errors import LinkflowError, error_code
from ..gateways import CognitoGateway, StripeGateway
from ..models import NATIVE_PROVIDER, external_identity, normalize_email, utc_now
from ..onboarding import OnboardingInput, create_stripe_customer, init_entitlement, write_profile
from ..onboarding.triggers import onboarding_execution_name
from ..stores import EmailClaimsStore, EntitlementsStore, ProfilesStore
from ..subscription_events import CustomerLink, ResolvedCustomerInput, sync_entitlement
from .compare import REQUIRED_METADATA, keep_among, live_customers
from .models import Finding, FindingKind, FixOutcome, UserSnapshot

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


class Refused(Exception):
    """The fix would lose data or overwrite someone else's; the reason is reported, nothing done."""


@dataclass
class Repairer:
    """The collaborators fixes need, and the run's options."""

    cognito: CognitoGateway
    stripe: StripeGateway
    profiles: ProfilesStore
    entitlements: EntitlementsStore
    claims: EmailClaimsStore
    sfn: SFNClient
    onboarding_state_machine_arn: str
    user_pool_id: str
    platform: str
    run_id: str
    fix_kinds: Collection[FindingKind]
    dry_run: bool = False

    def fix(self, finding: Finding, user: UserSnapshot) -> FixOutcome:
        if self.dry_run or finding.kind not in self.fix_kinds:
            return FixOutcome(kind=finding.kind, sub=finding.sub, status="not_fixed")
        try:
            getattr(self, f"_fix_{finding.kind}")(finding, user)
        except Refused as refused:
            return FixOutcome(kind=finding.kind, sub=finding.sub, status="refused", reason=str(refused))
        except (LinkflowError, ClientError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return FixOutcome(kind=finding.kind, sub=finding.sub, status="failed", reason=reason[:300])
        return FixOutcome(kind=finding.kind, sub=finding.sub, status="fixed")

    # --- the user's onboarding input, rebuilt from Cognito --------------------------------------
    def _input(self, user: UserSnapshot) -> OnboardingInput:
        cognito = user.cognito
        if cognito is None or not cognito.email:
            raise Refused("the Cognito user has no email")
        identity = external_identity(cognito.username, {})
        return OnboardingInput(
            user_pool_id=self.user_pool_id,
            user_name=cognito.username,
            sub=user.sub,
            email=cognito.email,
            email_verified=cognito.email_verified,
            providers=[identity[0]] if identity else [NATIVE_PROVIDER],
        )

    # --- one method per finding kind ------------------------------------------------------------
    def _fix_missing_onboarding(self, finding: Finding, user: UserSnapshot) -> None:
        name = onboarding_execution_name(user.sub)
        arn = self.onboarding_state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            status = self.sfn.describe_execution(executionArn=arn)["status"]
        except self.sfn.exceptions.ExecutionDoesNotExist:
            status = None
        if status is None:
            onboarding = self._input(user)
            self.sfn.start_execution(stateMachineArn=self.onboarding_state_machine_arn, name=name,
                                     input=json.dumps(onboarding.dump()))
        elif status in REDRIVABLE:
            try:
                self.sfn.redrive_execution(executionArn=arn)
            except ClientError as exc:
                if error_code(exc) == "ExecutionNotRedrivable":
                    raise Refused(f"the {status.lower()} execution is not redrivable: {exc}") from None
                raise
        elif status != "RUNNING":
            raise Refused(f"onboarding is {status}: the profile must be rebuilt (missing_profile)")

    def _fix_missing_profile(self, finding: Finding, user: UserSnapshot) -> None:
        onboarding = self._input(user)
        write_profile(onboarding, cognito=self.cognito, profiles=self.profiles)
        init_entitlement(onboarding, entitlements=self.entitlements)
        self._link_or_create_customer(onboarding, user)

    def _fix_missing_entitlement(self, finding: Finding, user: UserSnapshot) -> None:
        onboarding = self._input(user)
        if user.entitlement is None:
            init_entitlement(onboarding, entitlements=self.entitlements)
        else:
            self.entitlements.backfill_email(user.sub, onboarding.email, utc_now())

    def _fix_unlinked_customer(self, finding: Finding, user: UserSnapshot) -> None:
        (customer_id,) = finding.customer_ids
        outcome, _ = self.profiles.link_customer(user.sub, customer_id, utc_now())
        if outcome == "links_another":
            raise Refused("the profile links another customer meanwhile")
        if outcome == "no_profile":
            raise Refused("the profile is gone")
        self._complete_metadata(customer_id, user)

    def _fix_missing_customer(self, finding: Finding, user: UserSnapshot) -> None:
        for deleted in finding.customer_ids:  # the profile links a customer Stripe deleted: drop that link
            self.profiles.unlink_customer(user.sub, deleted, utc_now())
        self._link_or_create_customer(self._input(user), user)

    def _link_or_create_customer(self, onboarding: OnboardingInput, user: UserSnapshot) -> None:
        live = live_customers(user)
        if live:
            customer_id = keep_among(live, linked=None).id
        else:
            customer_id = self._create_customer(onboarding, user)
        outcome, _ = self.profiles.link_customer(user.sub, customer_id, utc_now())
        if outcome == "links_another":
            raise Refused("the profile links another customer meanwhile")
        if live:
            self._complete_metadata(customer_id, user)

    def _create_customer(self, onboarding: OnboardingInput, user: UserSnapshot) -> str:
        """Onboarding's customer creation, under a key of this run: onboarding's own key (from the
        sub) would replay, for 24 h, the customer it created, which is gone when this runs."""
        stripe = _KeyedStripe(self.stripe, f"linkflow-reconcile-customer-{user.sub}-{self.run_id}")
        created = create_stripe_customer(onboarding, cognito=self.cognito, profiles=self.profiles,
                                         stripe=cast(StripeGateway, stripe), platform=self.platform)
        return created.customer_id

    def _complete_metadata(self, customer_id: str, user: UserSnapshot) -> None:
        """A customer linked by a fix names the user fully (legacy ones name only cognito_user_id), so
        the next run finds no customer_metadata."""
        customer = next((c for c in user.customers if c.id == customer_id), None)
        if customer is None or customer.named_subs - {user.sub}:
            return
        wanted = {"cognito_user_id": user.sub, "cognito_sub": user.sub, "user_pool_id": self.user_pool_id}
        missing = {k: v for k, v in wanted.items() if not customer.metadata.get(k)}
        if missing:
            self.stripe.update_customer(customer_id, metadata=missing,
                                        idempotency_key=_key("metadata", customer_id, missing))

    def _fix_duplicate_customers(self, finding: Finding, user: UserSnapshot) -> None:
        live = live_customers(user)
        keep = keep_among(live, linked=user.profile.stripe_customer_id if user.profile else None)
        kept_with_billing = []
        for customer in live:
            if customer.id == keep.id:
                continue
            if customer.billing_history or self.stripe.has_invoices(customer.id):
                kept_with_billing.append(customer.id)
                continue
            self.stripe.delete_customer(customer.id)
        if kept_with_billing:
            raise Refused(f"duplicates with billing history are never deleted: {', '.join(kept_with_billing)}")

    def _fix_customer_metadata(self, finding: Finding, user: UserSnapshot) -> None:
        (customer_id,) = finding.customer_ids
        metadata = {"cognito_user_id": user.sub, "cognito_sub": user.sub, "user_pool_id": self.user_pool_id}
        customer = next(c for c in user.customers if c.id == customer_id)
        foreign = customer.named_subs - {user.sub}
        if foreign:
            raise Refused(f"the customer's metadata names another user ({', '.join(sorted(foreign))})")
        missing = {k: v for k, v in metadata.items() if k in REQUIRED_METADATA and not customer.metadata.get(k)}
        self.stripe.update_customer(customer_id, metadata=missing,
                                    idempotency_key=_key("metadata", customer_id, missing))

    def _fix_entitlement_drift(self, finding: Finding, user: UserSnapshot) -> None:
        (customer_id,) = finding.customer_ids
        email = user.entitlement.email if user.entitlement else None
        state = ResolvedCustomerInput(
            event_id=f"reconcile-{self.run_id}", event_type="reconcile.entitlement_drift", customer_id=customer_id,
            customer=CustomerLink(outcome="linked", customer_id=customer_id, sub=user.sub, email=email),
        )
        sync_entitlement(state, entitlements=self.entitlements, stripe=self.stripe)

    def _fix_email_drift(self, finding: Finding, user: UserSnapshot) -> None:
        assert user.cognito is not None and user.cognito.email and user.profile is not None
        email, now = normalize_email(user.cognito.email), utc_now()
        claim = self.claims.claim(email, user.sub, now)
        if claim.user_id != user.sub:
            raise Refused("the verified email is claimed by another account")
        for old in (c.email for c in user.claims if c.user_id == user.sub and c.email != email):
            self.claims.release(old, user.sub)
        if user.profile.email != email and not self.profiles.set_email(user.sub, user.profile.email, email, now):
            raise Refused("the profile changed meanwhile")
        if user.entitlement is not None and user.entitlement.email != email:
            self.entitlements.set_email(user.sub, email, now)
        linked = next((c for c in user.customers if c.id == user.profile.stripe_customer_id and not c.deleted), None)
        if linked is not None and (linked.email or "").strip().lower() != email:
            self.stripe.update_customer(linked.id, email=email, idempotency_key=_key("email", linked.id, email))

    def _fix_orphan_records(self, finding: Finding, user: UserSnapshot) -> None:
        if user.entitlement is not None and not self.entitlements.delete_unpaid(user.sub):
            raise Refused(f"the entitlement is {user.entitlement.status}: paid records are never deleted")
        billing = [c.id for c in user.customers if not c.deleted and c.billing_history]
        if user.profile is not None:
            if billing:
                raise Refused(f"the profile links customers with billing history: {', '.join(billing)}")
            self.profiles.delete(user.sub)


class _KeyedStripe:
    """A :class:`StripeGateway` whose customer creation carries ``key`` instead of the caller's."""

    def __init__(self, inner: StripeGateway, key: str) -> None:
        self._inner, self._key = inner, key

    def create_customer(self, **kwargs: Any) -> str:
        return self._inner.create_customer(**{**kwargs, "idempotency_key": self._key})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _key(what: str, customer_id: str, value: object) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
    return f"linkflow-reconcile-{what}-{customer_id}-{digest}"
