"""Keyset pagination: the one home of how a source orders its rows and finds "the rows after".

Extraction is keyset-paginated on (cursor column, primary key...): each page is the rows strictly
after the last position read, ``ORDER BY`` cursor, key ``LIMIT n``, so rows sharing one cursor
value are never skipped or repeated at a batch edge. Rows whose cursor is NULL sort first (as
MySQL and SQLite both order NULLs first ascending) and are only taken by a table's first full
backup. A first full backup may instead be an initial scan in primary-key order
(``sources.base.InitialScan``), paged the same way on the key alone.

**One expression per column.** A page edge, a stripe bound or a scan's end is exact only when,
for every column of the order, the WHERE's "after v" means what the ORDER BY's "sorts after v"
means. ``Keyset`` builds both clauses of a table from the same column reference, and a dialect's
``KeyRules`` says how a column compares with a position value *in the order the column sorts*.
What broke that against MariaDB (issue 18), and the rule that holds it now:

- ``ORDER BY `k``` names a select-list alias before a column: the fast path selects TIME, INET6,
  UUID and DECIMALs wider than its transport as ``CAST(k AS CHAR) AS k``, so its pages were sorted
  as text and compared as values (rows repeated with several chunks, lost with one). Every
  reference here is qualified by its table (```db`.`t`.`k```), which no alias can capture.
- ENUM sorts by its number and SET by its bit mask, but both compare with a string as strings
  (``PRIMARY KEY (k ENUM('zulu','alpha','mike'), n)``, 150 tied rows, batch 20: 50 rows read).
  Equality stays a comparison with the label (a range on the key index); "after" is, for an ENUM,
  ``k IN (the labels defined after it)`` (index ranges: one index read per page on 30,000 rows,
  where ``k > 2`` walks the index from its start, 29,668 reads) and, for a SET, ``k > mask``
  (numeric: a SET's 2^64 values cannot be listed).
- A FLOAT position must be the stored single-precision value: MariaDB's text protocol prints 6
  digits (1.0000001192 -> 1), so ``k > 1`` took the same row again (batch size 1: forever). The
  type rule reads ``k + 0e0`` (the exact double), and MariaDB compares that literal exactly.
- Integers are bound as integers, decimals as decimals, binary keys as bytes: never as text
  (MySQL compares an integer column with a string as DOUBLE, where 2^53 + 1 = 2^53).

Positions are JSON-safe (they are kept in the watermark document): datetimes become
``'YYYY-MM-DD HH:MM:SS.ffffff'``, dates ``'YYYY-MM-DD'``, decimals strings, binary keys hex,
ENUM and SET values their labels. ``KeyRules.param`` turns them back into parameters.

**The rest of the cursor rules live here too**, so that every source (SQLite, MySQL read by
pymysql, MySQL read by connectorx) applies them alike (``tests/integration/test_source_contract.py``
holds them to it): which types a cursor may have and which column is one (``table_keys``: cursor
detection and the key override of s3rb.toml), the run's bound applied to a page (``Keyset.window``:
``engine/cursors/bounds.py``'s last complete unit, a DATE's previous day), ``count()``'s clause, the
batch-size check, and the position after the last row read (``RowPositions`` for driver rows,
``ArrowPositions`` for Arrow columns, one ``PositionTracker`` below both, as dlt's incremental
transforms share one base for JSON items and Arrow tables), including a snapshot's latest cursor.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterator, Sequence

import pyarrow.compute as pc

from s3rb_tui.engine.cursors.bounds import cursor_bound
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_families import BINARY_TYPES, DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, types_of
from s3rb_tui.engine.core.type_rules import CURSOR_CANDIDATES, Column, TableSchema, UnsupportedType
from s3rb_tui.engine.sources.base import InitialScan, Position
from s3rb_tui.engine.core.table_names import TableRef, quote_mysql

# The type families come from the type-rule table (``core/type_rules.types_of``); the clock
# cursor types are ``engine/cursors/bounds.py``'s: its rule is about them.
#: the types a column named like a cursor (``schema.CURSOR_CANDIDATES``) must have to be taken as one
DETECTED_CURSOR_TYPES = ("datetime", "timestamp", "date", "int", "bigint")
_WHOLE_NUMBERS = INTEGER_TYPES + types_of("bit", "year")

Clause = tuple[str, list[Any]]  # SQL (without WHERE) and its parameters


# --- positions: values as a watermark keeps them --------------------------------------------


def json_safe(value: Any) -> Any:
    """A driver value as it is kept in a Position (and the watermark JSON)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def cursor_value(column: Column, value: Any) -> Any:
    """A cursor value for a Position: datetimes always as 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    value = json_safe(value)
    if column.data_type in ("datetime", "timestamp") and isinstance(value, str) and len(value) >= 19:
        whole, _, fraction = value.partition(".")  # DATETIME(0..6) text has 0..6 fractional digits
        return f"{whole}.{fraction.ljust(6, '0')}"
    return value


def mysql_param(column: Column, value: Any) -> Any:
    """A JSON-safe position value (or a bound) as a parameter MySQL compares exactly with ``column``:
    never text for a number (whatever form the value was kept in)."""
    if value is None:
        return None
    t = column.data_type
    if t in BINARY_TYPES and isinstance(value, str):
        return bytes.fromhex(value)
    if t in DECIMAL_TYPES and isinstance(value, (str, int, float)):
        return Decimal(str(value))
    try:
        if t in _WHOLE_NUMBERS and isinstance(value, (str, Decimal)):
            return int(value)
        if t in FLOAT_TYPES and isinstance(value, (str, int, Decimal)):
            return float(value)
    except ValueError:  # not a number after all (a hand-edited watermark): MySQL judges it as it is
        pass
    return value


# --- how a dialect compares a column with a position value -----------------------------------


class KeyRules:
    """How a dialect orders and compares key columns: each column by itself, ``param`` turning a
    position value into the parameter that compares with it. ``table`` qualifies every reference."""

    def __init__(self, quote: Callable[[str], str], placeholder: str = "%s",
                 param: Callable[[Column, Any], Any] = lambda column, value: value,
                 keep_cursor: Callable[[Column, Any], Any] = lambda column, value: json_safe(value)):
        self.quote, self.placeholder = quote, placeholder
        self.param = param
        #: a cursor value as a Position keeps it. SQLite compares text as stored, so it keeps it as
        #: stored ('10:00:00' > '10:00:00.000000' is false as text); MySQL compares a datetime
        #: column with any spelling, and keeps one ('YYYY-MM-DD HH:MM:SS.ffffff': ``cursor_value``)
        self.keep_cursor = keep_cursor

    def ref(self, table: str, column: Column) -> str:
        return f"{table}.{self.quote(column.name)}" if table else self.quote(column.name)

    def equal(self, ref: str, column: Column, value: Any) -> Clause:
        return f"{ref} = {self.placeholder}", [self.param(column, value)]

    def after(self, ref: str, column: Column, value: Any) -> Clause:
        return f"{ref} > {self.placeholder}", [self.param(column, value)]


class MySQLKeyRules(KeyRules):
    """MySQL's: ENUM and SET compared in the order they sort (their number), not as strings."""

    def __init__(self) -> None:
        super().__init__(quote_mysql, "%s", mysql_param, cursor_value)

    def equal(self, ref: str, column: Column, value: Any) -> Clause:
        if column.data_type in ("enum", "set"):
            return f"{ref} = {self.placeholder}", [str(value)]  # the label: a range on the key index
        return super().equal(ref, column, value)

    def after(self, ref: str, column: Column, value: Any) -> Clause:
        if column.data_type == "enum":
            later = enum_labels(column.column_type)[enum_number(column.column_type, str(value)):]
            if not later:
                return "1 = 0", []
            return f"{ref} IN ({', '.join([self.placeholder] * len(later))})", list(later)
        if column.data_type == "set":
            return f"{ref} > {self.placeholder}", [set_mask(column.column_type, str(value))]
        return super().after(ref, column, value)


