"""Column model and the one table of type rules: MySQL -> Arrow -> warehouse.

Every MySQL type the pipeline understands has exactly one ``TypeRule`` in ``TYPE_RULES``. A rule
says how the value is selected from MySQL (some types are converted in SQL, e.g. GEOMETRY to WKB),
how a Python value from the driver becomes an Arrow value, which Arrow type the Parquet column
gets, and which column type each warehouse dialect creates. Loaders and sources never keep
mappings of their own: they ask ``rule_for(column)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_tui.engine.core.arrow_no_pandas import convert_without_pandas
from s3rb_tui.engine.core.table_names import TableRef, quote_mysql

#: column names taken as the cursor (``sources/keyset.py``'s ``detect_cursor`` holds the rule)
CURSOR_CANDIDATES = ("update_at", "updated_at", "last_update", "update_time", "modified_at", "last_modified")
DIALECTS = ("redshift", "postgres", "duckdb")
REDSHIFT_VARCHAR_MAX = 65535
REDSHIFT_VARBYTE_MAX = 16_777_216  # "VARBYTE type": 1 to 16,777,216 bytes (1,024,000 when VARBYTE launched, 2021)
# MySQL's 64-bit unsigned integers in Parquet: exact to 2^64-1, and a type Redshift's Parquet COPY
# accepts (into DECIMAL(20,0)); files written before this rule hold uint64 (see column_from_arrow).
UNSIGNED_64 = pa.decimal128(20, 0)
convert_without_pandas()  # rows_to_batch's pa.array calls would import pandas: 50 MiB (arrow_no_pandas.py)


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # information_schema DATA_TYPE, lower case ('json' for MariaDB JSON columns)
    column_type: str = ""  # full COLUMN_TYPE, e.g. "bigint(20) unsigned", "enum('a','b')"
    nullable: bool = True
    precision: int | None = None  # NUMERIC_PRECISION, or DATETIME_PRECISION for temporal types
    scale: int | None = None
    char_length: int | None = None  # CHARACTER_MAXIMUM_LENGTH (characters; bytes for binary)
    unsigned: bool = False
    default: str | None = None  # COLUMN_DEFAULT as MySQL spells it: 'text', 5, NULL, current_timestamp()
    collation: str | None = None  # COLLATION_NAME of text columns, e.g. utf8mb4_general_ci

    @property
    def rule(self) -> "TypeRule":
        return rule_for(self)


@dataclass(frozen=True)
class TableSchema:
    ref: TableRef
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    cursor_column: str | None = None
    is_view: bool = False
    estimated_rows: int | None = None
    created: str | None = None  # the source table's CREATE_TIME (changes when it is dropped and created again)
    auto_increment: int | None = None  # the next AUTO_INCREMENT value (falls after TRUNCATE or a re-creation)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def incremental(self) -> bool:
        """Keyset extraction needs a cursor column and a primary key; otherwise full snapshots."""
        return bool(self.cursor_column and self.primary_key)

    @property
    def order_columns(self) -> tuple[str, ...]:
        if self.incremental:
            return (self.cursor_column,) + tuple(k for k in self.primary_key if k != self.cursor_column)  # type: ignore[return-value]
        return self.primary_key

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.rule.arrow(c), nullable=True) for c in self.columns])


@dataclass
class ConversionStats:
    """What conversion changed, for the job summary: zero dates turned into NULL, per column."""

    zero_dates: dict[str, int] = field(default_factory=dict)

    def add_zero_date(self, column: str, n: int = 1) -> None:
        self.zero_dates[column] = self.zero_dates.get(column, 0) + n

    def merge(self, other: "ConversionStats") -> None:
        for k, v in other.zero_dates.items():
            self.add_zero_date(k, v)

    @property
    def total_zero_dates(self) -> int:
        return sum(self.zero_dates.values())


# A converter gets one column of driver values and returns a list for ``pa.array`` or an Arrow
# array that ``rows_to_batch`` casts to the rule's type (text parsed in C, not value by value).
Converter = Callable[[list[Any], str, ConversionStats], "list[Any] | pa.Array"]


@dataclass(frozen=True)
class TypeRule:
    name: str
    mysql_types: tuple[str, ...]
    arrow: Callable[[Column], pa.DataType]
    redshift: Callable[[Column], str]
    postgres: Callable[[Column], str]
    duckdb: Callable[[Column], str]
    select: str = "{col}"  # SQL expression template for extraction
    convert: Converter | None = None  # whole-column conversion of driver values
    note: str = ""

    def warehouse_type(self, column: Column, dialect: str) -> str:
        return getattr(self, dialect)(column)

    def select_expr(self, column: Column) -> str:
        return self.select.format(col=quote_mysql(column.name))


# --- converters (whole columns: one Python loop per column, not per cell dispatch) ---------

# MySQL holds dates Python and Arrow cannot: '0000-00-00', '2020-00-10', year 0.
_INVALID_DATE = r"^(0000|\d{4}-00|\d{4}-\d\d-00)"


def _as_text(values: list[Any]) -> pa.Array | None:
    """The column as an Arrow string array when every value is text (or NULL), else None."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return None


