"""The local stack itself: provisioned from template.yaml, triggers wired, redrive, faults."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.exceptions
import pytest
from support import confirm, entered_states, execution_arn_for, history, sign_up, unique_email, wait_until

from linkflow.local.client import AdminCallFailed, wait_for_execution
from linkflow.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def _declared(kind: str) -> set[str]:
    template = load_template(ROOT / "template.yaml", {"Stage": "local"})
    names = set()
    for logical_id, res in template.resources.items():
        if res["Type"] == kind:
            names.add(logical_id)
    return names


def test_state_machines_and_tables_are_exactly_what_the_template_declares(stack):
    declared_tables = {stack.info["resources"][lid]["name"] for lid in _declared("AWS::DynamoDB::Table")}
    declared_machines = {stack.info["resources"][lid]["name"] for lid in _declared("AWS::Serverless::StateMachine")}
    assert declared_tables, "template declares no table"
    tables = set(stack.client("dynamodb").list_tables()["TableNames"])
    machines = {m["name"] for m in stack.client("stepfunctions").list_state_machines()["stateMachines"]}
    assert tables == declared_tables
    assert machines == declared_machines
    assert any("onboarding" in name for name in machines)


def test_tables_have_the_template_gsis(stack):
    template = load_template(ROOT / "template.yaml", {"Stage": "local"})
    ddb = stack.client("dynamodb")
    for logical_id in _declared("AWS::DynamoDB::Table"):
        props = template.resources[logical_id]["Properties"]
        wanted = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
        table = ddb.describe_table(TableName=stack.info["resources"][logical_id]["name"])["Table"]
        assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == wanted


def test_cloudformation_stack_outputs_name_the_resources(stack):
    described = stack.client("cloudformation").describe_stacks(StackName="linkflow-local")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["OnboardingStateMachineArn"] == stack.info["outputs"]["OnboardingStateMachineArn"]
    assert outputs["UserPoolId"] == stack.info["cognito"]["user_pool_id"]
    assert outputs == stack.info["outputs"]


def test_local_json_describes_the_running_stack(stack):
    info = json.loads((stack.config.state_dir / "local.json").read_text())
    assert info["endpoints"] == {"aws": stack.aws_url, "stripe": stack.stripe_url, "api": stack.api_url}
    assert info["stripe"]["api_key"].startswith("sk_test_")
    assert info["stripe"]["webhook_secret"].startswith("whsec_")
    assert info["cognito"]["user_pool_id"] and info["cognito"]["client_id"]
    machine = next(r for r in info["resources"].values() if r["type"] == "AWS::Serverless::StateMachine")
    assert machine["arn"].startswith("arn:aws:states:")


def test_signup_and_confirmation_start_an_onboarding_execution_that_writes_the_profile(stack):
    email = unique_email("slice")
    sub = sign_up(stack, email)
    confirm(stack, sub)
    arn = execution_arn_for(stack, sub)
    sfn = stack.client("stepfunctions")
    desc = wait_until(lambda: _describe(sfn, arn), what="the onboarding execution to appear")
    desc = wait_for_execution(sfn, arn)
    assert desc["status"] == "SUCCEEDED", desc
    assert desc["name"] == sub
    profiles = stack.info["outputs"]["UserProfilesTableName"]
    item = stack.client("dynamodb").get_item(TableName=profiles, Key={"userId": {"S": sub}}, ConsistentRead=True)
    assert item["Item"]["email"]["S"] == email.lower()


def _describe(sfn, arn):
    try:
        return sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def test_redrive_resumes_at_the_failed_task_on_the_same_arn(stack, clean_faults):
    sfn = stack.client("stepfunctions")
    # The write fails with an error no retrier matches: the execution fails at WriteProfile.
    stack.admin.add_fault({"service": "lambda", "function": "WriteProfileFunction", "error": "InjectedFault",
                           "count": 1})
    sub = sign_up(stack, unique_email("redrive"))
    confirm(stack, sub)
    arn = execution_arn_for(stack, sub)
    wait_until(lambda: _describe(sfn, arn), what="the execution")
    first = wait_for_execution(sfn, arn)
    assert first["status"] == "FAILED"
    assert first["redriveStatus"] == "REDRIVABLE"
    before = entered_states(history(sfn, arn))
    assert before[-1] == "WriteProfile"

    sfn.redrive_execution(executionArn=arn)
    done = wait_for_execution(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert done["executionArn"] == arn
    assert done["redriveCount"] == 1
    events = history(sfn, arn)
    assert [e["type"] for e in events].count("ExecutionRedriven") == 1
    after = entered_states(events)
    # Every state that succeeded before the failure ran exactly once.
    for state in before[:-1]:
        assert after.count(state) == 1, (state, after)
    assert after.count("WriteProfile") == 2
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sfn.redrive_execution(executionArn=arn)
    assert exc.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "NOT_REDRIVABLE"


def test_dynamodb_fault_answers_the_aws_error(stack, clean_faults):
    table = stack.info["outputs"]["UserProfilesTableName"]
    assert stack.admin.add_fault({"service": "dynamodb", "operation": "PutItem", "resource": table, "count": 1})
    import boto3
    from botocore.config import Config

    ddb = boto3.client("dynamodb", endpoint_url=stack.aws_url, region_name="us-east-1",
                       aws_access_key_id="t", aws_secret_access_key="t",
                       config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    item = {"userId": {"S": "fault-probe"}, "email": {"S": "probe@example.com"}}
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item=item)  # the fault was for one call only
    ddb.delete_item(TableName=table, Key={"userId": {"S": "fault-probe"}})


def test_bad_fault_spec_is_rejected(stack):
    with pytest.raises(AdminCallFailed) as refused:
        stack.admin.add_fault({"service": "nosuch", "count": 1})
    assert refused.value.status == 400 and "service" in refused.value.message


def test_concurrent_conditional_writes_have_exactly_one_winner(stack):
    """DynamoDB serializes writes to an item; the local endpoint must too (the email claim relies on it)."""
    from concurrent.futures import ThreadPoolExecutor

    table = stack.info["outputs"]["EmailClaimsTableName"]
    ddb = stack.client("dynamodb")
    for round_ in range(40):
        email = f"race{round_}.{unique_email('claim')}"

        def claim(owner: int, email: str = email) -> bool:
            try:
                ddb.put_item(TableName=table, Item={"email": {"S": email}, "userId": {"S": str(owner)}},
                             ConditionExpression="attribute_not_exists(email)")
                return True
            except ddb.exceptions.ConditionalCheckFailedException:
                return False

        with ThreadPoolExecutor(max_workers=16) as pool:
            winners = sum(pool.map(claim, range(16)))
        assert winners == 1, f"round {round_}: {winners} writers won the same claim"


def test_admin_link_provider_for_user_shows_the_identity_on_admin_get_user(stack):
    cognito = stack.client("cognito-idp")
    pool = stack.info["cognito"]["user_pool_id"]
    sub = sign_up(stack, unique_email("link"))
    cognito.admin_link_provider_for_user(
        UserPoolId=pool,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": sub},
        SourceUser={"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": "1098765"},
    )
    attrs = {a["Name"]: a["Value"] for a in cognito.admin_get_user(UserPoolId=pool, Username=sub)["UserAttributes"]}
    identities = json.loads(attrs["identities"])
    assert [(i["providerName"], i["userId"]) for i in identities] == [("Google", "1098765")]
    # The same external identity cannot be linked twice.
    with pytest.raises(botocore.exceptions.ClientError):
        cognito.admin_link_provider_for_user(
            UserPoolId=pool,
            DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": sub},
            SourceUser={"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
                        "ProviderAttributeValue": "1098765"},
        )
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_link_provider_for_user(
            UserPoolId=pool,
            DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "no-such-user"},
            SourceUser={"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
                        "ProviderAttributeValue": "1"},
        )


def test_history_pages_follow_max_results_and_next_token(stack):
    sfn = stack.client("stepfunctions")
    sub = sign_up(stack, unique_email("pages"))
    confirm(stack, sub)
    arn = execution_arn_for(stack, sub)
    wait_until(lambda: _describe(sfn, arn), what="the execution")
    wait_for_execution(sfn, arn)
    everything = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    paged, token, pages = [], None, 0
    while True:
        kwargs = {"executionArn": arn, "maxResults": 3, **({"nextToken": token} if token else {})}
        page = sfn.get_execution_history(**kwargs)
        pages += 1
        assert len(page["events"]) <= 3
        paged.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert pages == -(-len(everything) // 3)
    reverse = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1000)["events"]
    assert [e["id"] for e in reverse] == [e["id"] for e in reversed(everything)]


def test_queues_are_the_templates_with_their_attributes_and_redrive_policy(stack):
    template = load_template(ROOT / "template.yaml", {"Stage": "local"})
    sqs = stack.client("sqs")
    declared = _declared("AWS::SQS::Queue")
    assert declared, "template declares no queue"
    urls = {lid: stack.info["resources"][lid]["url"] for lid in declared}
    assert set(sqs.list_queues()["QueueUrls"]) == set(urls.values())
    for logical_id in declared:
        props = template.resources[logical_id]["Properties"]
        attrs = sqs.get_queue_attributes(QueueUrl=urls[logical_id], AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"] == stack.info["resources"][logical_id]["arn"]
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in props:
                assert attrs[key] == str(props[key]), key  # the template's values, not scaled ones
        if "RedrivePolicy" in props:
            policy = json.loads(attrs["RedrivePolicy"])
            dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert policy["deadLetterTargetArn"] == stack.info["resources"][dlq]["arn"]
            assert int(policy["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]
    # A queue's Ref in a function's environment is its URL.
    post_confirmation = stack.client("lambda").get_function_configuration(
        FunctionName=stack.info["resources"]["PostConfirmationFunction"]["name"])
    assert post_confirmation["Environment"]["Variables"]["ONBOARDING_START_QUEUE_URL"] == \
        stack.info["outputs"]["OnboardingStartQueueUrl"] == urls["OnboardingStartQueue"]
