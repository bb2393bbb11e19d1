"""SAM ``Type: SQS`` events: Lambda's SQS event source mapping, run by the local stack.

moto has SQS but its own event source mapping invokes the function inside ``SendMessage``, one
message at a time, with made-up attributes, and ignores ``batchItemFailures``; the stack does not
register mappings with moto and polls instead, as Lambda's pollers do:

- receive up to ``BatchSize`` messages (long polling, ``AttributeNames=All``), so each receive
  counts in ``ApproximateReceiveCount`` and hides the messages for the queue's visibility timeout;
- invoke the function with Lambda's SQS event (``Records[]``: ``messageId``, ``receiptHandle``,
  ``body``, ``attributes``, ``messageAttributes``, ``md5OfBody``, ``eventSource: aws:sqs``,
  ``eventSourceARN``, ``awsRegion``);
- delete the messages that succeeded. A function error fails the whole batch; with
  ``ReportBatchItemFailures`` only the ``batchItemFailures`` listed stay (an identifier that is
  empty or not in the batch fails the whole batch, as on AWS). What stays reappears after the
  visibility timeout, and moto's SQS moves it to the dead-letter queue once it has been received
  ``maxReceiveCount`` times (the queue's ``RedrivePolicy``).

Visibility timeouts are scaled by ``--wait-time-scale`` (``wait_scale.py``), so a retry through
the queue takes 1% of its production time in the tests while the template keeps its values.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("linkflow.local.sqs")

Invoke = Callable[[str, Any], tuple[Any, bool]]
LONG_POLL_SECONDS = 1  # short enough for the stack to stop within about a second
MAX_RECEIVE = 10  # ReceiveMessage's own limit


@dataclass(frozen=True)
class SqsEventSource:
    """One SAM ``Type: SQS`` event of a function."""

    function: str  # function name
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    enabled: bool = True


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """SQS API's ``MessageAttributes`` in the shape Lambda's SQS records carry them."""
    shaped = {}
    for name, value in raw.items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        shaped[name] = entry
    return shaped


def lambda_event(messages: list[dict[str, Any]], source: SqsEventSource, region: str) -> dict[str, Any]:
    """The event Lambda invokes a function with for these received messages."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_message_ids(message_ids: list[str], result: Any, errored: bool, report: bool) -> set[str]:
    """The messages of a batch that must stay in the queue after the invocation."""
    every = set(message_ids)
    if errored:
        return every
    if not report or not result:
        return set()
    if not isinstance(result, dict):
        return every  # AWS: a response it cannot read as batchItemFailures fails the batch
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return every
    failed = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in every:
            return every  # an empty or unknown identifier fails the whole batch, as on AWS
        failed.add(item)
    return failed


class SqsPoller:
    """Polls one queue for one function until stopped."""

    def __init__(self, source: SqsEventSource, sqs: Any, invoke: Invoke, region: str,
                 poll_interval: float) -> None:
        self.source = source
        self.sqs = sqs  # a boto3 SQS client on the local endpoint
        self.invoke = invoke
        self.region = region
        self.poll_interval = poll_interval
        self.batches = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._short_poll_until = 0.0

    def start(self) -> None:
        if not self.source.enabled:
            return
        self._thread = threading.Thread(target=self._run, name=f"linkflow-sqs-{self.source.function}",
                                        daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LONG_POLL_SECONDS + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.poll_once()
            except Exception:  # the poller outlives any one failed call, as Lambda's does; logged
                if self._stop.is_set():
                    return
                log.exception("polling %s for %s failed; polling again", self.source.queue_url, self.source.function)
                handled = 0
            if not handled:
                self._stop.wait(self.poll_interval)

    def poll_once(self) -> int:
        """Receive one batch and invoke the function with it; the number of messages handled."""
        # moto's long poll notices new messages at once but messages whose visibility timeout
        # ends only about once a second: while failed messages are due back, poll short.
        wait = 0 if time.monotonic() < self._short_poll_until else LONG_POLL_SECONDS
        messages = self.sqs.receive_message(
            QueueUrl=self.source.queue_url, MaxNumberOfMessages=min(self.source.batch_size, MAX_RECEIVE),
            WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        result, errored = self.invoke(self.source.function, lambda_event(messages, self.source, self.region))
        failed = failed_message_ids([m["MessageId"] for m in messages], result, errored,
                                    self.source.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if failed:
            self._short_poll_until = time.monotonic() + self._visibility_seconds() + 1.0
        return len(messages)

    def _visibility_seconds(self) -> float:
        from . import wait_scale

        attrs = self.sqs.get_queue_attributes(QueueUrl=self.source.queue_url,
                                              AttributeNames=["VisibilityTimeout"])["Attributes"]
        return float(attrs.get("VisibilityTimeout", 30)) * wait_scale.current()


class SqsPollers:
    """The pollers of every SQS event source of the template."""

    def __init__(self, sources: list[SqsEventSource], sqs: Any, invoke: Invoke, region: str,
                 poll_interval: float) -> None:
        self.pollers = [SqsPoller(s, sqs, invoke, region, poll_interval) for s in sources]

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.request_stop()  # all at once: each may be inside a long poll
        for poller in self.pollers:
            poller.stop()
