"""What the subscription-events workflow tests share: Stripe through the SDK, users, quiescence,
signed re-deliveries, and reads of the three stores.

Stripe is driven only through the official ``stripe`` SDK against the emulator; the emulator's
admin API is used for faults, webhook delivery settings and waiting for delivery to be idle.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import stripe
from support import confirm, entered_states, execution_arn_for, sign_up, unique_email, wait_for_execution, wait_until

from linkflow.local.client import WebhookDelivery, execution_arn
from linkflow.stripe_emulator import signature_header

__all__ = ["DAY", "T0", "Events", "entered_states"]

DAY = 86400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, where every test clock starts
SETTLE_TIMEOUT = 60.0


def _plain(value: Any) -> Any:
    """DynamoDB resource values (Decimal) as plain JSON values."""
    return json.loads(json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d)))


@dataclass
class Events:
    """Handles on the running stack for the subscription-events tests."""

    stack: Any
    stripe: stripe.StripeClient = field(init=False, repr=False)
    _prices: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.stripe = stripe.StripeClient(self.stack.info["stripe"]["api_key"],
                                          base_addresses={"api": self.stack.stripe_url})
        outputs = self.stack.info["outputs"]
        self.machine_arn = outputs["SubscriptionEventsStateMachineArn"]
        self.sfn = self.stack.client("stepfunctions")
        ddb = self.stack.client("dynamodb")
        self._ddb = ddb
        self.tables = {"profiles": outputs["UserProfilesTableName"], "entitlements": outputs["EntitlementsTableName"],
                       "unlinked": outputs["UnlinkedCustomersTableName"]}

    # --- Stripe (SDK) ----------------------------------------------------------------------------
    def price(self, plan: str, *, interval: str = "month", amount: int = 1500, lookup_key: str | None = None) -> Any:
        """A recurring price whose product says ``metadata.plan = plan`` (one per plan and interval)."""
        key = (plan, interval)
        if lookup_key is None and key in self._prices:
            return self._prices[key]
        product = self.stripe.v1.products.create(params={"name": f"linkflow {plan}", "metadata": {"plan": plan}}
                                                 if lookup_key is None else {"name": f"linkflow {plan}"})
        params: dict[str, Any] = {"product": product.id, "unit_amount": amount, "currency": "usd",
                                  "recurring": {"interval": interval}}
        if lookup_key:
            params["lookup_key"] = lookup_key
        price = self.stripe.v1.prices.create(params=params)
        if lookup_key is None:
            self._prices[key] = price
        return price

    def clock(self) -> Any:
        return self.stripe.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})

    def advance(self, clock_id: str, to: int) -> None:
        self.stripe.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})
        wait_until(lambda: self.stripe.v1.test_helpers.test_clocks.retrieve(clock_id).status == "ready",
                   timeout=10, what="the test clock to be ready")

    def use_card(self, customer: str, token: str = "pm_card_visa") -> str:
        """Attach a test card to ``customer`` and make it the default, as Stripe requires (a token
        is never a default until attached); answers the attached payment method's id."""
        card = self.stripe.v1.payment_methods.attach(token, params={"customer": customer})
        self.stripe.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": card.id}})
        return str(card.id)

    def subscription(self, sub_id: str) -> Any:
        return self.stripe.v1.subscriptions.retrieve(sub_id)

    # --- users ----------------------------------------------------------------------------------
    def signed_up_user(self) -> tuple[str, str]:
        """``(sub, customer id)`` of a user who signed up and went through onboarding."""
        sub = sign_up(self.stack, unique_email("events"))
        confirm(self.stack, sub)
        arn = execution_arn_for(self.stack, sub)
        wait_until(lambda: self._exists(arn), what="the onboarding execution")
        assert wait_for_execution(self.sfn, arn)["status"] == "SUCCEEDED"
        customer = self.profile(sub)["stripeCustomerId"]
        return sub, customer

    def seeded_user(self, *, clock: Any = None, payment_method: str | None = "pm_card_visa",
                    link: bool = True, metadata_keys: tuple[str, ...] = ("cognito_user_id", "cognito_sub"),
                    profile: bool = True) -> tuple[str, str]:
        """``(sub, customer id)`` shaped exactly as onboarding leaves a user (profile, entitlement
        ``none``, customer with the sub in its metadata, link on the profile), with what onboarding
        cannot give: a test clock, a chosen card, or a missing link / profile."""
        sub, email = str(uuid.uuid4()), unique_email("seeded")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        params: dict[str, Any] = {"email": email, "metadata": {k: sub for k in metadata_keys}}
        if clock is not None:
            params["test_clock"] = clock.id
        if payment_method:
            params["payment_method"] = payment_method
            params["invoice_settings"] = {"default_payment_method": payment_method}
        customer = self.stripe.v1.customers.create(params=params)
        if profile:
            item = {"userId": {"S": sub}, "email": {"S": email}, "providers": {"L": [{"S": "Cognito"}]},
                    "createdAt": {"S": now}, "updatedAt": {"S": now}}
            if link:
                item["stripeCustomerId"] = {"S": customer.id}
            self._ddb.put_item(TableName=self.tables["profiles"], Item=item)
            self._ddb.put_item(TableName=self.tables["entitlements"], Item={
                "cognito_sub": {"S": sub}, "email": {"S": email}, "status": {"S": "none"}, "updatedAt": {"S": now}})
        return sub, customer.id

    # --- stores ---------------------------------------------------------------------------------
    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        import boto3.dynamodb.types as types

        item = self._ddb.get_item(TableName=self.tables[table], Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        deserializer = types.TypeDeserializer()
        return _plain({k: deserializer.deserialize(v) for k, v in item.items()})

    def entitlement(self, sub: str) -> dict[str, Any]:
        item = self._item("entitlements", {"cognito_sub": {"S": sub}})
        assert item is not None, f"no entitlement for {sub}"
        return item

    def profile(self, sub: str) -> dict[str, Any]:
        item = self._item("profiles", {"userId": {"S": sub}})
        assert item is not None, f"no profile for {sub}"
        return item

    def unlinked(self, customer_id: str) -> dict[str, Any] | None:
        return self._item("unlinked", {"stripeCustomerId": {"S": customer_id}})

    # --- executions -----------------------------------------------------------------------------
    def _exists(self, arn: str) -> bool:
        try:
            self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True

    def execution_arn(self, event_id: str) -> str:
        return execution_arn(self.machine_arn, event_id)

    def executions_named(self, event_id: str) -> list[dict[str, Any]]:
        return self.executions_by_name().get(event_id, [])

    def executions_by_name(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.machine_arn):
            for execution in page["executions"]:
                found.setdefault(execution["name"], []).append(execution)
        return found

    def running(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.machine_arn, statusFilter="RUNNING")["executions"]

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Until webhook delivery is idle and no events execution runs, twice in a row (a finishing
        execution cannot start another, but a delivery retry can start one)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not quiescent after {timeout}s: running={len(self.running())}"
            idle = self.stack.admin.wait_for_webhooks(min(remaining, 20))["idle"]
            if idle and not self.running():
                quiet += 1
            else:
                quiet = 0
                time.sleep(0.1)  # polling hard would slow the stack it waits for

    def output(self, event_id: str) -> dict[str, Any]:
        desc = wait_for_execution(self.sfn, self.execution_arn(event_id))
        assert desc["status"] == "SUCCEEDED", desc
        return json.loads(desc["output"])

    # --- events and the ingress -----------------------------------------------------------------
    def delivered_events(self, since: int = 0) -> list[WebhookDelivery]:
        """Deliveries the emulator attempted (oldest first), from position ``since`` of its log."""
        return self.stack.admin.webhook_deliveries()[since:]

    def delivery_mark(self) -> int:
        return len(self.stack.admin.webhook_deliveries())

    def event_ids(self, customer_id: str, since: int, types: set[str] | None = None) -> list[str]:
        """Distinct events delivered since ``since`` whose object belongs to ``customer_id``."""
        ids: list[str] = []
        for delivery in self.delivered_events(since):
            if delivery["event_id"] in ids or (types and delivery["event_type"] not in types):
                continue
            if self.customer_of(self.raw_event(delivery["event_id"])) == customer_id:
                ids.append(delivery["event_id"])
        return ids

    def raw_event(self, event_id: str) -> bytes:
        return self.stripe.v1.events.retrieve(event_id).last_response.body.encode("utf-8")

    @staticmethod
    def customer_of(raw: bytes) -> str | None:
        obj = json.loads(raw)["data"]["object"]
        return obj["id"] if obj.get("object") == "customer" else obj.get("customer")

    def post(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None,
             signature: str | None = "sign", method: str = "POST") -> tuple[int, dict[str, Any]]:
        """POST ``body`` to the ingress as Stripe would (signed with the stack's webhook secret)."""
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            secret = secret or self.stack.info["stripe"]["webhook_secret"]
            headers["Stripe-Signature"] = signature_header(body, secret, timestamp or int(time.time()))
        elif signature is not None:
            headers["Stripe-Signature"] = signature
        url = f"{self.stack.api_url}/stripe/webhook"
        request = urllib.request.Request(url, data=body if method == "POST" else None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"{}")
            except ValueError:
                return exc.code, {"raw": raw.decode("utf-8", "replace")}
