"""``--since``: ages and dates to UTC instants, garbage refused as a usage error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from linkflow.ops.errors import EXIT_USAGE, UsageError
from linkflow.ops.since import parse_since

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ago"), [
    ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("7d", timedelta(days=7)),
    ("45s", timedelta(seconds=45)), ("1w", timedelta(weeks=1)), (" 3H ", timedelta(hours=3)),
])
def test_relative_ages_count_back_from_now(text, ago):
    assert parse_since(text, now=NOW) == NOW - ago


def test_a_date_is_midnight_utc():
    assert parse_since("2026-11-01", now=NOW) == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01T09:30:00Z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ("2026-11-01T09:30:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ("2026-11-01T10:30:00+01:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ("2026-11-01 09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
])
def test_iso_times_are_converted_to_utc(text, expected):
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["garbage", "", "2h30", "-2h", "0m", "2026-13-01", "yesterday", "10 parsecs"])
def test_garbage_is_a_usage_error(text):
    with pytest.raises(UsageError) as exc:
        parse_since(text, now=NOW)
    assert exc.value.exit_code == EXIT_USAGE
    assert "--since" in str(exc.value)