def _temporal_from_text(arr: pa.Array, column: str, stats: ConversionStats, arrow_type: pa.DataType,
                        parse: Callable[[str], Any]) -> pa.Array:
    """Date/datetime text as the server sends it, parsed by Arrow; invalid dates become NULL, counted."""
    bad = pc.match_substring_regex(arr, _INVALID_DATE)
    n_bad = pc.sum(bad).as_py() or 0
    if n_bad:
        arr = pc.if_else(bad, pa.scalar(None, pa.string()), arr)
        stats.add_zero_date(column, n_bad)
    try:
        return arr.cast(arrow_type)
    except pa.ArrowInvalid:
        # a date the calendar does not have (ALLOW_INVALID_DATES, e.g. '2020-02-30'): value by value
        out = []
        for v in arr.to_pylist():
            try:
                out.append(None if v is None else parse(v))
            except ValueError:
                out.append(None)
                stats.add_zero_date(column)
        return pa.array(out, arrow_type)


def _zero_dates_to_null(values: list[Any], column: str, stats: ConversionStats, kind: type) -> list[Any]:
    out = values
    bad = 0
    for i, v in enumerate(values):
        if v is not None and not isinstance(v, kind):
            if out is values:
                out = list(values)
            out[i] = None
            bad += 1
    if bad:
        stats.add_zero_date(column, bad)
    return out


def _date_values(values: list[Any], column: str, stats: ConversionStats) -> "list[Any] | pa.Array":
    text = _as_text(values)
    if text is not None:
        return _temporal_from_text(text, column, stats, pa.date32(), lambda v: dt.date.fromisoformat(v[:10]))
    # drivers that decode dates return the raw string for dates Python cannot hold
    out = _zero_dates_to_null(values, column, stats, dt.date)
    return [v.date() if isinstance(v, dt.datetime) else v for v in out]


def _datetime_values(values: list[Any], column: str, stats: ConversionStats) -> "list[Any] | pa.Array":
    text = _as_text(values)
    if text is not None:
        return _temporal_from_text(text, column, stats, pa.timestamp("us"), dt.datetime.fromisoformat)
    return _zero_dates_to_null(values, column, stats, dt.datetime)


def _decimal_values(values: list[Any], column: str, stats: ConversionStats) -> "list[Any] | pa.Array":
    # Decimal text (as MySQL sends it) is cast by Arrow to the exact precision and scale.
    text = _as_text(values)
    return values if text is None else text


def _text_values(values: list[Any], column: str, stats: ConversionStats) -> list[Any]:
    # ENUM/SET/JSON may arrive as bytes with some drivers; decode strictly (never replace).
    return [v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else v for v in values]


def _int_values(values: list[Any], column: str, stats: ConversionStats) -> list[Any]:
    # BIT arrives as bytes when not cast in SQL; YEAR may arrive as str on some servers.
    out = []
    for v in values:
        if isinstance(v, (bytes, bytearray)):
            v = int.from_bytes(v, "big")
        elif isinstance(v, str):
            v = int(v)
        out.append(v)
    return out


def _bytes_values(values: list[Any], column: str, stats: ConversionStats) -> list[Any]:
    return [v.encode("utf-8") if isinstance(v, str) else v for v in values]


# --- helpers for the per-dialect types ----------------------------------------------------

def _const(t: str) -> Callable[[Column], str]:
    return lambda c: t


def _decimal_arrow(c: Column) -> pa.DataType:
    p, s = c.precision or 10, c.scale or 0
    return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)


def _decimal_sql(c: Column) -> str:
    return f"DECIMAL({c.precision or 10},{c.scale or 0})"


def _decimal_duckdb(c: Column) -> str:
    # DuckDB's DECIMAL holds 38 digits; wider values stay exact as text.
    return _decimal_sql(c) if (c.precision or 10) <= 38 else "VARCHAR"


