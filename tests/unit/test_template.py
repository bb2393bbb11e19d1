"""template.yaml: lints, transforms offline with SAM's translator, and keeps the conventions the
local stack and the operator CLI rely on."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from unit_support import PARAMETERS, ROOT, TEMPLATE, function_env, resolve, resources

FUNCTIONS = resources("AWS::Serverless::Function")
OUTPUTS = {
    "UserPoolId",
    "UserPoolClientId",
    "OnboardingStateMachineArn",
    "UserProfilesTableName",
    "EntitlementsTableName",
    "EmailClaimsTableName",
    "StripeSecretName",
    "Stage",
    "SubscriptionEventsStateMachineArn",
    "StripeWebhookUrl",
    "UnlinkedCustomersTableName",
    "OnboardingStartQueueUrl",
    "OnboardingStartDeadLetterQueueUrl",
}


def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "template.yaml"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def translated(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    """The template as CloudFormation sees it after the SAM transform (as ``sam package`` would
    hand it over: local paths replaced by S3 URIs)."""
    from samtranslator.translator.transform import transform

    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = json.loads(json.dumps(copy.deepcopy(TEMPLATE)))
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://linkflow-artifacts/{logical_id}/{key}.zip"

    class NoManagedPolicies:
        def load(self, *args: Any, **kwargs: Any) -> dict[str, str]:
            return {}

    return transform(template, {}, NoManagedPolicies())


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_sam_transform_produces_the_expected_resources(translated):
    assert set(of_type(translated, "AWS::StepFunctions::StateMachine")) == {
        "OnboardingStateMachine",
        "SubscriptionEventsStateMachine",
    }
    assert set(of_type(translated, "AWS::Lambda::Function")) == set(FUNCTIONS)
    assert set(of_type(translated, "AWS::DynamoDB::Table")) == {
        "UserProfilesTable",
        "EntitlementsTable",
        "EmailClaimsTable",
        "UnlinkedCustomersTable",
    }
    assert len(of_type(translated, "AWS::Lambda::LayerVersion")) == 1
    assert set(of_type(translated, "AWS::Cognito::UserPool")) == {"UserPool"}
    assert set(translated["Outputs"]) == OUTPUTS


def test_transformed_functions_get_the_globals_and_the_layer(translated):
    (layer_id,) = of_type(translated, "AWS::Lambda::LayerVersion")
    for logical_id, fn in of_type(translated, "AWS::Lambda::Function").items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Handler"] == "app.handler"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": layer_id}], logical_id
        env = props["Environment"]["Variables"]
        for key in ("POWERTOOLS_SERVICE_NAME", "USER_PROFILES_TABLE", "STRIPE_SECRET_NAME", "STAGE"):
            assert key in env, f"{logical_id} lacks {key}"


def test_the_state_machine_may_invoke_every_function_its_definition_names(translated):
    machine = translated["Resources"]["OnboardingStateMachine"]["Properties"]
    substituted = machine["DefinitionSubstitutions"]
    role = translated["Resources"]["OnboardingStateMachineRole"]["Properties"]
    invokable = json.dumps(role["Policies"])
    for key, value in substituted.items():
        if key.endswith("FunctionArn"):
            function = value["Fn::GetAtt"][0]
            assert function in invokable, f"the state machine role cannot invoke {function}"


def test_trigger_start_execution_arn_names_the_state_machine():
    machine_name = resolve(TEMPLATE["Resources"]["OnboardingStateMachine"]["Properties"]["Name"])
    arn = function_env("PostConfirmationFunction")["ONBOARDING_STATE_MACHINE_ARN"]
    assert arn.endswith(f":stateMachine:{machine_name}")
    statements = FUNCTIONS["PostConfirmationFunction"]["Properties"]["Policies"][0]["Statement"]
    assert [resolve(s["Resource"]) for s in statements if s["Action"] == "states:StartExecution"] == [arn]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_code_is_a_thin_app_py(logical_id):
    props = FUNCTIONS[logical_id]["Properties"]
    code = ROOT / props["CodeUri"]
    assert props["Handler"] == "app.handler"
    assert sorted(p.name for p in code.iterdir() if p.name != "__pycache__") == ["app.py"]
    source = (code / "app.py").read_text()
    assert "\n@step(" in source and "\ndef handler(" in source, "every handler goes through the one step adapter"
    assert len([line for line in source.splitlines() if line.strip()]) <= 20, (
        "a handler is a doorway: the adapter parses, the body calls one step"
    )
    assert "os.environ" not in source and "Logger(" not in source, "settings and logging are the adapter's"
    assert props["Layers"] == [{"Ref": "SharedLayer"}]
    assert re.fullmatch(r"functions/[a-z_]+/", props["CodeUri"])


def test_parameters_and_defaults():
    assert PARAMETERS == {
        "Stage": "dev",
        "UserProfilesTableName": "UserProfiles",
        "EntitlementsTableName": "Entitlements",
        "EmailClaimsTableName": "EmailClaims",
        "StripeSecretName": "linkflow/stripe",
        "StripeWebhookSecretName": "linkflow/stripe-webhook",
        "TrustedLinkingProviders": "Google,SignInWithApple",
        "StripeLivemode": "false",
        "UnlinkedCustomersTableName": "UnlinkedStripeCustomers",
    }


def test_the_template_uses_no_conditions():
    assert "Conditions" not in TEMPLATE
    assert "Fn::If" not in json.dumps(TEMPLATE)


def test_tables_follow_the_data_contract():
    tables = {lid: res["Properties"] for lid, res in resources("AWS::DynamoDB::Table").items()}
    keys = {lid: props["KeySchema"][0]["AttributeName"] for lid, props in tables.items()}
    assert keys == {
        "UserProfilesTable": "userId",
        "EntitlementsTable": "cognito_sub",
        "EmailClaimsTable": "email",
        "UnlinkedCustomersTable": "stripeCustomerId",
    }
    gsis = {g["IndexName"]: g for g in tables["UserProfilesTable"]["GlobalSecondaryIndexes"]}
    assert gsis["EmailIndex"]["KeySchema"][0]["AttributeName"] == "email"
    assert gsis["StripeCustomerIndex"]["KeySchema"][0]["AttributeName"] == "stripeCustomerId"
    assert all(g["Projection"] == {"ProjectionType": "ALL"} for g in gsis.values())
    assert all(props["BillingMode"] == "PAY_PER_REQUEST" for props in tables.values())
    assert {lid: props["TableName"] for lid, props in tables.items()} == {
        "UserProfilesTable": {"Ref": "UserProfilesTableName"},
        "EntitlementsTable": {"Ref": "EntitlementsTableName"},
        "EmailClaimsTable": {"Ref": "EmailClaimsTableName"},
        "UnlinkedCustomersTable": {"Ref": "UnlinkedCustomersTableName"},
    }


def test_cognito_triggers_are_wired_without_sam_events():
    pool = TEMPLATE["Resources"]["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["LambdaConfig"] == {
        "PreSignUp": {"Fn::GetAtt": ["PreSignUpFunction", "Arn"]},
        "PostConfirmation": {"Fn::GetAtt": ["PostConfirmationFunction", "Arn"]},
    }
    permitted = {
        res["Properties"]["FunctionName"]["Fn::GetAtt"][0]
        for res in resources("AWS::Lambda::Permission").values()
        if res["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    }
    assert permitted == {"PreSignUpFunction", "PostConfirmationFunction"}
    # The only SAM events are the Stripe webhook's HTTP API route (tests/unit/test_webhook_ingress.py)
    # and the queue of onboarding starts PostConfirmation could not make.
    assert sorted(lid for lid, fn in FUNCTIONS.items() if "Events" in fn["Properties"]) == [
        "StartOnboardingFunction", "StripeWebhookFunction"]
    client = TEMPLATE["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]


def test_no_function_is_given_a_secret_value():
    for logical_id in FUNCTIONS:
        for key, value in function_env(logical_id).items():
            assert not value.startswith(("sk_", "rk_", "whsec_")), f"{logical_id}.{key} holds a secret"
