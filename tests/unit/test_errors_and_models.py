"""The error mapping (AWS and Stripe failures → retryable or terminal classes) and the models."""

from __future__ import annotations

import uuid

import pytest
import stripe
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from linkflow_shared import (
    EmailAlreadyRegistered,
    InvalidStepInput,
    ProfileRecord,
    normalize_email,
    parse_step_input,
)
from linkflow_shared.errors import (
    CognitoRequestRejected,
    CognitoUnavailable,
    CognitoUserNotFound,
    ConditionFailed,
    DynamoDBRequestRejected,
    DynamoDBThrottled,
    DynamoDBUnavailable,
    RetryableError,
    StripeNotFound,
    StripeRequestRejected,
    StripeUnavailable,
    cognito_errors,
    dynamodb_errors,
)
from linkflow_shared.gateways.stripe import StripeSecret, build_client, stripe_errors
from linkflow_shared.models import external_identity, mask_email
from linkflow_shared.onboarding import CognitoTriggerEvent, OnboardingInput


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("ProvisionedThroughputExceededException", 400, DynamoDBThrottled),
        ("ThrottlingException", 400, DynamoDBThrottled),
        ("RequestLimitExceeded", 400, DynamoDBThrottled),
        ("InternalServerError", 500, DynamoDBUnavailable),
        ("ServiceUnavailable", 503, DynamoDBUnavailable),
        ("TransactionConflictException", 400, DynamoDBUnavailable),
        ("ValidationException", 400, DynamoDBRequestRejected),
        ("ResourceNotFoundException", 400, DynamoDBRequestRejected),
        ("AccessDeniedException", 400, DynamoDBRequestRejected),
    ],
)
def test_dynamodb_errors_map_to_the_hierarchy(code, status, expected):
    with pytest.raises(expected), dynamodb_errors():
        raise client_error(code, status)


def test_a_failed_condition_carries_the_stored_item_in_python_types():
    error = client_error("ConditionalCheckFailedException")
    error.response["Item"] = {"userId": {"S": "u1"}, "n": {"N": "2"}, "tags": {"SS": ["a"]}}
    with pytest.raises(ConditionFailed) as raised, dynamodb_errors():
        raise error
    assert raised.value.item == {"userId": "u1", "n": 2, "tags": {"a"}}
    with pytest.raises(ConditionFailed) as raised, dynamodb_errors():
        raise client_error("ConditionalCheckFailedException")  # no item asked for, or none stored
    assert raised.value.item is None


def test_a_failed_condition_through_a_real_table_returns_what_is_stored(aws):
    from linkflow_shared.stores import Table

    table = Table(aws.table("UserProfilesTable"))
    table.put({"userId": "u1", "email": "a@example.com"})
    with pytest.raises(ConditionFailed) as raised:
        table.update({"userId": "u1"}, "SET email = :e", condition="attribute_not_exists(userId)", values={":e": "b"})
    assert raised.value.item == {"userId": "u1", "email": "a@example.com"}
    with pytest.raises(ConditionFailed) as raised:
        table.delete({"userId": "nobody"}, condition="attribute_exists(userId)")
    assert raised.value.item is None


@pytest.mark.parametrize(
    "exc",
    [EndpointConnectionError(endpoint_url="http://x"), ReadTimeoutError(endpoint_url="http://x")],
    ids=["connect", "read timeout"],
)
def test_unreachable_services_are_retryable(exc):
    with pytest.raises(DynamoDBUnavailable), dynamodb_errors():
        raise exc
    with pytest.raises(CognitoUnavailable), cognito_errors():
        raise exc


@pytest.mark.parametrize(
    "code, expected",
    [
        ("UserNotFoundException", CognitoUserNotFound),
        ("TooManyRequestsException", CognitoUnavailable),
        ("InternalErrorException", CognitoUnavailable),
        ("InvalidParameterException", CognitoRequestRejected),
        ("NotAuthorizedException", CognitoRequestRejected),
    ],
)
def test_cognito_errors_map_to_the_hierarchy(code, expected):
    with pytest.raises(expected), cognito_errors():
        raise client_error(code)


