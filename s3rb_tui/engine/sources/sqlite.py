"""SQLite source: the embedded demo's stand-in for MySQL.

Schemas: the main database of the file answers to one schema name, the one given to the
constructor (``DB_DATABASE``, e.g. ``settlement``; ``main`` when none is configured). Any other
schema name is a missing table. Attached databases are not used.

Types: SQLite keeps the declared type of each column as text (``DECIMAL(10,4)``, ``VARCHAR(64)``,
``DATETIME``, ``BIGINT UNSIGNED``). It is parsed into the MySQL-like ``Column`` the rest of the
engine knows, so the one table of type rules in ``engine/core/type_rules.py`` applies unchanged. Values are
brought to the driver types those rules expect before ``rows_to_batch``:

- DECIMAL: SQLite gives DECIMAL columns NUMERIC affinity and stores numbers as INTEGER or REAL;
  they are selected with ``printf`` at the declared scale and become ``Decimal``. Values of at
  most 15 significant digits (SQLite's exact range for REAL, e.g. DECIMAL(15,4)) come back exactly.
- DATETIME/TIMESTAMP/DATE: stored as text ``'YYYY-MM-DD HH:MM:SS[.ffffff]'`` / ``'YYYY-MM-DD'``;
  text that does not parse becomes NULL and is counted, as MySQL's zero dates are.

Extraction uses the same keyset clauses, bound, count and positions as MySQL (``sources/keyset.py``)
with ``?`` placeholders and double-quoted identifiers, in one ordered query read with ``fetchmany`` (memory is
bounded by one batch). Positions keep the cursor and key values exactly as SQLite returned them, so
text comparisons at a batch edge are exact. ``now()`` is the Python clock in naive UTC (SQLite has
no server clock). The connection never writes; open the file in WAL mode so writers do not block it.

Verify: SQLite has no MD5 and no DATETIME type, so every connection gets the functions verify's
pushed-down checksum calls (``register_checksum_functions``; ``sources/sqlite_checksum.py`` spells
the canonical row text with them), deterministic, in Python: ``s3rb_md5_sum`` (the exact sum of the
rows' 60-bit hashes, as text: SQLite's SUM overflows at 2**63 after nine rows), ``s3rb_bucket``,
``s3rb_datetime`` and ``s3rb_date`` (the stored text read as the backup reads it, then printed as the
warehouses print it), ``s3rb_decimal`` (text-stored DECIMALs at their scale) and ``s3rb_time_us``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import sqlite3
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from s3rb_tui.engine.cursors.census import census_sql
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import Column, ConversionStats, TableSchema, UnsupportedType, rows_to_batch
from s3rb_tui.engine.sources.base import Position, Source, SourceBatch, TableInfo
from s3rb_tui.engine.sources.keyset import KeyRules, Keyset, RowPositions, check_batch_size, json_safe, table_keys
from s3rb_tui.engine.core.table_names import TableRef, quote_sql

_DECLARED = re.compile(
    r"^\s*([a-z][a-z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*(unsigned)?\s*(zerofill)?\s*$",
    re.IGNORECASE,
)
# SQLite spellings of types MySQL names differently.
_ALIASES = {
    "integer": "int",
    "numeric": "decimal",
    "real": "double",
    "double precision": "double",
    "boolean": "tinyint",
    "bool": "tinyint",
    "character varying": "varchar",
    "character": "char",
    "clob": "text",
}
_TEMPORAL = ("datetime", "timestamp", "date", "time")
_CHARACTER = ("char", "varchar", "binary", "varbinary")
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"


def parse_declared_type(name: str, declared: str) -> Column:
    """A SQLite column's declared type as the MySQL-like Column of ``engine/core/type_rules.py``."""
    m = _DECLARED.match(declared or "")
    if not m:
        raise UnsupportedType(f"column {name!r} has declared type {declared!r}, which s3rb-tui cannot read (declare e.g. VARCHAR(64), DECIMAL(10,4), DATETIME)")
    base = " ".join(m.group(1).lower().split())
    data_type = _ALIASES.get(base, base)
    first = int(m.group(2)) if m.group(2) is not None else None
    second = int(m.group(3)) if m.group(3) is not None else None
    precision = scale = char_length = None
    if data_type == "decimal":
        precision, scale = first or 10, second or 0
    elif data_type in _TEMPORAL:
        precision = first or 0
    elif data_type in _CHARACTER:
        char_length = first
    elif data_type == "bit":
        precision = first or 1
    column = Column(
        name=name,
        data_type=data_type,
        column_type=" ".join(declared.lower().split()),
        precision=precision,
        scale=scale,
        char_length=char_length,
        unsigned=m.group(4) is not None,
    )
    column.rule  # raises UnsupportedType for a type without a rule
    return column


