"""Clients for AWS and Stripe, resolved the standard way.

AWS: boto3's own resolution (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, credentials chain), plus
``AWS_REGION`` which botocore's clients do not read by themselves. Stripe: the key the Lambdas use
(the Secrets Manager secret named by the stack's ``StripeSecretName``, JSON field ``api_key``),
unless ``STRIPE_API_KEY`` is set; ``STRIPE_API_BASE`` replaces Stripe's address (an emulator).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .errors import Unreachable

if TYPE_CHECKING:
    import stripe
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

STRIPE_DEFAULT_BASE = "https://api.stripe.com"
_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 3},
                 user_agent_extra="linkflow-ops")
# Calls whose throttling the caller handles itself (bulk redrive backs off and counts).
_SINGLE_SHOT = _CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


class Clients:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._region = env.get("AWS_REGION") or None
        # For messages only: boto3 resolves the real endpoint per service.
        self.aws_endpoint = env.get("AWS_ENDPOINT_URL") or "the AWS endpoint"
        self._stripe_key = env.get("STRIPE_API_KEY") or None
        self.stripe_base = (env.get("STRIPE_API_BASE") or "").rstrip("/") or STRIPE_DEFAULT_BASE
        self._stripe: stripe.StripeClient | None = None  # imported on first use: executions never need it

    # Each client is built on first use: `executions` never pays for Cognito or Secrets Manager.
    @cached_property
    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=self._region)

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        return self.session.client("cloudformation", config=_CONFIG)

    @cached_property
    def sfn(self) -> SFNClient:
        return self.session.client("stepfunctions", config=_CONFIG)

    @cached_property
    def sfn_single_shot(self) -> SFNClient:
        """Step Functions without botocore's retries: bulk redrive backs off and counts throttling itself."""
        return self.session.client("stepfunctions", config=_SINGLE_SHOT)

    @cached_property
    def cognito(self) -> CognitoIdentityProviderClient:
        return self.session.client("cognito-idp", config=_CONFIG)

    @cached_property
    def s3(self) -> S3Client:
        return self.session.client("s3", config=_CONFIG)

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self.session.client("secretsmanager", config=_CONFIG)

    def table(self, name: str) -> Table:
        return self.session.resource("dynamodb", config=_CONFIG).Table(name)

    def stripe(self, secret_name: str) -> stripe.StripeClient:
        import stripe

        if self._stripe is None:
            key = self._stripe_key or self._key_from_secret(secret_name)
            self._stripe = stripe.StripeClient(
                key,
                base_addresses={"api": self.stripe_base},
                max_network_retries=1,
                http_client=stripe.RequestsClient(timeout=15),
            )
        return self._stripe

    def _key_from_secret(self, secret_name: str) -> str:
        try:
            raw = self.secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                raise Unreachable(f"no Stripe key: secret {secret_name!r} not found (or set STRIPE_API_KEY)") from None
            raise
        try:
            key = json.loads(raw).get("api_key")
        except (ValueError, AttributeError):
            key = None
        if not key:
            raise Unreachable(f"no Stripe key: secret {secret_name!r} has no JSON field api_key "
                              "(or set STRIPE_API_KEY)")
        return str(key)