def _redshift_varchar(c: Column) -> str:
    # MySQL counts characters, Redshift counts bytes: up to 4 bytes per utf8mb4 character.
    n = c.char_length or 256
    return f"VARCHAR({min(max(4 * n, 1), REDSHIFT_VARCHAR_MAX)})"


def _pg_varchar(c: Column) -> str:
    return f"VARCHAR({c.char_length})" if c.char_length else "TEXT"


def _redshift_varbyte(c: Column) -> str:
    # CHARACTER_MAXIMUM_LENGTH is the byte limit of every binary type (TINYBLOB 255, BLOB 65535,
    # MEDIUMBLOB 16777215, LONGBLOB 4294967295: capped, and preflight reports the difference)
    n = c.char_length or REDSHIFT_VARBYTE_MAX
    return f"VARBYTE({min(max(n, 1), REDSHIFT_VARBYTE_MAX)})"


def _int_by_width(c: Column, signed: str, unsigned: str) -> str:
    return unsigned if c.unsigned else signed


def _bit_width(c: Column) -> int:
    return c.precision or 1


_GEOMETRY = ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
             "multipolygon", "geometrycollection", "geomcollection")

TYPE_RULES: tuple[TypeRule, ...] = (
    TypeRule(
        "tinyint", ("tinyint",),
        arrow=lambda c: pa.int16() if c.unsigned else pa.int8(),
        redshift=_const("SMALLINT"), postgres=_const("SMALLINT"), duckdb=_const("SMALLINT"),
        note="TINYINT(1) keeps its integer value (-128..127); never a silent boolean",
    ),
    TypeRule(
        "smallint", ("smallint",),
        arrow=lambda c: pa.int32() if c.unsigned else pa.int16(),
        redshift=lambda c: _int_by_width(c, "SMALLINT", "INTEGER"),
        postgres=lambda c: _int_by_width(c, "SMALLINT", "INTEGER"),
        duckdb=lambda c: _int_by_width(c, "SMALLINT", "INTEGER"),
    ),
    TypeRule(
        "mediumint", ("mediumint",),
        arrow=lambda c: pa.int32(),
        redshift=_const("INTEGER"), postgres=_const("INTEGER"), duckdb=_const("INTEGER"),
    ),
    TypeRule(
        "int", ("int", "integer"),
        arrow=lambda c: pa.int64() if c.unsigned else pa.int32(),
        redshift=lambda c: _int_by_width(c, "INTEGER", "BIGINT"),
        postgres=lambda c: _int_by_width(c, "INTEGER", "BIGINT"),
        duckdb=lambda c: _int_by_width(c, "INTEGER", "BIGINT"),
    ),
    TypeRule(
        "bigint", ("bigint",),
        arrow=lambda c: UNSIGNED_64 if c.unsigned else pa.int64(),
        redshift=lambda c: _int_by_width(c, "BIGINT", "DECIMAL(20,0)"),
        postgres=lambda c: _int_by_width(c, "BIGINT", "NUMERIC(20,0)"),
        duckdb=lambda c: _int_by_width(c, "BIGINT", "UBIGINT"),
        note="BIGINT UNSIGNED holds 18446744073709551615: decimal(20,0) in Parquet (no Redshift column takes a Parquet "
             "UINT_64), DECIMAL(20,0) in Redshift and PostgreSQL, UBIGINT in DuckDB",
    ),
    TypeRule(
        "decimal", ("decimal", "numeric"),
        arrow=_decimal_arrow,
        redshift=_decimal_sql, postgres=lambda c: f"NUMERIC({c.precision or 10},{c.scale or 0})",
        duckdb=_decimal_duckdb, convert=_decimal_values,
        note="precision and scale kept end to end; decimal256 above 38 digits (Redshift cannot hold it: preflight)",
    ),
    TypeRule(
        "float", ("float",),
        arrow=lambda c: pa.float32(),
        redshift=_const("REAL"), postgres=_const("REAL"), duckdb=_const("REAL"),
        select="({col} + 0e0)",
        note="the stored single-precision value exactly: MariaDB's text protocol prints FLOAT with 6 digits "
             "(16777216 -> 16777200), its DOUBLE (k + 0e0, exact) with as many as it takes",
    ),
    TypeRule(
        "double", ("double", "real", "double precision"),
        arrow=lambda c: pa.float64(),
        redshift=_const("DOUBLE PRECISION"), postgres=_const("DOUBLE PRECISION"), duckdb=_const("DOUBLE"),
    ),
    TypeRule(
        "bit", ("bit",),
        arrow=lambda c: UNSIGNED_64 if _bit_width(c) == 64 else pa.int64(),
        redshift=lambda c: "DECIMAL(20,0)" if _bit_width(c) == 64 else "BIGINT",
        postgres=lambda c: "NUMERIC(20,0)" if _bit_width(c) == 64 else "BIGINT",
        duckdb=lambda c: "UBIGINT" if _bit_width(c) == 64 else "BIGINT",
        select="CAST({col} AS UNSIGNED)", convert=_int_values,
        note="BIT(n) as its unsigned integer value; BIT(64) as decimal(20,0), like BIGINT UNSIGNED",
    ),
    TypeRule(
        "year", ("year",),
        arrow=lambda c: pa.int16(),
        redshift=_const("SMALLINT"), postgres=_const("SMALLINT"), duckdb=_const("SMALLINT"),
        convert=_int_values, note="YEAR as a number (0 stays 0: MySQL's zero year)",
    ),
    TypeRule(
        "char", ("char", "varchar"),
        arrow=lambda c: pa.string(),
        redshift=_redshift_varchar, postgres=_pg_varchar, duckdb=_const("VARCHAR"),
        convert=_text_values, note="VARCHAR(n) characters -> Redshift VARCHAR(4n) bytes, capped at 65535",
    ),
    TypeRule(
        "text", ("tinytext", "text", "mediumtext", "longtext"),
        arrow=lambda c: pa.large_string() if c.data_type in ("mediumtext", "longtext") else pa.string(),
        redshift=lambda c: _redshift_varchar(c) if c.data_type == "tinytext" else f"VARCHAR({REDSHIFT_VARCHAR_MAX})",
        postgres=_const("TEXT"), duckdb=_const("VARCHAR"),
        convert=_text_values, note="longer than 65535 bytes cannot go to Redshift: reported, never truncated",
    ),
    TypeRule(
        "enum", ("enum", "set"),
        arrow=lambda c: pa.string(),
        redshift=_redshift_varchar, postgres=_pg_varchar, duckdb=_const("VARCHAR"),
        convert=_text_values, note="ENUM label / SET as MySQL shows it ('a,b')",
    ),
    TypeRule(
        "uuid_inet", ("uuid", "inet4", "inet6"),
        arrow=lambda c: pa.string(),
        redshift=lambda c: "VARCHAR(36)" if c.data_type == "uuid" else "VARCHAR(39)",
        postgres=lambda c: "UUID" if c.data_type == "uuid" else "INET",
        duckdb=lambda c: "UUID" if c.data_type == "uuid" else "VARCHAR",
        select="CAST({col} AS CHAR)", convert=_text_values,
        note="MariaDB UUID/INET4/INET6 as their text form",
    ),
    TypeRule(
        "json", ("json",),
        arrow=lambda c: pa.large_string(),
        redshift=_const(f"VARCHAR({REDSHIFT_VARCHAR_MAX})"), postgres=_const("JSONB"), duckdb=_const("JSON"),
        convert=_text_values, note="JSON text as stored; JSONB in PostgreSQL",
    ),
    TypeRule(
        "date", ("date",),
        arrow=lambda c: pa.date32(),
        redshift=_const("DATE"), postgres=_const("DATE"), duckdb=_const("DATE"),
        convert=_date_values, note="zero dates ('0000-00-00') become NULL and are counted",
    ),
    TypeRule(
        "datetime", ("datetime",),
        arrow=lambda c: pa.timestamp("us"),
        redshift=_const("TIMESTAMP"), postgres=_const("TIMESTAMP"), duckdb=_const("TIMESTAMP"),
        convert=_datetime_values, note="microseconds kept; zero dates become NULL and are counted",
    ),
    TypeRule(
        "timestamp", ("timestamp",),
        arrow=lambda c: pa.timestamp("us", tz="UTC"),
        redshift=_const("TIMESTAMPTZ"), postgres=_const("TIMESTAMPTZ"), duckdb=_const("TIMESTAMPTZ"),
        convert=_datetime_values, note="read in a +00:00 session: stored as UTC",
    ),
    TypeRule(
        "time", ("time",),
        arrow=lambda c: pa.string(),
        redshift=_const("VARCHAR(20)"), postgres=_const("INTERVAL"), duckdb=_const("INTERVAL"),
        select="CAST({col} AS CHAR)", convert=_text_values,
        note="MySQL TIME spans -838:59:59..838:59:59 (not a time of day): text in Parquet, INTERVAL where the warehouse has one",
    ),
    TypeRule(
        "binary", ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"),
        arrow=lambda c: pa.large_binary() if c.data_type in ("mediumblob", "longblob") else pa.binary(),
        redshift=_redshift_varbyte, postgres=_const("BYTEA"), duckdb=_const("BLOB"),
        convert=_bytes_values,
    ),
    TypeRule(
        "geometry", _GEOMETRY,
        arrow=lambda c: pa.binary(),
        redshift=_const(f"VARBYTE({REDSHIFT_VARBYTE_MAX})"), postgres=_const("BYTEA"), duckdb=_const("BLOB"),
        select="ST_AsBinary({col})", convert=_bytes_values, note="GEOMETRY as standard WKB (no SRID prefix)",
    ),
)