# --- values: SQLite storage classes -> the driver values the type rules expect -------------

def _select_expr(column: Column) -> str:
    """How a column is selected. SQLite stores a DECIMAL as INTEGER or REAL (NUMERIC affinity):
    ``printf`` writes it back at its declared scale, which is exact up to 15 significant digits."""
    col = quote_sql(column.name)
    if column.rule.name == "decimal":
        return f"CASE WHEN typeof({col}) IN ('integer', 'real') THEN printf('%.{int(column.scale or 0)}f', {col}) ELSE {col} END"
    return col


def _each(parse: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """``parse`` applied to every non-NULL value; a value it refuses is kept as it was (the type
    rule then reports it: a bad date becomes NULL and is counted, a bad number fails the batch)."""
    try:
        return [None if v is None else parse(v) for v in values]
    except (ValueError, TypeError, InvalidOperation):
        out = []
        for v in values:
            try:
                out.append(None if v is None else parse(v))
            except (ValueError, TypeError, InvalidOperation):
                out.append(v)
        return out


def _date(v: Any) -> dt.date:
    return dt.date.fromisoformat(v[:10])


# Decimal(str) is exact; DECIMAL values arrive as printf text (see _select_expr), never as floats.
_PARSERS: dict[str, Callable[[Any], Any]] = {"decimal": Decimal, "datetime": dt.datetime.fromisoformat, "timestamp": dt.datetime.fromisoformat, "date": _date}


def _column_converter(column: Column) -> Callable[[Sequence[Any]], list[Any]] | None:
    """SQLite values of one column -> the driver values its type rule expects (None: as they are)."""
    parse = _PARSERS.get(column.rule.name)
    return None if parse is None else (lambda values: _each(parse, values))


def _param(column: Column, value: Any) -> Any:
    """A Position value or an upper bound as a parameter SQLite compares exactly with the column."""
    if value is None:
        return None
    if column.rule.name in ("binary", "geometry") and isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, dt.datetime):
        return value.strftime(TIMESTAMP_TEXT)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- verify's checksum functions (module docstring) ------------------------------------------

def _md5_int(text: Any, digits: int) -> int:
    return int(hashlib.md5(str(text).encode("utf-8")).hexdigest()[:digits], 16)


class _HashSum:
    """SUM of the first 15 hex digits of each row text's MD5 (core/checksum.py), exact, as text."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, text: Any) -> None:
        if text is not None:
            self.total += _md5_int(text, 15)

    def finalize(self) -> str:
        return str(self.total)


def _datetime_text(value: Any, digits: int) -> str | None:
    """The stored text read as a backup reads it (``fromisoformat``; unreadable: NULL), printed as the
    warehouses print it: DATETIME(0) as ``YYYY-MM-DD HH:MM:SS`` with a fraction only when the value has
    one, trailing zeros dropped (DuckDB's and PostgreSQL's own text); DATETIME(n) with six digits."""
    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if digits:
        return t.strftime(TIMESTAMP_TEXT)
    base = t.strftime("%Y-%m-%d %H:%M:%S")
    return base + ("." + f"{t.microsecond:06d}".rstrip("0") if t.microsecond else "")


def _date_text(value: Any) -> str | None:
    try:
        return _date(str(value)).isoformat()
    except ValueError:
        return None


def _decimal_text(value: Any, scale: int) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-int(scale))))
    except (InvalidOperation, ValueError):
        return None


def _time_us(value: Any) -> int | None:
    m = re.match(r"^(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$", str(value))
    if not m:
        return None
    us = ((int(m.group(2)) * 60 + int(m.group(3))) * 60 + int(m.group(4))) * 1_000_000 + int((m.group(5) or "0").ljust(6, "0"))
    return -us if m.group(1) else us


def register_checksum_functions(conn: sqlite3.Connection) -> None:
    """The functions verify's pushed-down checksum needs (module docstring), on one connection."""
    conn.create_function("s3rb_bucket", 1, lambda t: None if t is None else _md5_int(t, 8), deterministic=True)
    conn.create_function("s3rb_datetime", 2, lambda v, d: None if v is None else _datetime_text(v, int(d)), deterministic=True)
    conn.create_function("s3rb_date", 1, lambda v: None if v is None else _date_text(v), deterministic=True)
    conn.create_function("s3rb_decimal", 2, lambda v, s: None if v is None else _decimal_text(v, int(s)), deterministic=True)
    conn.create_function("s3rb_time_us", 1, lambda v: None if v is None else _time_us(v), deterministic=True)
    conn.create_function("MOD", 2, lambda a, b: None if a is None or b is None else int(a) % int(b), deterministic=True)
    conn.create_aggregate("s3rb_md5_sum", 1, _HashSum)  # type: ignore[arg-type]


