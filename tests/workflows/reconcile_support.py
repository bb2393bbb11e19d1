"""What the reconcile workflow tests share: starting the reconcile machine with boto3, its report,
its Map Run, and users built or broken through boto3 and the stripe SDK only.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import stripe
from support import confirm, sign_up, unique_email, wait_for_execution, wait_until

from linkflow.local.client import execution_arn

KINDS = ("missing_onboarding", "missing_profile", "missing_entitlement", "unlinked_customer", "missing_customer",
         "duplicate_customers", "customer_metadata", "entitlement_drift", "email_drift", "orphan_records")
PASSWORD = "Corr3ct-Horse-Battery!"
RUN_TIMEOUT = 180.0


def counts(**given: int) -> dict[str, int]:
    """``{kind: count}`` for every finding kind (0 unless given)."""
    return {kind: given.get(kind, 0) for kind in KINDS}


@dataclass
class Reconcile:
    """Handles on the running stack for the reconcile tests."""

    stack: Any
    shards: int = 3
    stripe: stripe.StripeClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        info = self.stack.info
        outputs = info["outputs"]
        self.stripe = stripe.StripeClient(info["stripe"]["api_key"], base_addresses={"api": self.stack.stripe_url})
        self.sfn = self.stack.client("stepfunctions")
        self.ddb = self.stack.client("dynamodb")
        self.idp = self.stack.client("cognito-idp")
        self.s3 = self.stack.client("s3")
        self.pool = info["cognito"]["user_pool_id"]
        self.machine_arn = outputs["ReconcileStateMachineArn"]
        self.onboarding_arn = outputs["OnboardingStateMachineArn"]
        self.bucket = outputs["ReconcileBucketName"]
        self.tables = {"profiles": outputs["UserProfilesTableName"], "entitlements": outputs["EntitlementsTableName"],
                       "claims": outputs["EmailClaimsTableName"]}

    # --- runs -----------------------------------------------------------------------------------
    def start(self, *, dry_run: bool = False, fix: list[str] | None = None) -> str:
        payload = {"dryRun": dry_run, "fix": fix or [], "scope": "all", "shards": self.shards,
                   "stripeRequestsPerSecond": 50}
        return str(self.sfn.start_execution(stateMachineArn=self.machine_arn, name=f"test-{uuid.uuid4().hex[:12]}",
                                            input=json.dumps(payload))["executionArn"])

    def run_cli(self, *, fix: list[str]) -> dict[str, Any]:
        """``linkflow reconcile run --wait --output json`` as an operator runs it (a subprocess with
        the environment ``linkflow local up`` prints): its exit code is 0 and stdout is the report."""
        import os
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRIPE_", "LINKFLOW_"))}
        env.update(AWS_ENDPOINT_URL=self.stack.aws_url, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", LINKFLOW_STACK="linkflow-local",
                   STRIPE_API_BASE=self.stack.stripe_url)
        args = ["reconcile", "run", "--wait", "--output", "json", "--shards", str(self.shards), "--rate", "50",
                "--fix", ",".join(fix)]
        done = subprocess.run([sys.executable, "-m", "linkflow.cli", *args], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT + 30)
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        self.settle()
        return report

    def finished(self, arn: str) -> dict[str, Any]:
        return wait_for_execution(self.sfn, arn, timeout=RUN_TIMEOUT)

    def run(self, *, dry_run: bool = False, fix: list[str] | None = None) -> dict[str, Any]:
        """Start a run, wait for it, and answer its report (the execution's output)."""
        desc = self.finished(self.start(dry_run=dry_run, fix=fix))
        assert desc["status"] == "SUCCEEDED", desc
        report: dict[str, Any] = json.loads(desc["output"])
        self.settle()
        return report

    def settle(self, timeout: float = 60.0) -> None:
        """Until no onboarding execution runs (the missing_onboarding fix starts or redrives them)."""
        def quiet() -> bool:
            running = self.sfn.list_executions(stateMachineArn=self.onboarding_arn, statusFilter="RUNNING")
            return not running["executions"]

        wait_until(quiet, timeout=timeout, what="onboarding executions to finish")

    def map_run(self, arn: str) -> dict[str, Any]:
        (run,) = self.sfn.list_map_runs(executionArn=arn)["mapRuns"]
        described: dict[str, Any] = self.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
        return described

    # --- users ----------------------------------------------------------------------------------
    def onboarded_users(self, n: int, prefix: str = "rec") -> list[str]:
        """``n`` users signed up and confirmed, their onboarding finished: the subs."""
        subs = []
        for _ in range(n):
            sub = sign_up(self.stack, unique_email(prefix))
            confirm(self.stack, sub)
            subs.append(sub)
        for sub in subs:
            arn = execution_arn(self.onboarding_arn, sub)
            wait_until(lambda arn=arn: self._exists(arn), what="the onboarding execution")
            assert wait_for_execution(self.sfn, arn, timeout=60)["status"] == "SUCCEEDED"
        return subs

    def confirmed_without_onboarding(self, prefix: str = "rec") -> tuple[str, str]:
        """A confirmed user no trigger onboarded (AdminCreateUser, then a permanent password): ``(sub, email)``."""
        email = unique_email(prefix)
        user = self.idp.admin_create_user(
            UserPoolId=self.pool, Username=email, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
                            {"Name": "given_name", "Value": "Grace"}, {"Name": "family_name", "Value": "Hopper"}])
        self.idp.admin_set_user_password(UserPoolId=self.pool, Username=email, Password=PASSWORD, Permanent=True)
        attrs = {a["Name"]: a["Value"] for a in user["User"]["Attributes"]}
        return attrs["sub"], email

    def _exists(self, arn: str) -> bool:
        try:
            self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True

    def onboarding(self, sub: str) -> dict[str, Any]:
        return wait_for_execution(self.sfn, execution_arn(self.onboarding_arn, sub), timeout=60)

    # --- stores ---------------------------------------------------------------------------------
    def item(self, table: str, key: str, value: str) -> dict[str, Any] | None:
        import boto3.dynamodb.types as types

        found = self.ddb.get_item(TableName=self.tables[table], Key={key: {"S": value}}, ConsistentRead=True)
        if "Item" not in found:
            return None
        deserializer = types.TypeDeserializer()
        return {k: deserializer.deserialize(v) for k, v in found["Item"].items()}

    def profile(self, sub: str) -> dict[str, Any] | None:
        return self.item("profiles", "userId", sub)

    def entitlement(self, sub: str) -> dict[str, Any] | None:
        return self.item("entitlements", "cognito_sub", sub)

    def claim(self, email: str) -> dict[str, Any] | None:
        return self.item("claims", "email", email)

    def update(self, table: str, key: dict[str, str], expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None) -> None:
        args: dict[str, Any] = {"TableName": self.tables[table], "Key": {k: {"S": v} for k, v in key.items()},
                                "UpdateExpression": expression}
        if values:
            args["ExpressionAttributeValues"] = values
        if names:
            args["ExpressionAttributeNames"] = names
        self.ddb.update_item(**args)

    def delete(self, table: str, key: dict[str, str]) -> None:
        self.ddb.delete_item(TableName=self.tables[table], Key={k: {"S": v} for k, v in key.items()})

    def put(self, table: str, item: dict[str, str]) -> None:
        self.ddb.put_item(TableName=self.tables[table], Item={k: {"S": v} for k, v in item.items()})

    # --- Stripe (SDK) ----------------------------------------------------------------------------
    def customer(self, customer_id: str) -> Any:
        return self.stripe.v1.customers.retrieve(customer_id)

    def customers_of(self, sub: str) -> list[Any]:
        """Live customers whose metadata names ``sub`` (listed, as the snapshot reads them)."""
        return [c for c in self.stripe.v1.customers.list(params={"limit": 100}).auto_paging_iter()
                if sub in {(c.metadata or {}).get("cognito_sub"), (c.metadata or {}).get("cognito_user_id")}]

    def subscribed_customer(self, sub: str) -> str:
        """A customer naming ``sub`` with a card and an active subscription (billing history)."""
        customer = self.stripe.v1.customers.create(params={"email": unique_email("dup"),
                                                           "metadata": {"cognito_sub": sub}})
        card = self.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
        self.stripe.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
        product = self.stripe.v1.products.create(params={"name": "linkflow pro", "metadata": {"plan": "pro"}})
        price = self.stripe.v1.prices.create(params={"product": product.id, "unit_amount": 1500, "currency": "usd",
                                                     "recurring": {"interval": "month"}})
        self.stripe.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
        return str(customer.id)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