_LABEL = re.compile(r"'((?:[^'\\]|''|\\.)*)'")
_UNESCAPE = {"''": "'", "\\\\": "\\", "\\'": "'", "\\0": "\0", "\\n": "\n", "\\r": "\r", "\\Z": "\x1a", "\\t": "\t"}


@lru_cache(maxsize=256)
def enum_labels(column_type: str) -> tuple[str, ...]:
    """The labels of ``enum('a','b')`` / ``set('a','b')`` (information_schema's COLUMN_TYPE, which
    doubles quotes and backslashes), in definition order."""
    body = column_type[column_type.index("(") + 1:column_type.rindex(")")]
    return tuple(re.sub(r"''|\\.", lambda m: _UNESCAPE.get(m.group(0), m.group(0)[1:]), m.group(1))
                 for m in _LABEL.finditer(body))


def enum_number(column_type: str, label: str) -> int:
    """An ENUM value's number (its sort order): 1 for the first label; 0 for '' when no label is ''
    (the error value MySQL stores for an invalid one in non-strict mode)."""
    labels = enum_labels(column_type)
    if label in labels:
        return labels.index(label) + 1
    if label == "":
        return 0
    raise ValueError(f"{label!r} is not a value of {column_type}")


def set_mask(column_type: str, value: str) -> int:
    """A SET value's number (its sort order): bit i for the i-th label it holds."""
    labels = enum_labels(column_type)
    return sum(1 << labels.index(member) for member in value.split(",")) if value else 0


