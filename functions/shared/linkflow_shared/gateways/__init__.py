"""The ports to the systems linkflow links, each a ``Protocol`` with one real implementation."""

from .cognito import EXTERNAL_PROVIDER, UNCONFIRMED, BotoCognito, CognitoGateway, CognitoUser
from .queue import SqsQueue
from .stripe import (
    SdkStripe,
    StripeGateway,
    StripeSecret,
    build_client,
    load_stripe_secret,
    load_webhook_secrets,
    stripe_client,
)

__all__ = [
    "EXTERNAL_PROVIDER",
    "UNCONFIRMED",
    "BotoCognito",
    "CognitoGateway",
    "CognitoUser",
    "SdkStripe",
    "SqsQueue",
    "StripeGateway",
    "StripeSecret",
    "build_client",
    "load_stripe_secret",
    "load_webhook_secrets",
    "stripe_client",
]
