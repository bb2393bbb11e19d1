"""SQS, as linkflow uses it: the durable queue of onboarding starts Step Functions refused."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import OnboardingStartFailed, error_code
from ..models import Model

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsQueue:
    """``StartQueue`` on an SQS queue: one message per start, the execution input in its body."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def put(self, onboarding: Model, *, reason: str) -> None:
        body = json.dumps({"onboarding": onboarding.dump(), "reason": reason})
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=body)
        except ClientError as exc:
            raise OnboardingStartFailed(f"StartExecution failed and the start could not be queued "
                                        f"({error_code(exc)}): {reason}") from exc
        except BotoCoreError as exc:
            raise OnboardingStartFailed(f"StartExecution failed and SQS could not be reached "
                                        f"({type(exc).__name__}): {reason}") from exc