# --- one table's keyset order ------------------------------------------------------------------


class Keyset:
    """The keyset order of one table under a dialect's rules: the ORDER BY clauses and the WHERE
    clauses of "rows after a position" built from the same column references. Position values are
    taken as kept (JSON-safe); upper bounds are parameters already (the source computes them)."""

    def __init__(self, schema: TableSchema, rules: KeyRules, table: str = ""):
        self.schema, self.rules, self.table = schema, rules, table
        self.placeholder = rules.placeholder

    def ref(self, name: str) -> str:
        return self.rules.ref(self.table, self.schema.column(name))

    def order_by(self, descending: bool = False) -> str:
        """(cursor, key...) order: an incremental read's."""
        return ", ".join(self.ref(c) + (" DESC" if descending else "") for c in self.schema.order_columns)

    def key_order_by(self) -> str:
        """Primary-key order: an initial scan's, and a snapshot's when the table has a key."""
        return ", ".join(self.ref(c) for c in self.schema.primary_key)

    def key_after(self, columns: Sequence[str], last: Sequence[Any]) -> Clause:
        """``(c1, c2, ...) > (v1, v2, ...)`` in the columns' order, expanded into ORs of ANDs so that
        indexes are usable."""
        ors, params = [], []
        for i in range(len(columns)):
            parts = []
            for j in range(i):
                sql, more = self.rules.equal(self.ref(columns[j]), self.schema.column(columns[j]), last[j])
                parts.append(sql)
                params.extend(more)
            sql, more = self.rules.after(self.ref(columns[i]), self.schema.column(columns[i]), last[i])
            parts.append(sql)
            params.extend(more)
            ors.append("(" + " AND ".join(parts) + ")")
        return ("(" + " OR ".join(ors) + ")" if ors else "(1 = 0)"), params

    def after(self, position: Position, upper_bound: Any) -> Clause:
        """Rows strictly after ``position`` with cursor <= ``upper_bound`` (no upper limit when None).
        Requires ``schema.incremental``."""
        schema = self.schema
        assert schema.cursor_column and schema.primary_key
        cursor_col = schema.column(schema.cursor_column)
        cur, ph = self.ref(cursor_col.name), self.placeholder
        keys = list(schema.order_columns[1:])
        params: list[Any] = []

        def after_key(last: tuple[Any, ...]) -> str:
            clause, more = self.key_after(keys, last)
            params.extend(more)
            return clause

        if position.cursor is None:
            if position.nulls_done:
                lower = f"{cur} IS NOT NULL"
            elif position.key is None:
                lower = "1 = 1"
            else:
                lower = f"(({cur} IS NULL AND {after_key(position.key)}) OR {cur} IS NOT NULL)"
        else:  # the cursor too compares in its order (a cursor set in s3rb.toml may be any column)
            later, more = self.rules.after(cur, cursor_col, position.cursor)
            params.extend(more)
            if position.key is None:
                lower = later
            else:
                same, more = self.rules.equal(cur, cursor_col, position.cursor)
                params.extend(more)
                lower = f"({later} OR ({same} AND {after_key(position.key)}))"
        if upper_bound is None:  # no upper bound (e.g. an integer cursor has no clock to compare with)
            return lower, params
        return f"{lower} AND ({cur} IS NULL OR {cur} <= {ph})", params + [upper_bound]

    def scan_after(self, after_key: Sequence[Any] | None, upper_bound: Any, since: Position | None = None) -> Clause:
        """An initial scan's rows: a primary key after ``after_key`` (all when None) and a cursor that
        is NULL or at most ``upper_bound`` (no bound when None); a catch-up's only after the keyset
        position ``since`` (the same clause as a keyset page's, so it takes exactly the rows the
        keyset pages would have)."""
        schema = self.schema
        assert schema.cursor_column and schema.primary_key
        parts: list[str] = []
        params: list[Any] = []
        if after_key is not None:
            clause, params = self.key_after(schema.primary_key, after_key)
            parts.append(clause)
        if since is not None:
            clause, more = self.after(since, None)
            parts.append(f"({clause})")
            params = params + more
        if upper_bound is not None:
            cur = self.ref(schema.cursor_column)
            parts.append(f"({cur} IS NULL OR {cur} <= {self.placeholder})")
            params.append(upper_bound)
        return (" AND ".join(parts) or "1 = 1"), params


    # --- the run's bound, and the windows every read and count of a source is cut from ---------

    def bound(self, moment: Any, kept: bool = False) -> Any:
        """The largest cursor value a read may take when the clock says ``moment`` (the one bound
        rule, ``engine/cursors/bounds.py``: the last complete unit of the cursor's precision, a DATE's
        previous day), as a parameter. ``kept``: ``moment`` is a value as a watermark keeps it (an
        initial scan's bound: a DECIMAL cursor's maximum is text there) and is a parameter first."""
        column = self.schema.column(self.schema.cursor_column)  # type: ignore[arg-type]
        if kept:
            moment = self.rules.param(column, moment)
        return self.rules.param(column, cursor_bound(column, moment))

    def window(self, position: Position, moment: Any) -> Clause:
        """The rows a read from ``position`` takes when the clock says ``moment``: a keyset
        position, or an initial scan's key (whose own bound then replaces ``moment``)."""
        if position.scan is not None:
            return self.scan_window(position.scan.after_key, position.scan.upper_bound, position.scan.since)
        return self.after(position, self.bound(moment))

    def scan_window(self, after_key: Sequence[Any] | None, scan_bound: Any, since: Position | None = None) -> Clause:
        """An initial scan's (or a catch-up's, after ``since``) rows after ``after_key`` up to the scan's kept bound."""
        return self.scan_after(after_key, self.bound(scan_bound, kept=True), since)

    def count(self, table: str, start: Position | None, moment: Any) -> Clause:
        """``count()``'s query: every row (a snapshot, or no position and no bound), else the
        window after ``start`` (from the start when None) up to ``moment``'s bound."""
        sql = f"SELECT COUNT(*) FROM {table}"
        if not self.schema.incremental or (start is None and moment is None):
            return sql, []
        where, params = self.window(start or Position(), moment)
        return f"{sql} WHERE {where}", params


