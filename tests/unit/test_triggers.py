"""The Cognito triggers: PreSignUp (duplicate email, linking, failing open) and PostConfirmation
(one execution per sub, nothing else)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from linkflow_shared import (
    EmailAlreadyRegistered,
    EmailMissing,
    InvalidStepInput,
    OnboardingStartFailed,
    parse_step_input,
)
from linkflow_shared.gateways import BotoCognito
from linkflow_shared.onboarding import CognitoTriggerEvent, pre_sign_up
from unit_support import ACCOUNT, REGION, TEMPLATE, linking_cognito, resolve


def trigger_event(pool_id: str, source: str, user_name: str, **attributes: str) -> dict[str, Any]:
    return {
        "version": "1",
        "region": REGION,
        "userPoolId": pool_id,
        "userName": user_name,
        "triggerSource": source,
        "callerContext": {"awsSdkVersion": "x", "clientId": "client"},
        "request": {"userAttributes": attributes, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }


def create_onboarding_machine(aws: Any) -> str:
    name = resolve(TEMPLATE["Resources"]["OnboardingStateMachine"]["Properties"]["Name"])
    return aws.sfn.create_state_machine(
        name=name,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/onboarding",
    )["stateMachineArn"]


# --- PostConfirmation ---------------------------------------------------------------------------


def confirmation(aws: Any, source: str = "PostConfirmation_ConfirmSignUp") -> tuple[dict[str, Any], str]:
    sub = str(uuid.uuid4())
    event = trigger_event(
        aws.pool_id, source, sub, sub=sub, email="Ada@Example.com", email_verified="true", given_name="Ada"
    )
    return event, sub


def test_confirm_sign_up_starts_one_execution_named_by_the_sub(aws, load_handler, context):
    machine = create_onboarding_machine(aws)
    handler = load_handler("PostConfirmationFunction")
    event, sub = confirmation(aws)
    original = json.loads(json.dumps(event))
    started = time.monotonic()
    assert handler(event, context) == original
    assert time.monotonic() - started < 1.0
    (execution,) = aws.sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == sub
    described = aws.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "userPoolId": aws.pool_id,
        "userName": sub,
        "sub": sub,
        "email": "ada@example.com",
        "emailVerified": True,
        "providers": ["Cognito"],
    }
    assert all(aws.items(t) == [] for t in aws.tables), "no DynamoDB work in the trigger"


def test_a_repeated_confirmation_is_not_an_error(aws, load_handler, context):
    machine = create_onboarding_machine(aws)
    handler = load_handler("PostConfirmationFunction")
    event, _ = confirmation(aws)
    handler(event, context)
    handler(event, context)  # Cognito retried while the execution runs
    (execution,) = aws.sfn.list_executions(stateMachineArn=machine)["executions"]
    aws.sfn.stop_execution(executionArn=execution["executionArn"])
    assert handler(event, context) == event  # ...and after it closed: ExecutionAlreadyExists
    assert len(aws.sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


@pytest.mark.parametrize(
    "source", ["PostConfirmation_ConfirmForgotPassword", "PostConfirmation_AdminConfirmSignUp_Unknown"]
)
def test_other_confirmations_start_nothing(aws, load_handler, context, source):
    machine = create_onboarding_machine(aws)
    event, _ = confirmation(aws, source)
    assert load_handler("PostConfirmationFunction")(event, context) == event
    assert aws.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def start_queue() -> tuple[Any, str]:
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="linkflow-dev-onboarding-starts")["QueueUrl"]


def sqs_event(sqs: Any, url: str) -> dict[str, Any]:
    """What Lambda's SQS event source hands the consumer for the queue's waiting messages."""
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "eventSource": "aws:sqs"} for m in messages]}


def test_a_start_step_functions_refuses_is_queued_and_the_consumer_starts_it(aws, load_handler, context):
    sqs, url = start_queue()
    trigger = load_handler("PostConfirmationFunction", ONBOARDING_START_QUEUE_URL=url)
    event, sub = confirmation(aws)
    assert trigger(event, context) == event, "Cognito sees a success: the start is not lost, it waits"
    batch = sqs_event(sqs, url)
    (record,) = batch["Records"]
    body = json.loads(record["body"])
    assert body["onboarding"]["sub"] == sub and "StateMachineDoesNotExist" in body["reason"]

    consumer = load_handler("StartOnboardingFunction")
    assert consumer(batch, context) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}, (
        "still no machine: the message goes back to the queue")
    machine = create_onboarding_machine(aws)
    assert consumer(batch, context) == {"batchItemFailures": []}
    assert consumer(batch, context) == {"batchItemFailures": []}, "a start that happened makes a redelivery a no-op"
    (execution,) = aws.sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == sub


def test_a_start_that_cannot_be_queued_either_fails_the_confirmation(aws, load_handler, context):
    nowhere = "https://sqs.us-east-1.amazonaws.com/123456789012/nope"
    trigger = load_handler("PostConfirmationFunction", ONBOARDING_START_QUEUE_URL=nowhere)
    event, _ = confirmation(aws)
    with pytest.raises(OnboardingStartFailed, match="could not be queued"):
        trigger(event, context)


def test_the_consumer_refuses_a_message_that_is_not_a_queued_start(aws, load_handler, context):
    with pytest.raises(InvalidStepInput, match="QueuedStarts"):
        load_handler("StartOnboardingFunction")({"Records": [{"messageId": "m1", "body": "{}"}]}, context)


# --- PreSignUp ----------------------------------------------------------------------------------


def existing_native(aws: Any, email: str = "ada@example.com", claimed: bool = True) -> tuple[str, str]:
    username, sub = aws.create_native_user(email)
    if claimed:
        aws.claims.claim(email.strip().lower(), sub, "t")
    return username, sub


def native_sign_up(aws: Any, email: str) -> dict[str, Any]:
    new_sub = str(uuid.uuid4())
    return trigger_event(aws.pool_id, "PreSignUp_SignUp", new_sub, email=email)


@pytest.mark.parametrize("typed", ["ada@example.com", "  ADA@Example.com ", "Ada@example.COM"])
def test_a_native_sign_up_with_a_taken_email_is_rejected_with_the_message(aws, load_handler, context, typed):
    existing_native(aws)
    with pytest.raises(EmailAlreadyRegistered) as raised:
        load_handler("PreSignUpFunction")(native_sign_up(aws, typed), context)
    assert str(raised.value) == "An account with email ada@example.com already exists. Please sign in instead."


def test_an_account_without_a_claim_yet_still_counts(aws, load_handler, context):
    existing_native(aws, claimed=False)  # its onboarding has not run yet
    with pytest.raises(EmailAlreadyRegistered):
        load_handler("PreSignUpFunction")(native_sign_up(aws, "ada@example.com"), context)


def test_a_google_created_account_counts(aws_federated, load_handler, context):
    aws = aws_federated
    aws.create_federated_user("Google_77", "ada@example.com")
    with pytest.raises(EmailAlreadyRegistered):
        load_handler("PreSignUpFunction")(native_sign_up(aws, "ada@example.com"), context)


def test_a_free_email_signs_up(aws, load_handler, context):
    existing_native(aws, "grace@example.com")
    event = native_sign_up(aws, "ada@example.com")
    assert load_handler("PreSignUpFunction")(event, context) == event


def test_a_stale_claim_does_not_block_a_sign_up(aws, load_handler, context):
    aws.claims.claim("ada@example.com", str(uuid.uuid4()), "t")  # owner is gone
    event = native_sign_up(aws, "ada@example.com")
    assert load_handler("PreSignUpFunction")(event, context) == event


def test_infrastructure_errors_fail_open(aws, load_handler, context):
    existing_native(aws)
    handler = load_handler("PreSignUpFunction", EMAIL_CLAIMS_TABLE="NoSuchTable")
    event = native_sign_up(aws, "ada@example.com")
    assert handler(event, context) == event  # the workflow's atomic claim is the authoritative check


def federated_sign_in(aws: Any, email: str, verified: str) -> Any:
    sub = str(uuid.uuid4())
    event = trigger_event(
        aws.pool_id, "PreSignUp_ExternalProvider", "Google_1234567", sub=sub, email=email, email_verified=verified
    )
    return parse_step_input(CognitoTriggerEvent, event)


TRUSTED = ("Google", "SignInWithApple")


def decide(aws: Any, trigger: Any, cognito: Any, trusted: tuple[str, ...] = TRUSTED) -> Any:
    """PreSignUp's decision on the mocked account with ``cognito`` as the gateway."""
    return pre_sign_up(trigger, cognito=cognito, claims=aws.claims, profiles=aws.profiles, trusted_providers=trusted)


