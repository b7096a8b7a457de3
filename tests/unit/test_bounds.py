"""The run's bound (engine/cursors/bounds.py): one precision rule for every cursor type, the oldest open
writing transaction, the lag, and the zone DATETIME cursors are written in."""

from __future__ import annotations

import datetime as dt

import pytest

from s3rb_tui.engine.cursors.bounds import OpenTransaction, SourceClock, cursor_bound, run_bound, zone_offset
from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.core.table_names import TableRef

NOW = dt.datetime(2026, 3, 1, 12, 0, 5, 678901)


@pytest.mark.parametrize(("data_type", "precision", "expected"), [
    ("date", 0, "2026-02-28"),
    ("datetime", 0, "2026-03-01 12:00:04.000000"),
    ("timestamp", 0, "2026-03-01 12:00:04.000000"),
    ("datetime", 1, "2026-03-01 12:00:05.500000"),
    ("datetime", 3, "2026-03-01 12:00:05.677000"),
    ("timestamp", 6, "2026-03-01 12:00:05.678900"),
])
def test_a_cursor_is_bounded_at_the_last_complete_unit_of_its_precision(data_type, precision, expected):
    column = Column("updated_at", data_type, precision=precision)
    assert cursor_bound(column, NOW) == expected
    assert cursor_bound(column, NOW.strftime("%Y-%m-%d %H:%M:%S.%f")) == expected  # as the watermark keeps it


def test_integer_cursors_keep_a_numeric_bound_and_ignore_the_clock():
    column = Column("update_time", "bigint")
    assert cursor_bound(column, 1299) == 1299
    assert cursor_bound(column, NOW) is None and cursor_bound(column, "2026-01-01 00:00:00") is None
    assert cursor_bound(column, None) is None


def _schema(data_type: str, precision: int = 0) -> TableSchema:
    return TableSchema(TableRef("db", "t"), (Column("id", "int"), Column("updated_at", data_type, precision=precision)),
                       primary_key=("id",), cursor_column="updated_at")


def test_the_oldest_open_writer_holds_the_bound_back_and_the_lag_is_a_margin():
    writer = OpenTransaction(42, dt.datetime(2026, 3, 1, 11, 59, 0))
    held = run_bound(_schema("timestamp", 6), SourceClock(NOW, "UTC", transactions=True, oldest_writer=writer), 0)
    assert held.limited_by == "open transaction" and held.cursor_bound == "2026-03-01 11:58:59.999999"
    assert "MySQL thread 42" in held.text() and held.warnings == ()
    lagged = run_bound(_schema("timestamp", 6), SourceClock(NOW, "UTC", transactions=True, oldest_writer=writer), 3600)
    assert lagged.limited_by == "lag" and lagged.moment == "2026-03-01 11:00:05.678901"


def test_without_the_transaction_view_the_bound_is_the_lag_and_the_run_says_why():
    clock = SourceClock(NOW, "UTC", transactions=False, why_not="the user lacks the PROCESS privilege")
    bound = run_bound(_schema("datetime"), clock, 60, user="reader")
    [warning] = bound.warnings
    assert "PROCESS privilege" in warning and "BACKUP_LAG_SECONDS (60 s)" in warning and "TO 'reader'" in warning


def test_datetime_cursors_are_bounded_in_their_zone_timestamps_in_utc():
    clock = SourceClock(NOW, "+09:00", zone_offset=dt.timedelta(hours=9))
    assert run_bound(_schema("datetime"), clock, 0).cursor_bound == "2026-03-01 21:00:04.000000"
    assert run_bound(_schema("date"), clock, 0).cursor_bound == "2026-02-28"
    assert run_bound(_schema("timestamp"), clock, 0).cursor_bound == "2026-03-01 12:00:04.000000"


def test_zone_offsets_without_a_server():
    assert zone_offset("", NOW) == zone_offset("UTC", NOW) == dt.timedelta(0)
    assert zone_offset("-05:30", NOW) == -dt.timedelta(hours=5, minutes=30)
    assert zone_offset("Asia/Tokyo", NOW) == dt.timedelta(hours=9)
    with pytest.raises(ValueError):
        zone_offset("Mars/Olympus", NOW)


@pytest.mark.parametrize(("data_type", "precision", "value"), [
    ("date", 0, "2026-02-28"), ("datetime", 0, "2026-03-01 12:00:04"), ("timestamp", 6, "2026-03-01 12:00:05.678900"),
    ("datetime", 3, "2026-03-01 12:00:05.677000"),
])
def test_the_moment_reading_a_cursor_value_bounds_exactly_at_it(data_type, precision, value):
    from s3rb_tui.engine.cursors.bounds import moment_reading

    column = Column("updated_at", data_type, precision=precision)
    assert cursor_bound(column, moment_reading(column, value)).startswith(value)