# SQLite sorts a column as it compares it: by the column itself; positions keep values as stored
_KEYS = KeyRules(quote_sql, "?", _param)


def sqlite_keyset(schema: TableSchema) -> Keyset:
    """The key expressions of a SQLite table (extraction's, and verify's source side)."""
    return Keyset(schema, _KEYS)


class SQLiteSource(Source):
    dialect = "sqlite"

    def __init__(self, path: str | Path | None, schema: str | None = None):
        if path is None or not str(path).strip():
            raise JobError("DB_SQLITE_PATH is empty", "set DB_SQLITE_PATH to the SQLite file (or use --demo)")
        self.path = Path(path)
        self.schema_name = schema or "main"
        if not self.path.is_file():
            raise JobError(f"SQLite source {self.path} not found", "check DB_SQLITE_PATH (s3rb-tui --demo-reset rebuilds the demo)")
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=30, check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise JobError(f"cannot open SQLite source {self.path}: {e}") from None
        register_checksum_functions(self._conn)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JobError(f"SQLite source {self.path} is closed")
        return self._conn

    def _query(self, sql: str, params: Any = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise JobError(f"SQLite error in {self.path}: {e}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- metadata -----------------------------------------------------------------------

    def version(self) -> str:
        return f"SQLite {self._query('SELECT sqlite_version()')[0][0]}"

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    def _table_type(self, ref: TableRef) -> str | None:
        if ref.schema != self.schema_name:
            return None
        rows = self._query("SELECT type FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (ref.name,))
        return rows[0][0] if rows else None

    def list_schemas(self) -> list[str]:
        return [self.schema_name]  # one file, one schema (DB_DATABASE, or "main")

    def list_tables(self, schema: str) -> list[TableInfo]:
        if schema != self.schema_name:
            return []
        rows = self._query(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        out = []
        for name, kind in rows:
            ref = TableRef(schema, name)
            count = None if kind == "view" else int(self._query(f"SELECT COUNT(*) FROM {quote_sql(name)}")[0][0])
            out.append(TableInfo(ref=ref, is_view=kind == "view", estimated_rows=count))
        return out

    def discover(self, ref: TableRef, cursor_override: str | None = None, key_override: tuple[str, ...] | None = None) -> TableSchema:
        kind = self._table_type(ref)
        if kind is None:
            raise JobError(
                f"table {ref.full_name} not found in SQLite source {self.path}",
                f"the file's tables are in schema {self.schema_name!r} (DB_DATABASE)",
            )
        info = self._query(f"PRAGMA table_info({quote_sql(ref.name)})")
        columns: list[Column] = []
        pk: list[tuple[int, str]] = []
        for _cid, name, declared, notnull, _default, pk_index in info:
            try:
                column = parse_declared_type(name, declared)
            except UnsupportedType as e:
                raise JobError(f"{ref.full_name}: {e}") from None
            columns.append(dataclasses.replace(column, nullable=not notnull and not pk_index))
            if pk_index:
                pk.append((int(pk_index), name))
        primary_key, cursor = table_keys(ref, columns, lambda: tuple(name for _, name in sorted(pk)),
                                         cursor_override, key_override)
        return TableSchema(
            ref=ref,
            columns=tuple(columns),
            primary_key=primary_key,
            cursor_column=cursor,
            is_view=kind == "view",
            estimated_rows=None,
        )

    # --- extraction ---------------------------------------------------------------------

    def _from(self, schema: TableSchema) -> str:
        if schema.ref.schema != self.schema_name:
            raise JobError(f"table {schema.ref.full_name} not found in SQLite source {self.path}")
        return f"SELECT {', '.join(_select_expr(c) for c in schema.columns)} FROM {quote_sql(schema.ref.name)}"

    def read_batches(
        self,
        schema: TableSchema,
        start: Position,
        upper_bound: Any,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[SourceBatch]:
        check_batch_size(batch_size)
        sql, keyset = self._from(schema), Keyset(schema, _KEYS)
        params: list[Any] = []
        if schema.incremental:
            where, params = keyset.window(start, upper_bound)
            sql += f" WHERE {where} ORDER BY {keyset.order_by()}"
        elif schema.primary_key:
            sql += f" ORDER BY {keyset.key_order_by()}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        yield from self._stream(schema, sql, params, batch_size)

    def _stream(self, schema: TableSchema, sql: str, params: list[Any], batch_size: int) -> Iterator[SourceBatch]:
        converters = [_column_converter(c) for c in schema.columns]
        positions = RowPositions(schema, _KEYS)
        try:
            cur = self.conn.execute(sql, params)
        except sqlite3.Error as e:
            raise JobError(f"SQLite error in {self.path}: {e}") from None
        try:
            while True:
                try:
                    rows = cur.fetchmany(batch_size)
                except sqlite3.Error as e:
                    raise JobError(f"SQLite error in {self.path}: {e}") from None
                if not rows:
                    return
                end, nulls = positions.end(rows)
                sb = self._batch(schema, rows, converters, end, nulls)
                # not held while the caller writes the batch and the next fetchmany fills a new list: the demo's
                # 25,000-row batches, reading peak 226 -> 167 MiB RSS (Python's traced peak 137 -> 88 MiB)
                del rows
                yield sb
        finally:
            cur.close()

    def _batch(self, schema: TableSchema, rows: list[tuple], converters: list, end: Position, nulls: int) -> SourceBatch:
        stats = ConversionStats()
        columns = []
        for values, convert in zip(zip(*rows), converters):
            columns.append(convert(values) if convert is not None else list(values))
        return SourceBatch(batch=rows_to_batch(schema, columns, stats), end=end, null_cursor_rows=nulls, stats=stats)

    def read_keys(self, schema: TableSchema, keys: Sequence[Sequence[Any]], per_read: int = 500) -> Iterator[Any]:
        """The current rows of ``keys`` as Arrow batches of the type rules (repair's re-extract: a backup's values)."""
        sql, keyset = self._from(schema), Keyset(schema, _KEYS)
        converters = [_column_converter(c) for c in schema.columns]
        for i in range(0, len(keys), per_read):
            ors, params = [], []
            for key in keys[i:i + per_read]:
                ands = []
                for name, value in zip(schema.primary_key, key):
                    clause, more = _KEYS.equal(keyset.ref(name), schema.column(name), value)
                    ands.append(clause)
                    params += more
                ors.append("(" + " AND ".join(ands) + ")")
            rows = self._query(f"{sql} WHERE {' OR '.join(ors)}", params)
            if rows:
                columns = [convert(v) if convert is not None else list(v) for v, convert in zip(zip(*rows), converters)]
                yield rows_to_batch(schema, columns, ConversionStats())

    # --- counting -----------------------------------------------------------------------

    def count(self, schema: TableSchema, start: Position | None = None, upper_bound: Any = None) -> int:
        if schema.ref.schema != self.schema_name:
            raise JobError(f"table {schema.ref.full_name} not found in SQLite source {self.path}")
        return int(self._query(*Keyset(schema, _KEYS).count(quote_sql(schema.ref.name), start, upper_bound))[0][0])

    def census(self, schema: TableSchema, clock_value: Any) -> tuple[Any, int, Any, int]:
        """(newest cursor, rows later than ``clock_value``, the latest of those, NULL-cursor rows)."""
        if schema.ref.schema != self.schema_name:
            raise JobError(f"table {schema.ref.full_name} not found in SQLite source {self.path}")
        sql, params = census_sql(quote_sql(schema.ref.name), quote_sql(schema.cursor_column or ""), clock_value, "?")
        [(newest, beyond, latest, nulls)] = self._query(sql, params)
        return json_safe(newest), int(beyond or 0), json_safe(latest), int(nulls or 0)

    def distinct_keys(self, schema: TableSchema) -> int | None:
        if not schema.primary_key:
            return None
        keys = ", ".join(quote_sql(k) for k in schema.primary_key)
        return int(self._query(f"SELECT COUNT(*) FROM (SELECT DISTINCT {keys} FROM {quote_sql(schema.ref.name)})")[0][0])
