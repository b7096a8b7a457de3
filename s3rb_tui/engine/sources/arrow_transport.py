"""How each column travels through connectorx, and how it is converted back to its type rule's
Arrow type (``TableSchema.arrow_schema()``, engine/core/type_rules.py's rules).

Where connectorx's own decoding is lossy or fails, a column travels as something it decodes
exactly and is converted on this side: DECIMALs of at most 15 digits as DOUBLEs, of at most 18 as
scaled BIGINTs, wider ones beyond rust_decimal's range as text; JSON as text; dates natively until a
page holds one connectorx cannot decode (zero or invalid dates), which is re-read, with every later
page, as text for the rule's converter (zero dates become NULL and are counted). BIT, TIME and
GEOMETRY use the rule's own SQL (``CAST .. AS UNSIGNED``, ``CAST .. AS CHAR``, ``ST_AsBinary``).
Positions are read from the columns as sent where the pymysql path keeps them so
(``keyset.ArrowPositions``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_tui.engine.core.type_families import INTEGER_TYPES, types_of
from s3rb_tui.engine.core.type_rules import Column, ConversionStats, TableSchema
from s3rb_tui.engine.sources.base import InitialScan, SourceBatch
from s3rb_tui.engine.sources.keyset import MYSQL_KEYS, ArrowPositions
from s3rb_tui.engine.core.table_names import quote_mysql

_TEMPORAL = ("date", "datetime", "timestamp")  # rule names that may hold zero dates
_RUST_DECIMAL_DIGITS = 28  # connectorx decodes DECIMAL through rust_decimal (96-bit mantissa) ...
_RUST_DECIMAL_SCALE = 10  # ... rescaled to decimal128(38, 10): at most 18 integer digits, or it fails
_DOUBLE_DIGITS = 15  # DECIMAL(p <= 15, s) travels as a DOUBLE: exact once scaled and rounded (see _unscaled_from_double)
_SCALED_DIGITS = 18  # DECIMAL(p <= 18, s) * 10^s always fits a BIGINT: wider ones up to 18 digits travel as scaled integers
_INTEGER_RULES = INTEGER_TYPES + types_of("bit")  # rules whose connectorx value is the int the pymysql driver gives
_DECIMAL_FROM_INT64 = 19  # the precision Arrow asks for to hold any BIGINT
_YEAR_ONE = dt.datetime(1, 1, 1)  # a native date before it has year 0


@dataclass(frozen=True)
class Transport:
    """How one column travels through connectorx: the SELECT expression, and how it reaches the
    rule's Arrow type: ``cast`` (a plain Arrow cast), ``text`` (the server's text, parsed by the
    rule's converter), ``temporal`` (a native date/datetime, of which year 0 is a zero date) or
    ``scaled`` (a DECIMAL's value * 10^scale as a BIGINT: the decimal's unscaled integer) or
    ``double`` (a DECIMAL of at most 15 digits as the nearest DOUBLE, whose unscaled integer is
    recovered exactly on this side)."""

    select: str
    kind: str


def _transport(c: Column, temporal_as_text: bool) -> Transport:
    rule = c.rule
    q = quote_mysql(c.name)
    if rule.name in _TEMPORAL:
        if temporal_as_text:
            return Transport(f"CAST({q} AS CHAR) AS {q}", "text")
        return Transport(f"{q}", "temporal")
    if rule.name == "decimal" and (c.precision or 10) <= _DOUBLE_DIGITS:
        # connectorx parses DECIMAL text through rust_decimal, its largest client cost on the
        # settlement table; the server's conversion to DOUBLE costs it less than the scaled
        # integer's DECIMAL multiplication below (server CPU per 1M rows x 20 columns: 4.1 s, 5.1 s)
        return Transport(f"({q} + 0e0) AS {q}", "double")
    if rule.name == "decimal" and (c.precision or 10) <= _SCALED_DIGITS:
        # as the integer value * 10^scale, which a DOUBLE cannot carry exactly beyond 15 digits
        scale = c.scale or 0
        return Transport(f"CAST({q} AS SIGNED) AS {q}" if scale == 0 else f"CAST({q} * {10 ** scale} AS SIGNED) AS {q}", "scaled")
    if rule.name == "decimal" and ((c.precision or 10) - (c.scale or 0) > _RUST_DECIMAL_DIGITS - _RUST_DECIMAL_SCALE
                                   or (c.scale or 0) > _RUST_DECIMAL_SCALE):
        # e.g. DECIMAL(25,5) 12345678901234567890.12345: "decimal scale is not equal to expected scale"
        return Transport(f"CAST({q} AS CHAR) AS {q}", "cast")
    if rule.name == "float":  # connectorx reads it in the binary protocol: exact (the rule's SQL is for the text protocol)
        return Transport(q, "cast")
    if rule.name == "json":  # MySQL 8's JSON type is not one connectorx decodes
        return Transport(f"CAST({q} AS CHAR) AS {q}", "cast")
    return Transport(f"{rule.select_expr(c)} AS {q}", "cast")


@dataclass
class ColumnsRead:
    """One read of a table: the columns as native values where connectorx can decode them, and as
    text once a page held a date it cannot (a zero or invalid date): every page after that is text."""

    schema: TableSchema
    converter: "BatchConverter"
    native: list[Transport]
    text: list[Transport]
    use_text: bool = False

    @classmethod
    def of(cls, schema: TableSchema) -> "ColumnsRead":
        return cls(schema, BatchConverter(schema), [_transport(c, False) for c in schema.columns],
                   [_transport(c, True) for c in schema.columns])

    @property
    def transports(self) -> list[Transport]:
        return self.text if self.use_text else self.native


class BatchConverter:
    """connectorx batches as SourceBatches of the rule types, each ending at the position after its
    last row (``keyset.ArrowPositions``: the keyset position, or a snapshot's latest cursor)."""

    def __init__(self, schema: TableSchema):
        self.schema = schema
        self.arrow_schema = schema.arrow_schema()
        self.positions = ArrowPositions(schema, MYSQL_KEYS)

    def batch(self, raw: pa.RecordBatch, transports: list[Transport], scan: InitialScan | None = None) -> SourceBatch:
        return self.batches(raw, transports, scan, max(1, raw.num_rows))[0]

    def batches(self, raw: pa.RecordBatch, transports: list[Transport], scan: InitialScan | None,
                file_rows: int) -> list[SourceBatch]:
        """One query's rows (in keyset or key order) as SourceBatches of ``file_rows`` rows (the
        last may be shorter), each ending at the position after its own last row, so that a run
        stopped after any of them resumes exactly there. The page is converted once and sliced
        (Arrow slices share the page's buffers); when conversion changed values (zero dates), each
        slice is converted by itself, so that every batch counts its own."""
        stats = ConversionStats()
        converted = self._convert(raw, transports, stats)
        if stats.total_zero_dates and raw.num_rows > file_rows:
            return [sb for at in range(0, raw.num_rows, file_rows)
                    for sb in self.batches(raw.slice(at, file_rows), transports, scan, file_rows)]
        batch = pa.RecordBatch.from_arrays(converted, schema=self.arrow_schema)
        # positions hold dates as sent (text or native, as the pymysql path keeps them), integers as
        # connectorx's native ints (BIGINT UNSIGNED is a decimal in the file, an int in a position, as
        # on the pymysql path); others exact-typed
        sent = [raw.column(i) if t.kind in ("text", "temporal") or c.rule.name in _INTEGER_RULES else converted[i]
                for i, (c, t) in enumerate(zip(self.schema.columns, transports))]
        out = []
        for at in range(0, raw.num_rows, file_rows):
            end, nulls = self.positions.end([a.slice(at, file_rows) for a in sent], scan)
            out.append(SourceBatch(batch=batch.slice(at, file_rows), end=end, null_cursor_rows=nulls,
                                   stats=stats if at == 0 else ConversionStats()))
        return out

    def _convert(self, raw: pa.RecordBatch, transports: list[Transport], stats: ConversionStats) -> list[pa.Array]:
        return [_convert(c, t, raw.column(i), stats) for i, (c, t) in enumerate(zip(self.schema.columns, transports))]


def _convert(c: Column, t: Transport, arr: pa.Array, stats: ConversionStats) -> pa.Array:
    rule = c.rule
    target = rule.arrow(c)
    if t.kind == "text":
        if arr.type != pa.string():
            arr = arr.cast(pa.string())
        assert rule.convert is not None  # every rule whose columns may travel as text has a converter
        out = rule.convert(arr, c.name, stats)  # the rule's text path (zero dates counted)
        arr = out if isinstance(out, pa.Array) else pa.array(out, type=target)
    elif t.kind == "temporal" and arr.null_count < len(arr):
        # connectorx decodes every valid calendar date, and year 0, which the rule counts as a zero date
        zero = pc.less(arr, pa.scalar(_YEAR_ONE, arr.type) if pa.types.is_timestamp(arr.type) else pa.scalar(_YEAR_ONE.date(), arr.type))
        n_zero = pc.sum(zero).as_py() or 0
        if n_zero:
            arr = pc.if_else(zero, pa.scalar(None, arr.type), arr)
            stats.add_zero_date(c.name, n_zero)
    elif t.kind == "scaled":
        # the unscaled integers, widened to 128 bits and read with the column's precision and scale
        return arr.cast(pa.decimal128(_DECIMAL_FROM_INT64, 0)).view(target)
    elif t.kind == "double":
        return _unscaled_from_double(arr, c.scale or 0).cast(pa.decimal128(_DECIMAL_FROM_INT64, 0)).view(target)
    return arr if arr.type == target else arr.cast(target)


def _unscaled_from_double(arr: pa.Array, scale: int) -> pa.Array:
    """The unscaled integers (value * 10^scale) of DECIMAL(p <= 15, scale) values sent as DOUBLEs.

    The server converts a DECIMAL to the nearest DOUBLE (MariaDB and MySQL format it and parse it
    with a correctly rounding strtod): relative error at most 2^-53. Multiplying by 10^scale (an
    exact double: scale <= 15) adds one more rounding. With |value * 10^scale| < 10^15 the result
    is within 10^15 * 2^-52 < 0.23 of the integer (0.34 even if the server's conversion were off
    by a whole unit in the last place), so rounding to the nearest integer gives it back exactly.
    At 16 digits the bound passes 0.5: 2^53 + 1 has no double of its own."""
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64())
    scaled = pc.multiply(arr, pa.scalar(float(10 ** scale))) if scale else arr
    return pc.round(scaled).cast(pa.int64())