def test_a_verified_federated_email_of_an_existing_account_is_linked(aws):
    username, sub = existing_native(aws)
    aws.table("UserProfilesTable").put_item(Item={"userId": sub, "email": "ada@example.com", "providers": ["Cognito"]})
    cognito = linking_cognito(aws.idp)
    decision = decide(aws, federated_sign_in(aws, "Ada@Example.com", "true"), cognito)
    assert decision.action == "linked" and decision.owner_user_id == sub
    assert cognito.links == [(aws.pool_id, username, "Google", "1234567")]
    (profile,) = aws.items("UserProfilesTable")
    assert profile["providers"] == ["Cognito", "Google"]


def test_an_unverified_federated_email_is_never_linked(aws):
    existing_native(aws)
    cognito = linking_cognito(aws.idp)
    decision = decide(aws, federated_sign_in(aws, "ada@example.com", "false"), cognito)
    assert decision.action == "allow" and cognito.links == []


def test_a_federated_sign_in_with_a_new_email_proceeds(aws):
    cognito = linking_cognito(aws.idp)
    decision = decide(aws, federated_sign_in(aws, "new@example.com", "true"), cognito)
    assert decision.action == "allow" and cognito.links == []


def test_a_failed_link_fails_open(aws):
    existing_native(aws)
    decision = decide(aws, federated_sign_in(aws, "ada@example.com", "true"), BotoCognito(RefusingIdp(aws.idp)))
    assert decision.action == "fail_open" and "CognitoRequestRejected" in decision.reason