@pytest.mark.parametrize(
    "exc, expected",
    [
        (stripe.RateLimitError("slow down", http_status=429), StripeUnavailable),
        (stripe.APIError("boom", http_status=500), StripeUnavailable),
        (stripe.APIError("bad gateway", http_status=502), StripeUnavailable),
        (stripe.APIError("key in use", http_status=409), StripeUnavailable),
        (stripe.APIConnectionError("unreachable"), StripeUnavailable),
        (stripe.InvalidRequestError("bad", param="email", http_status=400), StripeRequestRejected),
        (stripe.AuthenticationError("bad key", http_status=401), StripeRequestRejected),
        (stripe.PermissionError("nope", http_status=403), StripeRequestRejected),
        (stripe.IdempotencyError("other params", http_status=400), StripeRequestRejected),
        (stripe.InvalidRequestError("No such customer", param="id", http_status=404), StripeNotFound),
        (
            stripe.APIError("lock", http_status=400, headers={"Stripe-Should-Retry": "true"}),
            StripeUnavailable,
        ),
        (
            stripe.APIError("do not", http_status=500, headers={"Stripe-Should-Retry": "false"}),
            StripeRequestRejected,
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
def test_stripe_errors_map_to_the_hierarchy(exc, expected):
    with pytest.raises(expected), stripe_errors():
        raise exc


def test_a_key_of_the_wrong_mode_is_refused():
    with pytest.raises(StripeRequestRejected, match="livemode=false"):
        build_client("sk_live_123", livemode=False)
    with pytest.raises(StripeRequestRejected, match="livemode=true"):
        build_client("sk_test_123", livemode=True)
    assert build_client("sk_test_123", api_base="http://127.0.0.1:1") is build_client(
        "sk_test_123", api_base="http://127.0.0.1:1"
    )


def test_the_secret_never_prints_its_keys():
    secret = StripeSecret(api_key="sk_test_abc")
    assert "sk_test" not in repr(secret) and "sk_test" not in str(secret)


def test_retryable_and_terminal_do_not_overlap():
    assert issubclass(DynamoDBThrottled, RetryableError)
    assert not issubclass(CognitoUserNotFound, RetryableError)


def test_the_pre_signup_rejection_message_is_exact():
    assert str(EmailAlreadyRegistered("ada@example.com")) == (
        "An account with email ada@example.com already exists. Please sign in instead."
    )


@pytest.mark.parametrize(
    "raw, normalized",
    [("ada@example.com", "ada@example.com"), ("  Ada@Example.COM \t", "ada@example.com"), ("A.B+c@x.io", "a.b+c@x.io")],
)
def test_normalize_email(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@@b.com"])
def test_normalize_email_refuses_what_is_not_an_email(raw):
    with pytest.raises(ValueError):
        normalize_email(raw)


def test_mask_email_keeps_it_out_of_logs():
    assert mask_email("ada@example.com") == "a***@example.com"


@pytest.mark.parametrize(
    "user_name, attributes, expected",
    [
        ("Google_1234", {}, ("Google", "1234")),
        ("google_1234", {}, ("Google", "1234")),
        ("signinwithapple_abc_def", {}, ("SignInWithApple", "abc_def")),
        pytest.param(str(uuid.uuid4()), {}, None, id="native-sub"),  # a stable id: the uuid changes per collection
        ("some_user", {}, None),
        ("x", {"identities": '[{"providerName": "MyOIDC", "userId": "u-1", "primary": true}]'}, ("MyOIDC", "u-1")),
        ("Google_1", {"identities": "not json"}, ("Google", "1")),
    ],
)
def test_external_identity(user_name, attributes, expected):
    assert external_identity(user_name, attributes) == expected


def test_onboarding_input_from_a_native_confirmation():
    sub = str(uuid.uuid4())
    event = {
        "userPoolId": "pool",
        "userName": sub,
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {
            "userAttributes": {"sub": sub, "email": " Ada@Example.com", "given_name": "Ada", "email_verified": "true"}
        },
    }
    onboarding = OnboardingInput.from_trigger(parse_step_input(CognitoTriggerEvent, event))
    assert onboarding.dump() == {
        "userPoolId": "pool",
        "userName": sub,
        "sub": sub,
        "email": "ada@example.com",
        "emailVerified": True,
        "providers": ["Cognito"],
    }, "no names in the execution input: the steps that need them read Cognito"
    assert not onboarding.is_external


def test_onboarding_input_from_a_federated_first_sign_in():
    sub = str(uuid.uuid4())
    event = {
        "userPoolId": "pool",
        "userName": "Google_42",
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"sub": sub, "email": "ada@example.com", "email_verified": "false"}},
    }
    onboarding = OnboardingInput.from_trigger(parse_step_input(CognitoTriggerEvent, event))
    assert onboarding.providers == ["Google"] and onboarding.is_external and not onboarding.email_verified


def test_parse_errors_name_fields_not_values():
    with pytest.raises(InvalidStepInput) as raised:
        parse_step_input(OnboardingInput, {"userPoolId": "p", "userName": "u", "sub": "secret-ish", "email": "ada@x"})
    message = str(raised.value)
    assert "sub" in message and "email" in message
    assert "secret-ish" not in message and "ada@x" not in message


def test_profile_item_leaves_absent_attributes_absent():
    profile = ProfileRecord(user_id="u", email="ada@example.com", created_at="t", updated_at="t")
    assert "stripeCustomerId" not in profile.item()  # a NULL would break StripeCustomerIndex
    assert profile.item()["providers"] == ["Cognito"]