def mysql_keyset(schema: TableSchema) -> Keyset:
    """A MySQL table's keyset, every column qualified by the table."""
    return Keyset(schema, MYSQL_KEYS, schema.ref.mysql())


MYSQL_KEYS = MySQLKeyRules()


# --- the position after the last row read -----------------------------------------------------


class PositionTracker:
    """What every position after a batch is made of, whatever the batch holds (driver rows or Arrow
    columns: ``RowPositions``, ``ArrowPositions``): an incremental table's keyset position after
    its last row (in an initial scan, its last primary key), with the rows whose cursor is NULL;
    a snapshot's latest cursor so far (``nulls_done``: a snapshot has no NULL-cursor phase).
    Values are kept as ``rules`` keep them (``KeyRules.keep_cursor``, ``json_safe``)."""

    def __init__(self, schema: TableSchema, rules: KeyRules):
        self.schema, self.rules = schema, rules
        names = schema.column_names
        self.cursor = schema.column(schema.cursor_column) if schema.cursor_column else None
        self.cursor_i = names.index(schema.cursor_column) if schema.cursor_column else None
        self.key_i = [names.index(k) for k in schema.order_columns[1:]] if schema.incremental else []
        self.pk_i = [names.index(k) for k in schema.primary_key]
        self.latest: Any = None  # snapshots: the largest cursor value read so far

    def keyset_end(self, cursor: Any, key: Sequence[Any]) -> Position:
        return Position(cursor=self.rules.keep_cursor(self.cursor, cursor), key=tuple(json_safe(v) for v in key),  # type: ignore[arg-type]
                        nulls_done=cursor is not None)

    @staticmethod
    def scan_end(scan: InitialScan, key: Sequence[Any]) -> Position:
        return Position(scan=replace(scan, after_key=tuple(json_safe(v) for v in key)))

    def snapshot_end(self, candidates: Iterator[Any]) -> Position:
        """The snapshot's position once ``candidates`` (cursor values of the batch) are seen: the
        largest non-NULL cursor so far. A value that does not compare with it (another type: a
        SQLite column holding text and numbers) is passed over, never an error."""
        for value in candidates:
            if value is None:
                continue
            try:
                if self.latest is None or value > self.latest:
                    self.latest = value
            except TypeError:
                continue
        latest = None if self.latest is None else self.rules.keep_cursor(self.cursor, self.latest)  # type: ignore[arg-type]
        return Position(cursor=latest, key=None, nulls_done=True)


