"""What the unit tests know about template.yaml: resources, parameters, function environments,
and the mocked account built from them (see ``conftest.py`` for the fixtures)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
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


def resolve(value: Any) -> Any:
    """Resolve the ``Ref`` (parameters, pseudo parameters) and ``Fn::Sub`` a function env uses."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
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


class FakeStripe:
    """Stands in for ``stripe.StripeClient`` (``client.v1.customers``): records every call, keeps
    customers in memory. The real SDK against the emulator is exercised by the workflow tests."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        self.calls: list[tuple[str, Any]] = []
        self.store: dict[str, Any] = {}
        self.v1 = SimpleNamespace(customers=self)

    def add(self, email: str, sub: str) -> str:
        from types import SimpleNamespace

        customer_id = f"cus_{len(self.store) + 1:04d}"
        self.store[customer_id] = SimpleNamespace(
            id=customer_id, email=email, metadata={"cognito_sub": sub}, deleted=False
        )
        return customer_id

    def create(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self.calls.append(("create", {"params": params, "options": options}))
        customer_id = self.add(params["email"], params["metadata"]["cognito_sub"])
        self.store[customer_id].metadata = dict(params["metadata"])
        return self.store[customer_id]

    def list(self, params: dict[str, Any]) -> Any:
        from types import SimpleNamespace

        self.calls.append(("list", params))
        return SimpleNamespace(data=[c for c in self.store.values() if c.email == params["email"] and not c.deleted])

    def retrieve(self, customer_id: str) -> Any:
        self.calls.append(("retrieve", customer_id))
        return self.store[customer_id]

    def delete(self, customer_id: str) -> Any:
        self.calls.append(("delete", customer_id))
        self.store[customer_id].deleted = True
        return self.store[customer_id]

    def live(self) -> list[str]:
        return [c.id for c in self.store.values() if not c.deleted]


class LinkingIdp:
    """A moto Cognito client plus ``AdminLinkProviderForUser`` (moto lacks it), recorded and
    reflected in the destination user's ``identities`` attribute as Cognito does."""

    def __init__(self, idp: Any) -> None:
        self._idp = idp
        self.links: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._idp, name)

    def admin_link_provider_for_user(self, **kwargs: Any) -> dict[str, Any]:
        import json

        self.links.append(kwargs)
        pool, username = kwargs["UserPoolId"], kwargs["DestinationUser"]["ProviderAttributeValue"]
        attrs = {
            a["Name"]: a["Value"]
            for a in self._idp.admin_get_user(UserPoolId=pool, Username=username)["UserAttributes"]
        }
        identities = json.loads(attrs.get("identities", "[]"))
        source = kwargs["SourceUser"]
        identities.append({"providerName": source["ProviderName"], "userId": source["ProviderAttributeValue"]})
        self._idp.admin_update_user_attributes(
            UserPoolId=pool, Username=username, UserAttributes=[{"Name": "identities", "Value": json.dumps(identities)}]
        )
        return {}
