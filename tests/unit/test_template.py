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
    "ReconcileStateMachineArn",
    "ReconcileBucketName",
    "AppApiUrl",
    "OnboardingStartDeadLetterQueueUrl",
    "AlarmTopicArn",
    "HostedUiUrl",  # Condition HasFederation: only with Google or Apple
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
        "ReconcileStateMachine",
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
        "UserProfilesTableName": "",
        "EntitlementsTableName": "",
        "EmailClaimsTableName": "",
        "AppOrigin": "http://localhost:3000/app",
        "AppCorsOrigin": "http://localhost:3000",
        "AllowedPriceLookupKeys": "pro_monthly,team_monthly",
        "ReconcileShards": "16",
        "ReconcileStripeRequestsPerSecond": "20",
        "StripeSecretName": "linkflow/stripe",
        "StripeWebhookSecretName": "linkflow/stripe-webhook",
        "TrustedLinkingProviders": "Google,SignInWithApple",
        "StripeLivemode": "false",
        "UnlinkedCustomersTableName": "",
        "GoogleClientId": "",
        "GoogleClientSecretName": "linkflow/google",
        "AppleServicesId": "",
        "AppleTeamId": "",
        "AppleKeyId": "",
        "ApplePrivateKeySecretName": "linkflow/apple",
        "LogRetentionInDays": "30",
        "WebhookReservedConcurrency": "20",
        "WebhookThrottleRateLimit": "50",
        "WebhookThrottleBurstLimit": "100",
    }


def _deployed(**parameters: str) -> dict[str, Any]:
    """The template as CloudFormation deploys it with these parameters (Conditions evaluated by the
    local stack's loader, which the local stack provisions from)."""
    from linkflow.local.template import load_template

    return load_template(ROOT / "template.yaml", parameters).body


def test_tables_get_per_stage_names_unless_a_name_is_given():
    def names(**parameters: str) -> dict[str, str]:
        def name(value: dict[str, str]) -> str:
            if "Ref" in value:
                return parameters[value["Ref"]]
            return value["Fn::Sub"].replace("${Stage}", PARAMETERS["Stage"])

        body = _deployed(**parameters)
        return {lid: name(res["Properties"]["TableName"]) for lid, res in body["Resources"].items()
                if res["Type"] == "AWS::DynamoDB::Table"}

    assert names() == {  # the default Stage, dev
        "UserProfilesTable": "linkflow-dev-UserProfiles", "EntitlementsTable": "linkflow-dev-Entitlements",
        "EmailClaimsTable": "linkflow-dev-EmailClaims",
        "UnlinkedCustomersTable": "linkflow-dev-UnlinkedStripeCustomers"}
    existing = {"UserProfilesTableName": "UserProfiles", "EntitlementsTableName": "Entitlements",
                "EmailClaimsTableName": "EmailClaims",
                "UnlinkedCustomersTableName": "UnlinkedStripeCustomers"}
    assert names(**existing) == {
        "UserProfilesTable": "UserProfiles", "EntitlementsTable": "Entitlements", "EmailClaimsTable": "EmailClaims",
        "UnlinkedCustomersTable": "UnlinkedStripeCustomers"}
    # every reader takes the name from the table itself, never from the parameter
    text = json.dumps({k: v for k, v in TEMPLATE.items() if k != "Conditions"})
    for parameter in existing:
        assert text.count(f'"Ref": "{parameter}"') == 1, f"only the table's own TableName reads {parameter}"
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["USER_PROFILES_TABLE"] == {"Ref": "UserProfilesTable"}
    assert function_env("WriteProfileFunction")["USER_PROFILES_TABLE"] == "linkflow-dev-UserProfiles"


