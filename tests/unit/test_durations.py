"""Command-line ages: what is accepted, and a one-line UsageError (exit 2) for the rest."""

from __future__ import annotations

import datetime as dt

import pytest

from s3rb_tui.engine.core.durations import format_duration, parse_duration
from s3rb_tui.engine.core.errors import UsageError


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7d", dt.timedelta(days=7)),
        ("24h", dt.timedelta(hours=24)),
        ("30m", dt.timedelta(minutes=30)),
        ("45s", dt.timedelta(seconds=45)),
        ("2w", dt.timedelta(weeks=2)),
        (" 7D ", dt.timedelta(days=7)),
        ("90d", dt.timedelta(days=90)),
    ],
)
def test_valid_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-7d", "7.5d", "7 days", "1d2h", "0d", "9999999d", None])
def test_invalid_durations_are_usage_errors(text):
    with pytest.raises(UsageError) as info:
        parse_duration(text)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    assert "--older-than" in str(info.value)


def test_format_duration_round_trips_the_short_forms():
    assert format_duration(dt.timedelta(days=7)) == "7d"
    assert format_duration(dt.timedelta(days=1, hours=2)) == "1d 2h"
    assert format_duration(parse_duration("30m")) == "30m"
    assert format_duration(dt.timedelta(0)) == "0s"
