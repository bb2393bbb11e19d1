"""What the unit tests know about template.yaml: resources, parameters, function environments,
and the mocked account built from them (see ``conftest.py`` for the fixtures)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "functions" / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from cfn_tools import load_yaml  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": "linkflow"}


def load_template() -> dict[str, Any]:
    return load_yaml((ROOT / "template.yaml").read_text())


TEMPLATE = load_template()
PARAMETERS = {name: str(spec.get("Default", "")) for name, spec in TEMPLATE.get("Parameters", {}).items()}


def _conditions() -> dict[str, bool]:
    from linkflow.local.template import evaluate_conditions

    return evaluate_conditions(TEMPLATE.get("Conditions") or {}, PARAMETERS, PSEUDO)


CONDITIONS = _conditions()  # under the default parameters


def resolve(value: Any) -> Any:
    """Resolve the ``Ref`` (parameters, pseudo parameters) and ``Fn::Sub`` a function env uses."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::If":
            name, if_true, if_false = arg
            return resolve(if_true if CONDITIONS[name] else if_false)
        if key == "Ref":
            if TEMPLATE["Resources"].get(arg, {}).get("Type") == "AWS::DynamoDB::Table":  # a table's Ref: its name
                return resolve(TEMPLATE["Resources"][arg]["Properties"]["TableName"])
            queue = TEMPLATE["Resources"].get(arg, {})
            if queue.get("Type") == "AWS::SQS::Queue":  # a queue's Ref is its URL
                return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{resolve(queue['Properties']['QueueName'])}"
            if arg in TEMPLATE["Resources"]:  # another resource's id (a pool, a bucket): a stand-in
                return f"{arg}-unit"
            return PARAMETERS.get(arg) or PSEUDO[arg]
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: PARAMETERS.get(m.group(1)) or PSEUDO[m.group(1)], text)
        raise ValueError(f"unit fixtures cannot resolve {key}")
    return value


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in TEMPLATE["Resources"].items() if v["Type"] == kind}


def table_names() -> dict[str, str]:
    """Logical id → table name, e.g. ``{"UserProfilesTable": "UserProfiles", ...}``."""
    return {lid: resolve(res["Properties"]["TableName"]) for lid, res in resources("AWS::DynamoDB::Table").items()}


