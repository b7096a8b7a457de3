"""The canonical form of a row, identical on the source and on every warehouse: what ``verify``
checksums and compares.

Each column gets a *kind* from its type rule (``schema.TYPE_RULES``) and the warehouse dialect
it was loaded into; a dialect's ``CanonicalSQL`` spells, for each kind, an SQL expression that
turns a non-NULL value into text, and the same text comes out on both sides:

=============  =======================================================================
kind           canonical text
=============  =======================================================================
integer        decimal digits (BIT and YEAR as their numbers; BIGINT UNSIGNED exact)
decimal        the value at its column's scale (``1.50`` for DECIMAL(10,2))
text           the characters, NUL as U+FFFD where the warehouse cannot hold NUL (``values``)
binary         upper-case hex of the bytes (GEOMETRY: of its WKB)
date           ``YYYY-MM-DD``
datetime       ``YYYY-MM-DD HH:MM:SS`` for DATETIME(0), else ``YYYY-MM-DD HH:MM:SS.ffffff``
               (a warehouse value with a fraction a DATETIME(0) cannot hold prints it, and differs)
timestamp      the same, in UTC
time_us        a MySQL TIME as signed microseconds (the warehouse holds an INTERVAL)
time_text      the TIME text we load (Redshift holds it as VARCHAR)
json_text      the JSON text we load (DuckDB JSON and Redshift VARCHAR keep it verbatim)
uuid / inet    their text form
=============  =======================================================================

Three kinds cannot be spelled identically in SQL and are compared in Python instead (``SIDE_KINDS``),
fetched per segment with the key, so memory stays flat: ``float32``/``float64`` (MariaDB prints
``1e20`` and ``0.0000001`` where PostgreSQL prints ``1e+20`` and ``1e-07``: the bits are compared),
and ``json_doc`` (PostgreSQL's JSONB keeps no text: documents are compared parsed, the first of
duplicate keys winning as MySQL reads them).

A row's text is its fields joined by ``|``; a NULL field is ``N``, a text-like field is prefixed
by its length in bytes and ``:`` — so NULL, ``''`` and ``'NULL'`` differ, and no value can move a
``|`` between two columns. Its hash is the first 15 hex digits (60 bits) of its MD5, the one hash
every dialect has; a segment's checksum is (rows, sum of the hashes), summed exactly (DECIMAL).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from s3rb_tui.engine.core.type_rules import Column

NULL_FIELD = "N"
SEPARATOR = "|"
HASH_HEX_DIGITS = 15
SIDE_KINDS = ("float32", "float64", "json_doc")
LENGTH_PREFIXED = ("text", "json_text", "time_text")

_BY_RULE = {
    "tinyint": "integer", "smallint": "integer", "mediumint": "integer", "int": "integer", "bigint": "integer",
    "bit": "integer", "year": "integer", "decimal": "decimal", "float": "float32", "double": "float64",
    "char": "text", "text": "text", "enum": "text", "date": "date", "datetime": "datetime", "timestamp": "timestamp",
    "binary": "binary", "geometry": "binary",
}


def canonical_kind(column: Column, dialect: str) -> str:
    """The kind of ``column`` once loaded into a ``dialect`` warehouse (from its type rule)."""
    rule = column.rule.name
    if rule in _BY_RULE:
        return _BY_RULE[rule]
    if rule == "uuid_inet":
        return "uuid" if column.data_type == "uuid" else ("inet" if dialect == "postgres" else "text")
    if rule == "time":
        return "time_text" if dialect == "redshift" else "time_us"
    if rule == "json":
        return "json_doc" if dialect == "postgres" else "json_text"
    raise ValueError(f"no canonical form for type rule {rule!r}")


@dataclass(frozen=True)
class Field:
    """One compared column: its source column and its kind for the warehouse's dialect."""

    column: Column
    kind: str

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def in_sql(self) -> bool:
        return self.kind not in SIDE_KINDS


class CanonicalSQL:
    """How one dialect spells the canonical text (module docstring). ``placeholder``: its
    parameter marker; ``quote``: its identifier quoting."""

    dialect = ""
    placeholder = "%s"

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def value(self, kind: str, ref: str, column: Column) -> str:
        """The canonical text of a non-NULL value of ``ref`` (NULL stays NULL)."""
        raise NotImplementedError

    def byte_length(self, expr: str) -> str:
        raise NotImplementedError

    def concat(self, parts: Sequence[str]) -> str:
        return "(" + " || ".join(parts) + ")"

    def hash_sum(self, row_text: str) -> str:
        """SUM of the 60-bit hashes of ``row_text``, exact (DECIMAL/NUMERIC/HUGEINT)."""
        raise NotImplementedError

    def bucket(self, key_text: str) -> str:
        """A key's bucket number: the first 8 hex digits (32 bits) of the MD5 of its text, as an
        integer — the same on every side, whatever order each side sorts the key in."""
        raise NotImplementedError

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def fix_field(self, kind: str, text: str) -> str:
        """A fetched field's text after the rules this side leaves out of its SQL (the source's)."""
        return text

    # --- composed ----------------------------------------------------------------------
    def field(self, f: Field, ref: str) -> str:
        """The field's text in the row: never NULL (``N``), length-prefixed where it is text-like."""
        value = self.value(f.kind, ref, f.column)
        if f.kind in LENGTH_PREFIXED:
            value = self.concat([self.to_text(self.byte_length(value)), "':'", value])
        return f"COALESCE({value}, '{NULL_FIELD}')"

    def row_text(self, fields: Sequence[Field], ref_of) -> str:
        parts: list[str] = []
        for f in fields:
            if parts:
                parts.append(f"'{SEPARATOR}'")
            parts.append(self.field(f, ref_of(f.name)))
        return self.concat(parts) if parts else "''"


# --- the Python side: kinds compared outside SQL, and the same hash ---------------------------


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _json_canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.replace("\x00", "\ufffd"): _json_canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_json_canonical(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value else "NaN"
    return value


def side_text(kind: str, value: Any) -> str:
    """The canonical text of a side kind's value as a driver returns it (either side)."""
    if value is None:
        return NULL_FIELD
    if kind == "float32":
        return struct.pack("<f", float(value)).hex()
    if kind == "float64":
        return struct.pack("<d", float(value)).hex()
    if kind == "json_doc":
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).decode("utf-8")
        if not isinstance(value, str):  # psycopg2 hands JSONB over parsed: back to text, then as any other
            value = json.dumps(value)
        try:
            doc = json.loads(value, object_pairs_hook=_first_key_wins, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            return "T" + value  # not JSON: compared as text
        return json.dumps(_json_canonical(doc), ensure_ascii=False, separators=(",", ":"), default=str)
    raise ValueError(kind)


def text_hash(text: str) -> int:
    """The 60-bit hash of a canonical text, as the SQL computes it."""
    import hashlib

    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS], 16)
