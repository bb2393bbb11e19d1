"""Public AWS list prices (us-east-1) the cost figures use, and the cost of one sign-up.

Checked against the AWS pricing pages (Step Functions, Lambda, DynamoDB, S3) for us-east-1; free
tiers are ignored (a cost per million sign-ups is past any free tier).
"""

from __future__ import annotations

from typing import Any

PRICES: dict[str, Any] = {
    "region": "us-east-1",
    "step_functions_standard_per_state_transition_usd": 0.025 / 1000,
    "lambda_per_request_usd": 0.20 / 1_000_000,
    "lambda_per_gb_second_usd": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "dynamodb_on_demand_per_write_request_unit_usd": 0.625 / 1_000_000,
    # Reconcile (bench/reconcile.py): DynamoDB scans, S3 snapshots. Sources, us-east-1 list prices:
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (reads: 1 RRU per 4 KB strongly consistent,
    # half for eventually consistent scans) and https://aws.amazon.com/s3/pricing/ (S3 Standard).
    "dynamodb_on_demand_per_read_request_unit_usd": 0.125 / 1_000_000,
    "s3_put_per_request_usd": 0.005 / 1000,
    "s3_get_per_request_usd": 0.0004 / 1000,
    "s3_standard_per_gb_month_usd": 0.023,
    "notes": ("Standard workflows bill every state entered and every retry attempt; Lambda bills each request "
              "and its duration rounded up to 1 ms at the function's memory; DynamoDB on-demand bills 1 WRU "
              "per write of up to 1 KB (2 per transactional write). Cognito (per monthly active user) and "
              "Secrets Manager reads (cached 5 min in every function) are not per sign-up and are left out. "
              "Distributed Map child executions (Standard) bill their state transitions like any execution; "
              "S3 bills PUT/LIST at the PUT price, GET at the GET price, storage per GB-month."),
}


def lambda_gb_seconds(durations_ms: dict[str, float], memory_mb: dict[str, int]) -> float:
    """GB-s of one invocation of each function (duration rounded up to 1 ms, as Lambda bills)."""
    import math

    return sum(math.ceil(ms) / 1000 * memory_mb[name] / 1024 for name, ms in durations_ms.items())


def cost_per_signup(*, transitions: float, invocations: float, gb_seconds: float, write_units: float,
                    architecture: str) -> dict[str, float]:
    parts = {
        "step_functions": transitions * PRICES["step_functions_standard_per_state_transition_usd"],
        "lambda_requests": invocations * PRICES["lambda_per_request_usd"],
        "lambda_duration": gb_seconds * PRICES["lambda_per_gb_second_usd"][architecture],
        "dynamodb_writes": write_units * PRICES["dynamodb_on_demand_per_write_request_unit_usd"],
    }
    parts["total"] = sum(parts.values())
    return parts
