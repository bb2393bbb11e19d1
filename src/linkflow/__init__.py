"""linkflow: Cognito users, DynamoDB profiles/entitlements and Stripe customers kept linked."""

__version__ = "0.1.0"