class RowPositions(PositionTracker):
    """The position after a batch of driver rows (tuples in the schema's column order)."""

    def end(self, rows: Sequence[Sequence[Any]], scan: InitialScan | None = None) -> tuple[Position, int]:
        """(position after the last row, rows with a NULL cursor) of one non-empty batch."""
        last, ci = rows[-1], self.cursor_i
        if ci is None or not self.schema.incremental:
            return self.snapshot_end(iter(()) if ci is None else (r[ci] for r in rows)), 0
        nulls = sum(1 for r in rows if r[ci] is None)
        if scan is not None:
            return self.scan_end(scan, [last[i] for i in self.pk_i]), nulls
        return self.keyset_end(last[ci], [last[i] for i in self.key_i]), nulls


class ArrowPositions(PositionTracker):
    """The position after a batch of Arrow columns: ``columns[i]`` is the array a position value of
    column i is read from (as sent, or converted)."""

    def end(self, columns: Sequence[Any], scan: InitialScan | None = None) -> tuple[Position, int]:
        """(position after the last row, rows with a NULL cursor) of one non-empty batch."""
        last, ci = len(columns[0]) - 1, self.cursor_i
        if ci is None or not self.schema.incremental:
            return self.snapshot_end(iter(()) if ci is None else iter([pc.max(columns[ci]).as_py()])), 0
        cursor = columns[ci]
        if scan is not None:
            return self.scan_end(scan, [columns[i][last].as_py() for i in self.pk_i]), cursor.null_count
        return self.keyset_end(cursor[last].as_py(), [columns[i][last].as_py() for i in self.key_i]), cursor.null_count


def order_row_position(schema: TableSchema, rules: KeyRules, row: Sequence[Any]) -> Position:
    """The position after a row of exactly the order columns (cursor, key...)."""
    return PositionTracker(schema, rules).keyset_end(row[0], row[1:])


# --- a table's order columns, and the batch size ---------------------------------------------


def detect_cursor(columns: Sequence[Column], override: str | None = None) -> str | None:
    """The cursor column: ``override`` (s3rb.toml's, any column, matched without case), else the first
    ``CURSOR_CANDIDATES`` name of a ``DETECTED_CURSOR_TYPES`` column (None: a snapshot table)."""
    names = {c.name.lower(): c.name for c in columns}
    if override:
        if override.lower() not in names:
            raise UnsupportedType(f"cursor column {override!r} from s3rb.toml is not a column of the table")
        return names[override.lower()]
    for candidate in CURSOR_CANDIDATES:
        if candidate in names:
            column = next(c for c in columns if c.name == names[candidate])
            if column.data_type in DETECTED_CURSOR_TYPES:
                return column.name
    return None


def table_keys(ref: TableRef, columns: Sequence[Column], primary_key: Callable[[], tuple[str, ...]],
               cursor_override: str | None = None, key_override: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], str | None]:
    """(primary key, cursor column) of a discovered table: s3rb.toml's key (columns matched without
    case; the source's own key, ``primary_key()``, is not read then) and cursor, or the source's key
    and the detected cursor. A column that is not the table's is a JobError naming it."""
    names = {c.name.lower(): c.name for c in columns}
    if key_override:
        missing = [k for k in key_override if k.lower() not in names]
        if missing:
            raise JobError(f"key column(s) {', '.join(missing)} from s3rb.toml are not columns of {ref.full_name}")
        key = tuple(names[k.lower()] for k in key_override)
    else:
        key = primary_key()
    try:
        return key, detect_cursor(columns, cursor_override)
    except UnsupportedType as e:
        raise JobError(f"{ref.full_name}: {e}") from None


def check_batch_size(batch_size: int) -> None:
    """Every source's ``read_batches`` refuses a batch size below 1 (a page of no rows never ends)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
