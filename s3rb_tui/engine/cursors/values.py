"""Cursor and key values as a watermark document keeps them (JSON), read back as typed values:
to compare them (is a watermark ahead of the source?) and to refuse a document whose position
does not parse before any row is read.

A position that does not parse is never used: MySQL would compare the column with a string it
cannot convert (a warning, then NULL or 0), and the run would silently re-extract the table, or
read nothing. ``check_position`` raises a WatermarkError naming the field, the value and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.cursors.bounds import as_datetime, is_clock_cursor
from s3rb_tui.engine.core.errors import WatermarkError
from s3rb_tui.engine.core.type_families import BINARY_TYPES, DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, types_of
from s3rb_tui.engine.core.type_rules import Column, TableSchema

if TYPE_CHECKING:
    from s3rb_tui.engine.state.watermarks import Watermark

#: cursors and keys whose positions are whole numbers (YEAR too: MySQL compares it as one)
INTEGER_CURSOR_TYPES = INTEGER_TYPES + types_of("year")
# MySQL's own shape: zero dates and (ALLOW_INVALID_DATES) impossible ones are positions too
_CLOCK_SHAPE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?")


def clock_parts(value: Any) -> tuple[int, ...]:
    """A date or time as comparable numbers (year .. microsecond); ValueError when it is none."""
    if isinstance(value, (dt.date, dt.datetime)):
        moment = as_datetime(value)
        return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond)
    m = _CLOCK_SHAPE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{value!r} is not a date or time")
    *whole, fraction = m.groups()
    parts = tuple(int(g or 0) for g in whole) + (int((fraction or "0").ljust(6, "0")),)
    _year, month, day, hour, minute, second, _micro = parts
    if month > 12 or day > 31 or hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{value!r} is not a date or time")  # MySQL's own limits (zero parts are dates to MySQL)
    return parts


def typed(column: Column, value: Any) -> Any:
    """``value`` (JSON-safe) as a value of ``column``'s kind; ValueError when it is not one."""
    kind = column.data_type
    if value is None:
        return None
    if isinstance(value, (bool, list, dict)):
        raise ValueError(f"{value!r} is not a single {kind} value")
    if kind in ("datetime", "timestamp", "date"):
        return clock_parts(value)
    if kind in INTEGER_CURSOR_TYPES:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value) if not isinstance(value, str) else int(value.strip())
    if kind in DECIMAL_TYPES:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if kind in FLOAT_TYPES:
        return float(value)
    if kind in BINARY_TYPES:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not hex text")
        return bytes.fromhex(value)
    if kind == "time":
        return str(value)
    return value if isinstance(value, str) else str(value)


def kind_of(column: Column) -> str:
    if is_clock_cursor(column):
        return "'YYYY-MM-DD'" if column.data_type == "date" else "'YYYY-MM-DD HH:MM:SS[.ffffff]'"
    if column.data_type in INTEGER_CURSOR_TYPES:
        return "whole number"
    return f"{column.data_type} value"


def _refuse(table: str, what: str, value: Any, expected: str) -> WatermarkError:
    return WatermarkError(
        f"watermark for {table}: {what} {str(value)[:80]!r} is not a {expected}; a position that does not parse "
        "would re-extract or skip rows, so nothing was read",
        f"set a valid position with `s3rb-tui --run watermark set -t {table} --timestamp 'YYYY-MM-DD HH:MM:SS'`, "
        f"or `watermark reset -t {table}` for a full backup (or correct the document)",
    )


def _check_key(table: str, what: str, columns: list[Column], key: Any) -> None:
    if key is None:
        return
    if not isinstance(key, list) or len(key) != len(columns):
        raise _refuse(table, what, key, f"list of {len(columns)} value(s) ({', '.join(c.name for c in columns)})")
    for column, value in zip(columns, key):
        try:
            typed(column, value)
        except (ValueError, TypeError):
            raise _refuse(table, f"{what} value of {column.name}", value, kind_of(column)) from None


def check_position(schema: TableSchema, wm: "Watermark | None") -> None:
    """Refuse a watermark whose position cannot be read back as values of the table's columns."""
    if wm is None or not schema.incremental:
        return
    table = schema.ref.full_name
    cursor = schema.column(schema.cursor_column)  # type: ignore[arg-type]
    keys = [schema.column(k) for k in schema.order_columns[1:]]
    try:
        typed(cursor, wm.last_data_timestamp)
    except (ValueError, TypeError):
        raise _refuse(table, "last_data_timestamp", wm.last_data_timestamp, kind_of(cursor)) from None
    _check_key(table, "last_key", keys, wm.last_key)
    scan = wm.initial_scan
    if scan is not None:
        if not isinstance(scan, dict):
            raise _refuse(table, "initial_scan", scan, "JSON object")
        bound = scan.get("upper_bound")
        try:
            if is_clock_cursor(cursor):
                clock_parts(bound)
            elif bound is not None:
                typed(cursor, bound)
        except (ValueError, TypeError):
            raise _refuse(table, "initial_scan.upper_bound", bound, kind_of(cursor)) from None
        _check_key(table, "initial_scan.after_key", [schema.column(k) for k in schema.primary_key], scan.get("after_key"))


def later(column: Column, a: Any, b: Any) -> bool:
    """``a > b`` as cursor values of ``column`` (None is never later); a date compares with a
    datetime at its midnight."""
    if a is None or b is None:
        return False
    return _comparable(column, a) > _comparable(column, b)


def _comparable(column: Column, value: Any) -> Any:
    if is_clock_cursor(column):
        return clock_parts(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(str(value))
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def clock_text(value: Any) -> str:
    """A cursor value for a message: datetimes without trailing zero microseconds."""
    if isinstance(value, str) and value.endswith(".000000"):
        return value[: -len(".000000")]
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
