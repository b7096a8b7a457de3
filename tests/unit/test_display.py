"""One format per kind of value (issue 13): lag, sizes, keys and times as both front ends show them."""

import datetime as dt

import pytest

from s3rb_tui import display


@pytest.mark.parametrize("seconds,shown", [
    (None, "-"), (0, "0s"), (59.9, "59s"), (61, "1m"), (3599, "59m"), (3661, "1h01m"), (86399, "23h59m"),
    (90000, "1d01h"), (15 * 86400 + 4 * 3600, "15d04h"),
    (7594 * 86400 + 15 * 3600, "20y294d"),  # the "7594d15h" / "21 years": one form, both units
    (-5, "-5s"),
])
def test_lag(seconds, shown):
    assert display.lag(seconds) == shown


@pytest.mark.parametrize("n,shown", [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"),
                                     (5 * 1024 ** 2, "5.0 MiB"), (3 * 1024 ** 4, "3.0 TiB")])
def test_size(n, shown):
    assert display.size(n) == shown  # never humanize's "0 Bytes"


@pytest.mark.parametrize("value,shown", [([199], "199"), ((10, 3), "10, 3"), ("A-1", "A-1"), (None, "-"), ([], "-")])
def test_key(value, shown):
    assert display.key(value) == shown  # never "[199]"


def test_times_are_utc_in_one_style():
    assert display.moment("2025-08-09T20:00:01.123456Z") == "2025-08-09 20:00:01 UTC"
    assert display.moment("2025-08-09T22:00:01+02:00") == "2025-08-09 20:00:01 UTC"
    assert display.moment(dt.datetime(2025, 8, 9, 20, 0, 1, tzinfo=dt.timezone.utc)) == "2025-08-09 20:00:01 UTC"
    assert display.moment(None) == "-"
    assert display.data_timestamp("2025-08-09 20:00:01.000000") == "2025-08-09 20:00:01 UTC"
    assert display.data_timestamp("2025-08-09 20:00:01.250000") == "2025-08-09 20:00:01.250000 UTC"
    assert display.data_timestamp(1234567) == "1,234,567"  # an integer cursor
    # what is printed reads back as the same moment
    assert display.parse_moment(display.data_timestamp("2025-08-09 20:00:01.250000")) == dt.datetime(2025, 8, 9, 20, 0, 1, 250000, tzinfo=dt.timezone.utc)


def test_durations_rates_counts():
    assert [display.duration(s) for s in (None, 0.42, 12, 125, 3725)] == ["-", "0.4s", "12.0s", "2m05s", "1h02m"]
    assert display.rate(12345.6) == "12,346 rows/s" and display.count(1234567) == "1,234,567" and display.count(None) == "-"


def test_table_text():
    assert display.table_text([("a", 1), ("bb", None)], ("name", "n")) == "name  n\n----  -\na     1\nbb    -"


def test_a_printed_data_timestamp_is_accepted_by_watermark_set():
    from s3rb_tui.engine.core.timestamps import parse_timestamp

    shown = display.data_timestamp("2025-08-09 20:00:01.250000")
    assert parse_timestamp(shown) == dt.datetime(2025, 8, 9, 20, 0, 1, 250000)


def test_the_dashboards_last_run_shortens_a_long_host_and_keeps_a_short_one():
    import datetime as dt

    from s3rb_tui.display import run_label, short_where

    now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc)
    assert short_where("cron@etl-2") == "cron@etl-2"
    assert short_where("cron@etl-2.corp.example.com") == "cron@etl-2"
    assert short_where("console@etl-worker-prod-eu-west-1.internal") == "console@etl-worke…"
    label = run_label("console@etl-worker-prod-eu-west-1.internal", "2026-12-02T02:00:00Z", "failed", now, short=True)
    assert label == "console@etl-worke… 02:00 failed" and len(label) <= 32  # the column's max width: one line at 120 columns
    assert run_label("cron@etl-2", "2026-12-02T02:00:00Z", "failed", now) == "cron@etl-2 02:00 failed"
