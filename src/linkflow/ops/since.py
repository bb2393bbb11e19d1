"""``--since``: a relative age (``30m``, ``2h``, ``7d``) or an absolute date/time, as a UTC instant."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from .errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FORMS = "an age like 30m, 2h, 7d (s, m, h, d, w) or a date/time like 2026-11-01 or 2026-11-01T09:30:00Z"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The instant ``text`` names; naive dates and times are UTC. :class:`UsageError` if garbage."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        amount = int(match.group(1))
        if amount == 0:
            raise UsageError(f"--since {text!r}: the age must be more than zero")
        return now - timedelta(**{_UNITS[match.group(2).lower()]: amount})
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected {FORMS}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