def test_no_identity_provider_unless_its_client_id_is_given():
    body = _deployed()
    kinds = {res["Type"] for res in body["Resources"].values()}
    assert not kinds & {"AWS::Cognito::UserPoolIdentityProvider", "AWS::Cognito::UserPoolDomain"}
    client = body["Resources"]["UserPoolClient"]["Properties"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert "AllowedOAuthFlows" not in client and "HostedUiUrl" not in body["Outputs"]


@pytest.mark.parametrize("given", [["google"], ["apple"], ["google", "apple"]])
def test_google_and_apple_become_providers_of_the_pool_and_the_app_client(given):
    parameters = {}
    if "google" in given:
        parameters["GoogleClientId"] = "123-abc.apps.googleusercontent.com"
    if "apple" in given:
        parameters.update(AppleServicesId="com.example.linkflow", AppleTeamId="TEAM123", AppleKeyId="KEY123")
    body = _deployed(**parameters)
    providers = {res["Properties"]["ProviderName"]: res["Properties"] for res in body["Resources"].values()
                 if res["Type"] == "AWS::Cognito::UserPoolIdentityProvider"}
    expected = {"google": "Google", "apple": "SignInWithApple"}
    assert set(providers) == {expected[g] for g in given}
    for props in providers.values():
        assert props["AttributeMapping"]["email"] == "email"
        assert props["AttributeMapping"]["email_verified"] == "email_verified"  # PreSignUp links only verified ones
        assert props["UserPoolId"] == {"Ref": "UserPool"}
    if "google" in given:  # the secret from Secrets Manager, by a dynamic reference: never a parameter value
        assert providers["Google"]["ProviderDetails"]["client_secret"] == {
            "Fn::Sub": "{{resolve:secretsmanager:${GoogleClientSecretName}:SecretString:client_secret}}"}
    if "apple" in given:
        assert providers["SignInWithApple"]["ProviderDetails"]["private_key"] == {
            "Fn::Sub": "{{resolve:secretsmanager:${ApplePrivateKeySecretName}:SecretString:private_key}}"}
    client = body["Resources"]["UserPoolClient"]["Properties"]
    refs = {"google": {"Ref": "GoogleIdentityProvider"}, "apple": {"Ref": "AppleIdentityProvider"}}
    assert client["SupportedIdentityProviders"] == ["COGNITO", *[refs[g] for g in ("google", "apple") if g in given]]
    assert client["AllowedOAuthFlows"] == ["code"] and client["CallbackURLs"] == [{"Ref": "AppOrigin"}]
    assert "UserPoolDomain" in body["Resources"] and "HostedUiUrl" in body["Outputs"]
    trusted = PARAMETERS["TrustedLinkingProviders"].split(",")
    assert set(providers) <= set(trusted), "the providers the template creates are trusted for linking by default"


def test_federation_passes_cfn_lint_and_the_sam_transform_with_providers_given(tmp_path):
    """cfn-lint checks the template under no particular parameters; the transform must accept the
    conditional providers too."""
    from samtranslator.translator.transform import transform

    template = json.loads(json.dumps(TEMPLATE))
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://linkflow-artifacts/{logical_id}/{key}.zip"

    class NoManagedPolicies:
        def load(self, *args: Any, **kwargs: Any) -> dict[str, str]:
            return {}

    out = transform(template, {"GoogleClientId": "x", "AppleServicesId": "y"}, NoManagedPolicies())
    assert out["Resources"]["GoogleIdentityProvider"]["Condition"] == "HasGoogle"
    assert out["Resources"]["AppleIdentityProvider"]["Condition"] == "HasApple"
    assert out["Resources"]["UserPoolDomain"]["Condition"] == "HasFederation"


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
    assert {lid: props["TableName"]["Fn::If"][1] for lid, props in tables.items()} == {
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
    # The only SAM events are the Stripe webhook's HTTP API route (tests/unit/test_webhook_ingress.py),
    # the queue of onboarding starts PostConfirmation could not make, and the app's API routes.
    assert sorted(lid for lid, fn in FUNCTIONS.items() if "Events" in fn["Properties"]) == [
        "CreateCheckoutSessionFunction", "CreatePortalSessionFunction", "GetMeFunction",
        "StartOnboardingFunction", "StripeWebhookFunction"]


def test_the_app_api_requires_a_cognito_access_token_on_every_route():
    api = RESOURCES["AppHttpApi"]["Properties"]["Auth"]
    (jwt,) = api["Authorizers"].values()
    assert jwt["JwtConfiguration"]["issuer"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "UserPoolClient"}]
    routes = {lid: ev["Properties"] for lid, fn in FUNCTIONS.items()
              for ev in (fn["Properties"].get("Events") or {}).values()
              if ev["Properties"].get("ApiId") == {"Ref": "AppHttpApi"}}
    assert {(r["Method"], r["Path"]) for r in routes.values()} == {
        ("GET", "/me"), ("POST", "/billing/checkout-session"), ("POST", "/billing/portal-session")}
    for route in routes.values():  # an ID token has no scope: requiring one refuses it
        assert route["Auth"] == {"Authorizer": "CognitoJwt", "AuthorizationScopes": ["aws.cognito.signin.user.admin"]}
    client = TEMPLATE["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]


def test_no_function_is_given_a_secret_value():
    for logical_id in FUNCTIONS:
        for key, value in function_env(logical_id).items():
            assert not value.startswith(("sk_", "rk_", "whsec_")), f"{logical_id}.{key} holds a secret"


# --- hardening (issue #11 point 6) -----------------------------------------------------------------

RESOURCES = TEMPLATE["Resources"]


def _policy_statements(logical_id: str) -> list[dict[str, Any]]:
    """The inline statements of a function's Policies (SAM policy templates excluded)."""
    return [s for p in RESOURCES[logical_id]["Properties"].get("Policies", []) for s in p.get("Statement", [])]


def _role_statements(translated: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement a role grants after the SAM transform, its own and those of AWS::IAM::Policy."""
    res = translated["Resources"]
    docs = [p["PolicyDocument"] for p in res[role]["Properties"].get("Policies", [])]
    docs += [
        r["Properties"]["PolicyDocument"]
        for r in res.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    ]
    return [s for doc in docs for s in doc["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_user_pool_outlives_the_stack_and_refuses_deletion():
    pool = RESOURCES["UserPool"]
    assert pool["DeletionPolicy"] == "Retain" and pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


@pytest.mark.parametrize("logical_id", sorted(resources("AWS::DynamoDB::Table")))
def test_tables_are_retained_recoverable_and_encrypted(logical_id):
    table = RESOURCES[logical_id]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_the_public_webhook_cannot_starve_the_triggers(translated):
    ingress = FUNCTIONS["StripeWebhookFunction"]["Properties"]
    assert ingress["ReservedConcurrentExecutions"] == {"Ref": "WebhookReservedConcurrency"}
    assert 1 <= int(PARAMETERS["WebhookReservedConcurrency"]) <= 100, "leave the account's concurrency to the rest"
    assert not any("ReservedConcurrentExecutions" in fn["Properties"] for lid, fn in FUNCTIONS.items()
                   if lid != "StripeWebhookFunction"), "reserving for others would shrink the triggers' pool"
    event = ingress["Events"]["Webhook"]["Properties"]
    assert event["ApiId"] == {"Ref": "WebhookHttpApi"}
    api = RESOURCES["WebhookHttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    route = api["Properties"]["RouteSettings"][f"{event['Method']} {event['Path']}"]
    assert route == {
        "ThrottlingRateLimit": {"Ref": "WebhookThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "WebhookThrottleBurstLimit"},
    }
    assert int(PARAMETERS["WebhookThrottleRateLimit"]) <= int(PARAMETERS["WebhookThrottleBurstLimit"])
    stages = [s for s in of_type(translated, "AWS::ApiGatewayV2::Stage").values()
              if "POST /stripe/webhook" in (s["Properties"].get("RouteSettings") or {})]
    (stage,) = stages
    assert stage["Properties"]["RouteSettings"]["POST /stripe/webhook"] == route
    assert "ServerlessHttpApi" not in translated["Resources"], "the route must be on the throttled API"
    assert "${WebhookHttpApi}" in json.dumps(TEMPLATE["Outputs"]["StripeWebhookUrl"])


def _handler_source(logical_id: str) -> str:
    return (ROOT / FUNCTIONS[logical_id]["Properties"]["CodeUri"] / "app.py").read_text()


def test_only_the_functions_calling_stripe_read_the_api_key_and_the_ingress_only_the_signing_secrets(translated):
    def secret_readers(parameter: str) -> set[str]:
        readers = set()
        for logical_id in FUNCTIONS:
            for statement in _role_statements(translated, f"{logical_id}Role"):
                if any(a.startswith("secretsmanager:") for a in _as_list(statement["Action"])):
                    if f"${{{parameter}}}" in json.dumps(statement["Resource"]):
                        readers.add(logical_id)
        return readers

    calling_stripe = {lid for lid in FUNCTIONS if "deps.stripe" in _handler_source(lid)}
    assert "CreateStripeCustomerFunction" in calling_stripe and "StripeWebhookFunction" not in calling_stripe
    assert secret_readers("StripeSecretName") == calling_stripe
    assert secret_readers("StripeWebhookSecretName") == {"StripeWebhookFunction"}
    assert "deps.webhook_secrets" in _handler_source("StripeWebhookFunction")
    # No wildcard secret access anywhere: every secret statement names one of the two secrets.
    for logical_id in FUNCTIONS:
        for statement in _role_statements(translated, f"{logical_id}Role"):
            if any(a.startswith("secretsmanager:") for a in _as_list(statement["Action"])):
                assert _as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"], logical_id
                assert "secret:*" not in json.dumps(statement["Resource"]), logical_id


def test_pre_sign_up_may_touch_this_pool_only(translated):
    assert "userpool/*" not in json.dumps(TEMPLATE), "Cognito permissions name the stack's pool, never every pool"
    assert not [s for s in _policy_statements("PreSignUpFunction")
                if any(str(a).startswith("cognito-idp:") for a in _as_list(s["Action"]))], (
        "a statement naming the pool inside the function makes the pool <-> function cycle")
    policy = RESOURCES["PreSignUpCognitoPolicy"]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["Roles"] == [{"Ref": "PreSignUpFunctionRole"}]
    cognito = [s for s in _role_statements(translated, "PreSignUpFunctionRole")
               if any(a.startswith("cognito-idp:") for a in _as_list(s["Action"]))]
    assert cognito and all(s["Resource"] == {"Fn::GetAtt": ["UserPool", "Arn"]} for s in cognito)
    granted = {a for s in cognito for a in _as_list(s["Action"])}
    assert granted == {"cognito-idp:ListUsers", "cognito-idp:AdminLinkProviderForUser"}
    assert "PreSignUpFunctionRole" in translated["Resources"], "the policy names the role SAM generates"


def test_every_function_logs_to_a_group_with_retention():
    groups = {lid: res["Properties"] for lid, res in resources("AWS::Logs::LogGroup").items()}
    by_name = {json.dumps(props["LogGroupName"]): props for props in groups.values()}
    for logical_id in FUNCTIONS:
        props = by_name.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}))
        assert props is not None, f"{logical_id} has no log group /aws/lambda/<its name>"
        assert props["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert all(props["RetentionInDays"] == {"Ref": "LogRetentionInDays"} for props in groups.values())
    assert PARAMETERS["LogRetentionInDays"] == "30"


@pytest.mark.parametrize("logical_id", sorted(resources("AWS::Serverless::StateMachine")))
def test_state_machines_log_errors_without_execution_data(logical_id, translated):
    logging = RESOURCES[logical_id]["Properties"].get("Logging")
    assert logging, f"{logical_id} needs Logging (ERROR, IncludeExecutionData: false) to a log group"
    assert logging["IncludeExecutionData"] is False, "execution data carries emails and names"
    assert logging["Level"] in ("ERROR", "ALL")
    ((destination,),) = [[d["CloudWatchLogsLogGroup"]["LogGroupArn"] for d in logging["Destinations"]]]
    group_id = destination["Fn::GetAtt"][0]
    group = RESOURCES[group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    role = _role_statements(translated, f"{logical_id}Role")
    assert any("logs:CreateLogDelivery" in _as_list(s["Action"]) for s in role), "Step Functions cannot deliver logs"
    machine = translated["Resources"][logical_id]["Properties"]
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False


def _alarms() -> dict[str, dict[str, Any]]:
    return {lid: res["Properties"] for lid, res in resources("AWS::CloudWatch::Alarm").items()}


def _alarms_on(namespace: str, metric: str, dimension: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        props for props in _alarms().values()
        if props["Namespace"] == namespace and props["MetricName"] == metric and dimension in props["Dimensions"]
    ]


def test_every_alarm_notifies_the_alarm_topic():
    assert RESOURCES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert _alarms()
    for logical_id, props in _alarms().items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id
        assert "docs/runbook.md#alarms" in props["AlarmDescription"], logical_id


@pytest.mark.parametrize("machine", sorted(resources("AWS::Serverless::StateMachine")))
def test_failed_executions_alarm_per_machine_and_before_the_redrive_window_closes(machine):
    dimension = {"Name": "StateMachineArn", "Value": {"Ref": machine}}
    alarms = _alarms_on("AWS/States", "ExecutionsFailed", dimension)
    prompt = [a for a in alarms if a["Period"] * a["EvaluationPeriods"] <= 900]
    assert prompt, f"{machine} needs an alarm on its first failed execution (ExecutionsFailed, 5 min)"
    assert all(a["Threshold"] == 1 and a["Statistic"] == "Sum" for a in prompt), machine
    # The redrive window is 14 days; CloudWatch looks back at most 7. The week-long alarm is in ALARM
    # while a failure is younger than 7 days and tells (OKActions) when the newest turns 7 days old.
    window = [a for a in alarms if a["Period"] * a["EvaluationPeriods"] == 7 * 86400]
    assert len(window) == 1, f"{machine} needs one 7-day ExecutionsFailed alarm (the redrive-window reminder)"
    assert window[0]["DatapointsToAlarm"] == 1 and window[0]["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_ingress_server_errors_alarm():
    (alarm,) = _alarms_on("AWS/ApiGateway", "5xx", {"Name": "ApiId", "Value": {"Ref": "WebhookHttpApi"}})
    assert alarm["Threshold"] == 1 and alarm["Statistic"] == "Sum"


def test_the_onboarding_start_dead_letter_queue_alarms_on_its_first_message():
    dlq = RESOURCES["OnboardingStartDeadLetterQueue"]
    assert dlq["Type"] == "AWS::SQS::Queue"
    dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": ["OnboardingStartDeadLetterQueue", "QueueName"]}}
    (alarm,) = _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimension)
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
