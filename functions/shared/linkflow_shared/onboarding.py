"""The onboarding workflow: how it starts and the steps of its state machine.

Each step takes one parsed input and its clients/tables as arguments and returns one model; the
handlers in ``functions/*/app.py`` only parse, call and dump. Every step is idempotent: Step
Functions retries it and a redrive re-runs the failed one.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from .errors import OnboardingStartFailed, error_code
from .models import OnboardingInput, ProfileRecord, utc_now
from .profiles import put_new_profile


def onboarding_execution_name(sub: str) -> str:
    """The onboarding execution of a user is named by its sub: one execution per user, ever."""
    return sub


def start_onboarding(sfn: Any, state_machine_arn: str, onboarding: OnboardingInput) -> bool:
    """Start the user's onboarding execution; False if it was started before (Cognito retried).

    The input holds no timestamp, so a start repeated while the execution runs returns the same
    execution; a start after it closed raises ``ExecutionAlreadyExists``, which is not an error.
    """
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=onboarding_execution_name(onboarding.sub),
            input=json.dumps(onboarding.dump()),
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise OnboardingStartFailed(f"StartExecution failed ({error_code(exc)})") from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise OnboardingStartFailed(f"Step Functions could not be reached: {exc}") from exc
    return True


def write_profile(onboarding: OnboardingInput, *, profiles_table: Any) -> ProfileRecord:
    """Create the user's profile (without a Stripe customer yet); an existing one is kept."""
    now = utc_now()
    profile = ProfileRecord(
        user_id=onboarding.sub,
        email=onboarding.email,
        given_name=onboarding.given_name,
        family_name=onboarding.family_name,
        providers=onboarding.providers,
        created_at=now,
        updated_at=now,
    )
    return put_new_profile(profiles_table, profile)
