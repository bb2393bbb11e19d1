"""Find, list and read the executions of the stack's state machines."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import UsageError
from .stack import StackResources
from .timeline import FAILED_STATUSES, Timeline, build_timeline, event_details, iso

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        ExecutionListItemTypeDef,
        HistoryEventTypeDef,
    )

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_EXECUTION_ARN = re.compile(r"^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}):execution:([^:\s]+):([^:\s]+)$")
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/]{1,80}$")
HISTORY_PAGE_SIZE = 1000  # GetExecutionHistory's maximum
# RedriveExecution accepts an execution for 14 days after it stopped (a hard Step Functions quota).
REDRIVE_WINDOW = timedelta(days=14)


@dataclass
class ExecutionSummary:
    arn: str
    name: str
    machine: str
    status: str
    start: datetime
    stop: datetime | None = None
    redrive_count: int = 0
    failed_state: str | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float:
        end = self.stop or datetime.now(UTC)
        return round((end - self.start).total_seconds(), 3)

    @property
    def redrive_deadline(self) -> datetime | None:
        """Until when RedriveExecution accepts it; None unless it failed, timed out or was aborted."""
        if self.status not in FAILED_STATUSES or self.stop is None:
            return None
        return self.stop + REDRIVE_WINDOW

    def redrive_days_left(self, now: datetime | None = None) -> float | None:
        """Days (rounded down to a tenth, 0 once closed) until the redrive window closes."""
        deadline = self.redrive_deadline
        if deadline is None:
            return None
        left = (deadline - (now or datetime.now(UTC))).total_seconds() / 86400
        return max(0.0, math.floor(left * 10) / 10)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "name": self.name, "execution_arn": self.arn, "machine": self.machine, "status": self.status,
            "start_date": iso(self.start), "stop_date": iso(self.stop), "duration_s": self.duration_s,
            "redrive_count": self.redrive_count, "failed_state": self.failed_state, "error": self.error,
            "redrive_deadline": iso(self.redrive_deadline), "redrive_days_left": self.redrive_days_left(now),
        }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(sfn: SFNClient, arn: str) -> DescribeExecutionOutputTypeDef | None:
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if _code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise


def _execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def check_ref(ref: str) -> str:
    """``ref`` stripped, if it has the shape of an execution ARN or name; :class:`UsageError` if not."""
    ref = ref.strip()
    if ref.startswith("arn:"):
        if _EXECUTION_ARN.match(ref) is None:
            raise UsageError(f"malformed execution ARN {ref!r} "
                             "(expected arn:aws:states:<region>:<account>:execution:<machine>:<name>)")
    elif not _NAME.match(ref):
        raise UsageError(f"{ref!r} is neither an execution ARN nor an execution name")
    return ref


def resolve(sfn: SFNClient, stack: StackResources, ref: str,
            machine: str | None = None) -> tuple[str, DescribeExecutionOutputTypeDef]:
    """``(machine key, DescribeExecution answer)`` for an execution ARN or a bare execution name.

    A name is looked up in every state machine of the stack (or the one ``machine`` selects).
    """
    machines = stack.selected(machine)
    ref = check_ref(ref)
    if ref.startswith("arn:"):
        match = _EXECUTION_ARN.match(ref)
        assert match is not None
        machine_arn = f"{match.group(1)}:stateMachine:{match.group(2)}"
        key = stack.machine_of(machine_arn)
        if key is None or key not in machines:
            ours = " or ".join(arn.rsplit(":", 1)[-1] for arn in machines.values())
            raise UsageError(f"{ref} is an execution of state machine {match.group(2)}, "
                             f"not of stack {stack.name!r} ({ours})")
        desc = _describe(sfn, ref)
        if desc is None:
            raise UsageError(f"unknown execution {ref}")
        return key, desc
    found = [(key, desc) for key, arn in machines.items() if (desc := _describe(sfn, _execution_arn(arn, ref)))]
    if not found:
        raise UsageError(f"unknown execution: no execution named {ref!r} in {' or '.join(machines)}")
    if len(found) > 1:
        raise UsageError(f"execution name {ref!r} exists in {' and '.join(k for k, _ in found)}: pass the ARN")
    return found[0]


def history(sfn: SFNClient, arn: str, page_size: int = HISTORY_PAGE_SIZE) -> list[HistoryEventTypeDef]:
    """Every event of the execution, oldest first, following ``nextToken`` to the end."""
    events: list[HistoryEventTypeDef] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn, PaginationConfig={"PageSize": page_size}):
        events.extend(page["events"])
    return events


def timeline(sfn: SFNClient, arn: str, page_size: int = HISTORY_PAGE_SIZE) -> Timeline:
    return build_timeline(history(sfn, arn, page_size))


def where_it_failed(sfn: SFNClient, arn: str) -> tuple[str | None, str | None]:
    """``(failed state, error)`` from the end of the history, without reading all of it."""
    exited: set[str] = set()
    error: str | None = None
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": 50}):
        for event in page["events"]:
            kind = event["type"]
            if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted") and error is None:
                error = event_details(event).get("error") or kind.removeprefix("Execution").upper()
            elif kind.endswith("StateExited") and "stateExitedEventDetails" in event:
                exited.add(event["stateExitedEventDetails"]["name"])
            elif kind.endswith("StateEntered") and "stateEnteredEventDetails" in event:
                name = event["stateEnteredEventDetails"]["name"]
                if name not in exited:
                    return name, error
    return None, error


def _summary(item: ExecutionListItemTypeDef, machine: str) -> ExecutionSummary:
    return ExecutionSummary(arn=item["executionArn"], name=item["name"], machine=machine, status=item["status"],
                            start=item["startDate"], stop=item.get("stopDate"),
                            redrive_count=int(item.get("redriveCount") or 0))


def _listed(sfn: SFNClient, machine_arn: str, status: str | None,
            since: datetime | None) -> Iterator[ExecutionListItemTypeDef]:
    params: dict[str, Any] = {"stateMachineArn": machine_arn, "PaginationConfig": {"PageSize": 100}}
    if status:
        params["statusFilter"] = status
    for page in sfn.get_paginator("list_executions").paginate(**params):
        for item in page["executions"]:
            if since is not None and item["startDate"] < since:
                return  # ListExecutions answers newest first: everything after is older
            yield item


def list_executions(
    sfn: SFNClient, stack: StackResources, *, machine: str | None = None, statuses: tuple[str, ...] = (),
    since: datetime | None = None, limit: int | None = None, with_failure: bool = True,
) -> list[ExecutionSummary]:
    """Executions of the selected machines, newest first; ``with_failure`` adds where failed ones stopped."""
    found: list[ExecutionSummary] = []
    for key, machine_arn in stack.selected(machine).items():
        for status in statuses or (None,):
            for count, item in enumerate(_listed(sfn, machine_arn, status, since)):
                if limit is not None and count >= limit:
                    break
                found.append(_summary(item, key))
    found.sort(key=lambda s: s.start, reverse=True)
    if limit is not None:
        found = found[:limit]
    if with_failure:
        for summary in found:
            if summary.status in FAILED_STATUSES:
                summary.failed_state, summary.error = where_it_failed(sfn, summary.arn)
    return found