def function_env(logical_id: str) -> dict[str, str]:
    env = dict(TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    props = TEMPLATE["Resources"][logical_id]["Properties"]
    env.update(props.get("Environment", {}).get("Variables", {}))
    return {k: str(resolve(v)) for k, v in env.items()}


def create_tables(ddb: Any) -> None:
    for res in resources("AWS::DynamoDB::Table").values():
        props = res["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": resolve(props["TableName"]),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props["BillingMode"],
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ddb.create_table(**kwargs)


def create_user_pool(idp: Any, *, federated_usernames: bool = False) -> str:
    props = TEMPLATE["Resources"]["UserPool"]["Properties"]
    kwargs: dict[str, Any] = {
        "PoolName": resolve(props["UserPoolName"]),
        "AutoVerifiedAttributes": props["AutoVerifiedAttributes"],
        "UsernameConfiguration": props["UsernameConfiguration"],
    }
    if not federated_usernames:  # moto refuses "Google_123" usernames in an email-username pool
        kwargs["UsernameAttributes"] = props["UsernameAttributes"]
    return idp.create_user_pool(**kwargs)["UserPool"]["Id"]


@dataclass
class Aws:
    """Handles on the mocked account: boto3 clients, table resources, the user pool id."""

    ddb: Any
    idp: Any
    sfn: Any
    pool_id: str
    tables: dict[str, Any]

    def table(self, logical_id: str) -> Any:
        return self.tables[logical_id]

    # The stores and the Cognito gateway over this account, as a step receives them.
    @property
    def profiles(self) -> Any:
        from linkflow_shared.stores import ProfilesStore, Table

        return ProfilesStore(Table(self.tables["UserProfilesTable"]))

    @property
    def entitlements(self) -> Any:
        from linkflow_shared.stores import EntitlementsStore, Table

        return EntitlementsStore(Table(self.tables["EntitlementsTable"]))

    @property
    def claims(self) -> Any:
        from linkflow_shared.stores import EmailClaimsStore, Table

        return EmailClaimsStore(Table(self.tables["EmailClaimsTable"]))

    @property
    def unlinked(self) -> Any:
        from linkflow_shared.stores import Table, UnlinkedCustomersStore

        return UnlinkedCustomersStore(Table(self.tables["UnlinkedCustomersTable"]))

    @property
    def cognito(self) -> Any:
        from linkflow_shared.gateways import BotoCognito

        return BotoCognito(self.idp)

    def items(self, logical_id: str) -> list[dict[str, Any]]:
        return self.tables[logical_id].scan(ConsistentRead=True)["Items"]

    def create_native_user(self, email: str, **attributes: str) -> tuple[str, str]:
        """``(username, sub)`` of a confirmed-looking native user."""
        attrs = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        attrs += [{"Name": k, "Value": v} for k, v in attributes.items()]
        user = self.idp.admin_create_user(
            UserPoolId=self.pool_id, Username=email, UserAttributes=attrs, MessageAction="SUPPRESS"
        )["User"]
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        return user["Username"], sub

    def create_federated_user(self, username: str, email: str, verified: bool = True) -> str:
        """The sub of a user named like a federated one (needs ``federated_usernames``)."""
        attrs = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": str(verified).lower()}]
        user = self.idp.admin_create_user(
            UserPoolId=self.pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
        )["User"]
        return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


class LambdaContext:
    function_name = "linkflow-unit"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:linkflow-unit"
    memory_limit_in_mb = 256
    aws_request_id = "unit-test-request"
    log_group_name = "/aws/lambda/linkflow-unit"
    log_stream_name = "unit"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


class InMemoryStripe:
    """The one Stripe fake of the unit tests: implements the ``StripeGateway`` port over dicts and
    records every call as ``(operation, arguments)``. The real SDK against the emulator is
    exercised by the workflow and contract tests."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, list[dict[str, Any]]] = {}
        self.invoices: dict[str, list[str]] = {}
        self.features: dict[str, list[str]] = {}
        self.prices: dict[str, str] = {}
        self.sessions: dict[str, str] = {}  # idempotency key -> session URL (Stripe's replay)
        self.during_list: list[Callable[[], Any]] = []  # run inside a subscription list (interleavings)

    def add(self, email: str | None, sub: str | None = None, **fields: Any) -> str:
        """A customer created outside the code under test (``metadata.cognito_sub`` = ``sub``)."""
        customer_id = fields.pop("id", None) or f"cus_{len(self.customers) + 1:04d}"
        metadata = fields.pop("metadata", {"cognito_sub": sub} if sub else {})
        self.customers[customer_id] = {"id": customer_id, "object": "customer", "email": email,
                                       "metadata": metadata, **fields}
        return customer_id

    def live(self) -> list[str]:
        return [c["id"] for c in self.customers.values() if not c.get("deleted")]

    def _customer(self, customer_id: str) -> dict[str, Any]:
        from linkflow_shared import StripeNotFound

        if customer_id not in self.customers:
            raise StripeNotFound(f"No such customer: {customer_id}")
        return self.customers[customer_id]

    # -- StripeGateway ---------------------------------------------------------------------------
    def create_customer(self, *, email: str, name: str | None, metadata: dict[str, str], idempotency_key: str) -> str:
        self.calls.append(("create", {"email": email, "name": name, "metadata": metadata,
                                      "idempotency_key": idempotency_key}))
        return self.add(email, metadata=dict(metadata), name=name)

    def customers_with_email(self, email: str) -> list[dict[str, Any]]:
        self.calls.append(("list", email))
        return [dict(c) for c in self.customers.values() if c.get("email") == email and not c.get("deleted")]

    def retrieve_customer(self, customer_id: str) -> dict[str, Any]:
        self.calls.append(("retrieve", customer_id))
        customer = self._customer(customer_id)
        return {"id": customer_id, "object": "customer", "deleted": True} if customer.get("deleted") else dict(customer)

    def delete_customer(self, customer_id: str) -> None:
        self.calls.append(("delete", customer_id))
        self._customer(customer_id)["deleted"] = True

    def price_id(self, lookup_key: str) -> str | None:
        self.calls.append(("price_id", lookup_key))
        return self.prices.get(lookup_key)

    def create_checkout_session(self, *, customer: str, price_id: str, sub: str, success_url: str,
                                cancel_url: str, idempotency_key: str) -> str:
        self.calls.append(("checkout", {"customer": customer, "price_id": price_id, "sub": sub,
                                        "success_url": success_url, "cancel_url": cancel_url,
                                        "idempotency_key": idempotency_key}))
        session = self.sessions.setdefault(idempotency_key, f"https://checkout.test/c/pay/cs_{len(self.sessions) + 1}")
        return session

    def create_portal_session(self, customer: str, return_url: str) -> str:
        self.calls.append(("portal", {"customer": customer, "return_url": return_url}))
        return f"https://billing.test/p/session/{customer}"

    def active_entitlements(self, customer_id: str) -> list[str]:
        self.calls.append(("active_entitlements", customer_id))
        return sorted(self.features.get(customer_id, []))

    def has_invoices(self, customer_id: str) -> bool:
        self.calls.append(("has_invoices", customer_id))
        return bool(self.invoices.get(customer_id))

    def update_customer(self, customer_id: str, *, email: str | None = None,
                        metadata: dict[str, str] | None = None, idempotency_key: str) -> None:
        self.calls.append(("update", {"id": customer_id, "email": email, "metadata": metadata,
                                      "idempotency_key": idempotency_key}))
        customer = self._customer(customer_id)
        if email is not None:
            customer["email"] = email
        customer["metadata"] = {**customer.get("metadata", {}), **(metadata or {})}

    def list_all(self, resource: str, params: dict[str, Any]) -> Any:
        self.calls.append(("list_all", resource))
        if resource == "customers":
            return iter([dict(c) for c in self.customers.values() if not c.get("deleted")])
        if resource == "subscriptions":
            return iter([{**s, "customer": cid} for cid, subs in self.subscriptions.items() for s in subs])
        return iter([])

    def list_subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        self.calls.append(("list_subscriptions", customer_id))
        answer = [dict(s) for s in self.subscriptions.get(customer_id, [])]
        if self.during_list:
            self.during_list.pop(0)()
        return answer


def linking_cognito(idp: Any) -> Any:
    """The real Cognito gateway on moto plus ``AdminLinkProviderForUser`` (moto lacks it), recorded
    in ``.links`` and reflected in the destination user's ``identities`` attribute as Cognito does."""
    import json

    from linkflow_shared.gateways import BotoCognito

    class LinkingCognito(BotoCognito):
        def __init__(self) -> None:
            super().__init__(idp)
            self.links: list[tuple[str, str, str, str]] = []

        def link_identity(self, user_pool_id: str, destination_username: str, provider_name: str,
                          provider_user_id: str) -> None:
            self.links.append((user_pool_id, destination_username, provider_name, provider_user_id))
            user = idp.admin_get_user(UserPoolId=user_pool_id, Username=destination_username)
            attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
            identities = json.loads(attrs.get("identities", "[]"))
            identities.append({"providerName": provider_name, "userId": provider_user_id})
            idp.admin_update_user_attributes(UserPoolId=user_pool_id, Username=destination_username,
                                             UserAttributes=[{"Name": "identities", "Value": json.dumps(identities)}])

    return LinkingCognito()


def listed_user(n: int) -> dict[str, Any]:
    """User ``n`` as Cognito's ListUsers answers it (sub ``sub-n``, verified ``un@example.com``)."""
    return {"Username": f"u{n}", "UserStatus": "CONFIRMED", "Enabled": True,
            "UserCreateDate": datetime(2026, 1, 1, tzinfo=UTC),
            "Attributes": [{"Name": "sub", "Value": f"sub-{n}"}, {"Name": "email", "Value": f"u{n}@example.com"},
                           {"Name": "email_verified", "Value": "true"}]}