class RefusingIdp:
    """A boto3 Cognito client whose AdminLinkProviderForUser is refused (the real gateway maps it)."""

    def __init__(self, idp: Any) -> None:
        self._idp = idp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._idp, name)

    def admin_link_provider_for_user(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AliasExistsException", "Message": "linked"}}, "AdminLinkProviderForUser")


# --- takeover rules (issue #11.2) ---------------------------------------------------------------


def test_a_provider_not_trusted_for_linking_is_never_linked(aws):
    existing_native(aws)
    cognito = linking_cognito(aws.idp)
    decision = decide(aws, federated_sign_in(aws, "ada@example.com", "true"), cognito, ("SignInWithApple",))
    assert decision.action == "allow" and "not trusted" in decision.reason and cognito.links == []


def test_an_account_holding_an_unverified_copy_of_the_email_is_not_its_owner(aws):
    # The attacker's account changed its email to the victim's without verifying it.
    username, _ = aws.create_native_user("mallory@example.com")
    aws.idp.admin_update_user_attributes(UserPoolId=aws.pool_id, Username=username, UserAttributes=[
        {"Name": "email", "Value": "ada@example.com"}, {"Name": "email_verified", "Value": "false"}])
    cognito = linking_cognito(aws.idp)
    decision = decide(aws, federated_sign_in(aws, "ada@example.com", "true"), cognito)
    assert (decision.action, decision.reason) == ("allow", "the email is free") and cognito.links == []
    native = decide(aws, parse_step_input(CognitoTriggerEvent, native_sign_up(aws, "ada@example.com")), cognito)
    assert native.action == "allow", "an unverified copy cannot block the real owner's sign-up"


def test_pre_sign_up_and_post_confirmation_agree_an_account_needs_an_email(aws, load_handler, context):
    event = trigger_event(aws.pool_id, "PreSignUp_ExternalProvider", "Google_999", sub=str(uuid.uuid4()))
    with pytest.raises(EmailMissing, match="Google gave no email"):
        load_handler("PreSignUpFunction")(event, context)
    confirmation_without_email = trigger_event(aws.pool_id, "PostConfirmation_ConfirmSignUp", "Google_999",
                                               sub=str(uuid.uuid4()))
    with pytest.raises(InvalidStepInput, match="email"):
        load_handler("PostConfirmationFunction")(confirmation_without_email, context)
