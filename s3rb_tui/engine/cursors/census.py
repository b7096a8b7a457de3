"""Rows a watermark cannot see, counted every run so that none is dropped without a word.

- **Future cursors**: a row whose cursor is later than the source's clock (``now + 10 min``, or
  ``9999-12-31``) is beyond every run's bound until the clock passes it — for ``9999-12-31``,
  for ever. Each run counts them (cursor later than the clock in the cursor's zone).
- **NULL cursors**: only a table's initial full backup takes rows whose cursor is NULL (they sort
  before every value). After it, each run counts the NULL-cursor rows in the table and warns with
  the count: rows inserted or changed with a NULL cursor since are not backed up. (The count
  cannot tell the rows the initial backup took from later ones, so the warning stays while any
  NULL-cursor row is in the table: give them a cursor value.)
- **A watermark ahead of the source**: a watermark later than the newest cursor in the source
  and than its clock (``watermark set --timestamp 2099-...``, a document edited by hand) skips
  every row changed until then. ``ahead_warning`` says so — in ``watermark set``'s plan, in every
  run, and to the console's watermark wizard (``ops.watermark_changes.ahead_of_source``).

The counts are three index lookups on the cursor column (MAX, a range after the clock, IS NULL)
in one round trip: with the (cursor, key) index that keyset extraction needs, they cost rows
counted, not the table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from s3rb_tui.engine.cursors.bounds import RunBound, is_clock_cursor
from s3rb_tui.engine.cursors.values import clock_text, later
from s3rb_tui.engine.core.type_rules import TableSchema


def census_sql(table_sql: str, cursor_sql: str, clock_value: Any, placeholder: str) -> tuple[str, list[Any]]:
    """(newest cursor, rows later than ``clock_value``, the latest of those, NULL-cursor rows);
    no clock (an integer cursor): no future rows."""
    beyond = (f"(SELECT COUNT(*) FROM {table_sql} WHERE {cursor_sql} > {placeholder}), "
              f"(SELECT MAX({cursor_sql}) FROM {table_sql} WHERE {cursor_sql} > {placeholder})")
    sql = (f"SELECT (SELECT MAX({cursor_sql}) FROM {table_sql}), {beyond if clock_value is not None else '0, NULL'}, "
           f"(SELECT COUNT(*) FROM {table_sql} WHERE {cursor_sql} IS NULL)")
    return sql, ([clock_value, clock_value] if clock_value is not None else [])


@dataclass(frozen=True)
class CursorCensus:
    newest: Any  # the newest cursor value in the source (None: no row has one)
    future_rows: int  # rows with a cursor later than the source's clock
    future_latest: Any
    null_rows: int
    clock: Any  # the clock they were compared with (in the cursor's zone), None for integer cursors

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def take_census(source: Any, schema: TableSchema, bound: RunBound) -> CursorCensus:
    newest, future, latest, nulls = source.census(schema, bound.clock)
    return CursorCensus(newest=newest, future_rows=future, future_latest=latest, null_rows=nulls, clock=bound.clock)


def ahead_warning(schema: TableSchema, watermark_cursor: Any, census: CursorCensus) -> str | None:
    """A warning when ``watermark_cursor`` is later than the newest cursor in the source and (for a
    clock cursor) than the source's clock: the rows changed until then would be skipped."""
    column = schema.column(schema.cursor_column)  # type: ignore[arg-type]
    if watermark_cursor is None or census.newest is None and not is_clock_cursor(column):
        return None
    newest = census.newest
    if newest is not None and not later(column, watermark_cursor, newest):
        return None
    if is_clock_cursor(column) and not later(column, watermark_cursor, census.clock):
        return None  # the newest rows were deleted; new ones get today's cursor, after it
    table = schema.ref.full_name
    than = f"the newest {column.name} in the source ({clock_text(newest)})" if newest is not None else "every row in the source"
    if is_clock_cursor(column):
        than += f" and of its clock ({clock_text(census.clock)})"
    return (f"the watermark ({clock_text(watermark_cursor)}) is ahead of {than}: rows changed until then are skipped; "
            f"set it back with `s3rb-tui --run watermark set -t {table} --timestamp ...` or `watermark reset -t {table}`")


def census_warnings(schema: TableSchema, census: CursorCensus, watermark_cursor: Any, first_backup: bool) -> list[str]:
    column = schema.cursor_column
    out = []
    if census.future_rows:
        out.append(f"{census.future_rows} rows have {column} later than the source's clock ({clock_text(census.clock)}), "
                   f"the latest {clock_text(census.future_latest)}: every run leaves them out until the clock passes them; "
                   "check the writers' clocks and DB_DATETIME_ZONE")
    if census.null_rows and not first_backup:
        out.append(f"{census.null_rows} rows have a NULL {column}: only the table's initial full backup takes such rows, "
                   f"so rows inserted or changed with a NULL {column} after it are not backed up; give them a {column} "
                   f"value, or `watermark reset -t {schema.ref.full_name}` for a new full backup")
    ahead = ahead_warning(schema, watermark_cursor, census)
    if ahead:
        out.append(ahead)
    return out
