"""EventBridge Scheduler schedules of the template (``AWS::Scheduler::Schedule``), run locally.

Every schedule is provisioned: recorded in ``local.json`` with its expression, target and input.
They fire on their own only when the stack runs with ``--schedules`` (a reconcile every 15 minutes
is not what a developer's laptop wants by default); ``linkflow local schedule fire <name>`` fires one
now, either way. Firing starts the target (a state machine: StartExecution with the schedule's
``Input``, under a generated name as the Scheduler does) through the local AWS endpoint.

Expressions: ``rate(N minute|minutes|hour|hours|day|days)``, ``cron(min hour dom month dow year)``
with numbers, ``*``, ``?``, lists, ranges and steps (UTC; ``L``, ``W`` and ``#`` are refused), and
``at(yyyy-mm-ddThh:mm:ss)``. ``FlexibleTimeWindow`` is ignored: a schedule fires at its time.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("linkflow.local.schedules")
UTC = datetime.UTC
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                       "DEC"), start=1)}


class ScheduleError(ValueError):
    """An expression or target the local stack cannot run."""


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    name: str
    arn: str
    expression: str
    target_arn: str
    input: str
    state: str = "ENABLED"

    def to_json(self) -> dict[str, str]:
        return {"logical_id": self.logical_id, "name": self.name, "arn": self.arn, "expression": self.expression,
                "target_arn": self.target_arn, "input": self.input, "state": self.state}


def next_fire(expression: str, after: datetime.datetime) -> datetime.datetime | None:
    """The first time strictly after ``after`` (UTC) that ``expression`` fires; ``None``: never again."""
    rate = _RATE.match(expression.strip())
    if rate:
        step = int(rate.group(1)) * _UNITS[rate.group(2).rstrip("s")]
        if step <= 0:
            raise ScheduleError(f"{expression}: a rate must be positive")
        return after + datetime.timedelta(seconds=step)
    if expression.startswith("at(") and expression.endswith(")"):
        when = datetime.datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)
        return when if when > after else None
    if expression.startswith("cron(") and expression.endswith(")"):
        return _next_cron(expression[5:-1].split(), after)
    raise ScheduleError(f"{expression}: not a rate(), cron() or at() expression")


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows (``None``: any)."""
    if text in ("*", "?"):
        return None
    if any(c in text for c in "LW#"):
        raise ScheduleError(f"cron field {text!r}: L, W and # are not run locally")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        for name, number in (names or {}).items():
            base = base.upper().replace(name, str(number))
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = int(base)
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def _next_cron(fields: list[str], after: datetime.datetime) -> datetime.datetime | None:
    if len(fields) != 6:
        raise ScheduleError(f"cron({' '.join(fields)}): six fields expected (min hour dom month dow year)")
    minutes, hours = _field(fields[0], 0, 59), _field(fields[1], 0, 23)
    days, months = _field(fields[2], 1, 31), _field(fields[3], 1, 12, _MONTHS)
    weekdays, years = _field(fields[4], 1, 7, _DOW), _field(fields[5], 1970, 2199)
    moment = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    for _ in range(366 * 24 * 60 * 2):  # two years of minutes at most
        weekday = moment.isoweekday() % 7 + 1  # cron: SUN=1 ... SAT=7
        if ((years is None or moment.year in years) and (months is None or moment.month in months)
                and (days is None or moment.day in days) and (weekdays is None or weekday in weekdays)
                and (hours is None or moment.hour in hours) and (minutes is None or moment.minute in minutes)):
            return moment
        moment += datetime.timedelta(minutes=1)
    return None


class Scheduler:
    """The template's schedules; a thread fires them at their times once :meth:`start` is called."""

    def __init__(self, schedules: list[Schedule], start_execution: Callable[..., dict[str, Any]],
                 clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(tz=UTC)) -> None:
        self.schedules = {s.logical_id: s for s in schedules}
        self._start_execution = start_execution
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next: dict[str, datetime.datetime | None] = {}
        self.fired: list[dict[str, str]] = []
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def find(self, key: str) -> Schedule:
        """A schedule by its name, logical id or ARN."""
        for schedule in self.schedules.values():
            if key in (schedule.name, schedule.logical_id, schedule.arn):
                return schedule
        raise KeyError(f"no schedule named {key!r} (known: {', '.join(sorted(self.schedules))})")

    def fire(self, key: str, *, why: str = "fired by hand") -> dict[str, str]:
        """Start the schedule's target now with its input; answers the execution started."""
        schedule = self.find(key)
        if ":states:" not in schedule.target_arn or ":stateMachine:" not in schedule.target_arn:
            raise ScheduleError(f"{schedule.name}: only state machine targets are run locally")
        started = self._start_execution(stateMachineArn=schedule.target_arn, name=str(uuid.uuid4()),
                                        input=schedule.input)
        record = {"schedule": schedule.name, "logical_id": schedule.logical_id,
                  "executionArn": str(started["executionArn"]), "why": why,
                  "time": self._clock().isoformat()}
        with self._lock:
            self.fired.append(record)
        LOG.info("schedule %s %s: %s", schedule.name, why, record["executionArn"])
        return record

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for logical_id, schedule in sorted(self.schedules.items()):
            when = self._next.get(logical_id)
            out.append({**schedule.to_json(), "fires_on_its_own": self.running,
                        "next_fire": when.isoformat() if when and self.running else None})
        return out

    def start(self) -> None:
        now = self._clock()
        for logical_id, schedule in self.schedules.items():
            self._next[logical_id] = next_fire(schedule.expression, now) if schedule.state == "ENABLED" else None
        self._thread = threading.Thread(target=self._loop, name="linkflow-schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            for logical_id, when in list(self._next.items()):
                if when is not None and when <= now:
                    schedule = self.schedules[logical_id]
                    self._next[logical_id] = next_fire(schedule.expression, now)
                    try:
                        self.fire(logical_id, why="fired on schedule")
                    except Exception:  # a failed start must not end the scheduler: said, then the next one
                        LOG.exception("schedule %s could not start its target", schedule.name)
            upcoming = [w for w in self._next.values() if w is not None]
            wait = min((w - self._clock()).total_seconds() for w in upcoming) if upcoming else 60.0
            self._stop.wait(max(0.05, min(wait, 60.0)))