_RULES_BY_TYPE = {t: r for r in TYPE_RULES for t in r.mysql_types}


class UnsupportedType(ValueError):
    pass


def rule_for(column: Column) -> TypeRule:
    try:
        return _RULES_BY_TYPE[column.data_type.lower()]
    except KeyError:
        raise UnsupportedType(
            f"column {column.name!r} has MySQL type {column.data_type!r}, which s3rb-tui has no rule for"
        ) from None


def warehouse_type(column: Column, dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown warehouse dialect {dialect!r}")
    return rule_for(column).warehouse_type(column, dialect)


def preflight(schema: TableSchema, dialect: str) -> list[str]:
    """Warnings about values the warehouse cannot hold, before anything is loaded."""
    out: list[str] = []
    for c in schema.columns:
        try:
            rule = rule_for(c)
        except UnsupportedType as e:
            out.append(str(e))
            continue
        if dialect == "redshift":
            if rule.name == "decimal" and (c.precision or 0) > 38:
                out.append(f"{c.name}: DECIMAL({c.precision},{c.scale}) is wider than Redshift's 38 digits; values cannot be loaded exactly")
            if rule.name in ("text", "json") and c.data_type != "tinytext":
                out.append(f"{c.name}: {c.data_type} values over {REDSHIFT_VARCHAR_MAX} bytes cannot be held by Redshift VARCHAR; the load reports them")
            if rule.name == "binary" and (c.char_length or REDSHIFT_VARBYTE_MAX + 1) > REDSHIFT_VARBYTE_MAX:
                out.append(f"{c.name}: {c.data_type} values over {REDSHIFT_VARBYTE_MAX:,} bytes (16 MiB) cannot be held by Redshift "
                           "VARBYTE; the load reports them")
    if not schema.primary_key:
        out.append("no primary key: backed up as a full snapshot every run")
    elif not schema.cursor_column:
        out.append("no cursor column (" + ", ".join(CURSOR_CANDIDATES) + "): backed up as a full snapshot every run")
    return out


def rows_to_batch(schema: TableSchema, columns: list[list[Any]], stats: ConversionStats) -> pa.RecordBatch:
    """Turn driver values (one Python list per column) into an Arrow batch of the rule types."""
    arrays = []
    for col, values in zip(schema.columns, columns):
        rule = col.rule
        target = rule.arrow(col)
        if rule.convert is not None:
            values = rule.convert(values, col.name, stats)
        if isinstance(values, pa.Array):
            arrays.append(values if values.type == target else values.cast(target))
        else:
            arrays.append(pa.array(values, type=target))
    return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema())


def column_from_arrow(f: pa.Field) -> Column:
    """A Column whose type rule produces ``f``'s Arrow type: the schema of data files when the source
    cannot be asked (``sync --redshift-only`` with MySQL unreachable). It is the closest MySQL type,
    not necessarily the original one: TIME and JSON come back as text (their Parquet form)."""
    t = f.type
    if pa.types.is_decimal(t):
        return Column(f.name, "decimal", precision=t.precision, scale=t.scale)
    if pa.types.is_timestamp(t):
        return Column(f.name, "timestamp" if t.tz else "datetime")
    simple = {
        pa.int8(): ("tinyint", False), pa.int16(): ("smallint", False), pa.int32(): ("int", False),
        pa.int64(): ("bigint", False), pa.uint64(): ("bigint", True), pa.float32(): ("float", False),
        pa.float64(): ("double", False), pa.date32(): ("date", False), pa.string(): ("text", False),
        pa.large_string(): ("longtext", False), pa.binary(): ("blob", False), pa.large_binary(): ("longblob", False),
    }
    if t in simple:
        data_type, unsigned = simple[t]
        return Column(f.name, data_type, unsigned=unsigned)
    raise UnsupportedType(f"column {f.name!r} has Parquet type {t}, which no type rule produces")
