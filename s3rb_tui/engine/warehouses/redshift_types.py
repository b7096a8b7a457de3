"""Which Parquet column types a Redshift column accepts from ``COPY … FORMAT AS PARQUET``: the one
compatibility table, held against every file's footer before a COPY is issued.

Redshift reads Parquet through Spectrum and matches physical types strictly; AWS publishes no full
table, so this one is conservative: each Parquet type maps to the Redshift column types our own
type rules pair it with (``engine/core/type_rules.py``), and nothing wider. What users have reported, and
what the table therefore refuses:

- an unsigned 64-bit integer (``UINT_64``): no Redshift column accepts it;
- a DECIMAL whose FIXED_LEN_BYTE_ARRAY is not the minimal width for its precision ("has an
  invalid type length. Expecting: 8 len in file: 13"), or whose precision or scale differ from the
  column's;
- timestamps in nanoseconds (misread); TIME (no Redshift type takes it from Parquet).

Three verdicts per (file column, table column): ``parquet`` (COPY the file as it is), ``csv`` (the
values fit the column, but not as these Parquet types: the file is loaded by the CSV method, which
parses text — how files written by earlier versions, with uint64 columns, still load), or
``refuse`` (one line naming the file, the column and both types). The smoke script
(``scripts/redshift_smoke.py``) confirms the ``parquet`` pairs on a real cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3rb_tui.engine.warehouses.parquet_types import ParquetType

# Parquet kinds (below) -> the Redshift column families a Parquet COPY loads them into
PARQUET_ACCEPTS: dict[str, tuple[str, ...]] = {
    "boolean": ("boolean",),
    "int8": ("smallint", "integer"),  # INT32 annotated INT(8): TINYINT
    "int16": ("smallint", "integer"),  # INT32 annotated INT(16): SMALLINT, YEAR, TINYINT UNSIGNED
    "int32": ("integer",),
    "int64": ("bigint",),
    "float": ("real",),
    "double": ("double precision",),
    "string": ("varchar", "char"),  # BYTE_ARRAY UTF8 (and JSON/ENUM annotations)
    "binary": ("varbyte",),
    "date": ("date",),
    "timestamp": ("timestamp",),  # micro- or milliseconds, not adjusted to UTC
    "timestamp_utc": ("timestamptz",),  # adjusted to UTC
    "int96": ("timestamp",),  # the legacy Spark/Impala timestamp
    "decimal": ("numeric",),  # same precision and scale, minimal FIXED_LEN_BYTE_ARRAY width
}
_INT_BITS = {"smallint": 16, "integer": 32, "bigint": 64}


@dataclass(frozen=True)
class ColumnType:
    """A Redshift column type, from our DDL (``DECIMAL(20,0)``) or the catalog's spelling
    (``numeric(20,0)``, ``character varying(256)``, ``timestamp with time zone``)."""

    family: str
    precision: int = 0
    scale: int = 0

    @classmethod
    def parse(cls, spelled: str) -> "ColumnType":
        s = " ".join(spelled.lower().split())
        m = re.match(r"^(decimal|numeric)\s*\((\d+)\s*(?:,\s*(\d+))?\)$", s)
        if m:
            return cls("numeric", int(m.group(2)), int(m.group(3) or 0))
        base = re.sub(r"\s*\(.*\)$", "", s)
        families = {
            "smallint": "smallint", "int2": "smallint", "integer": "integer", "int": "integer", "int4": "integer",
            "bigint": "bigint", "int8": "bigint", "real": "real", "float4": "real", "double precision": "double precision",
            "float8": "double precision", "boolean": "boolean", "bool": "boolean", "date": "date",
            "timestamp": "timestamp", "timestamp without time zone": "timestamp",
            "timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
            "varchar": "varchar", "character varying": "varchar", "text": "varchar", "char": "char", "character": "char",
            "bpchar": "char", "varbyte": "varbyte", "binary varying": "varbyte", "varbinary": "varbyte", "bytea": "varbyte",
            "super": "super", "decimal": "numeric", "numeric": "numeric",
        }
        return cls(families.get(base, base))


@dataclass(frozen=True)
class Verdict:
    how: str  # parquet | csv | refuse
    reason: str = ""


def minimal_decimal_bytes(precision: int) -> int:
    """The FIXED_LEN_BYTE_ARRAY width Parquet writers use (and Redshift expects) for a precision."""
    n = 1
    while 2 ** (8 * n - 1) < 10**precision:
        n += 1
    return n


def _integer_range(kind: str) -> tuple[int, int] | None:
    m = re.match(r"^(u?)int(\d+)$", kind)
    if not m:
        return None
    bits = int(m.group(2))
    return (0, 2**bits - 1) if m.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _fits_as_text(pt: ParquetType, col: ColumnType) -> bool:
    """The column parses every value of ``pt`` written as text exactly (the CSV method)."""
    span = _integer_range(pt.kind)
    if span is not None:
        lo, hi = span
        if col.family in _INT_BITS:
            bits = _INT_BITS[col.family]
            return -(2 ** (bits - 1)) <= lo and hi <= 2 ** (bits - 1) - 1
        return col.family == "numeric" and col.scale == 0 and len(str(hi)) <= col.precision
    if pt.kind == "decimal" and col.family == "numeric":
        return col.scale >= pt.scale and col.precision - col.scale >= pt.precision - pt.scale
    return pt.kind in ("string", "time") and col.family == "varchar"


def verdict(pt: ParquetType, column_type: str) -> Verdict:
    col = ColumnType.parse(column_type)
    accepted = PARQUET_ACCEPTS.get(pt.kind, ())
    if col.family in accepted:
        if pt.kind != "decimal":
            return Verdict("parquet")
        if (pt.precision, pt.scale) == (col.precision, col.scale) and pt.physical == "FIXED_LEN_BYTE_ARRAY" \
                and pt.length == minimal_decimal_bytes(pt.precision):
            return Verdict("parquet")
    if _fits_as_text(pt, col):
        return Verdict("csv", f"{pt} is not a Parquet type Redshift loads into {column_type}")
    why = {"uint64": "no Redshift column accepts an unsigned 64-bit Parquet integer",
           "timestamp_ns": "Redshift misreads nanosecond timestamps", "time": "Redshift cannot load TIME from Parquet"}
    return Verdict("refuse", why.get(pt.kind, f"Redshift does not load {pt} into {column_type}"))
