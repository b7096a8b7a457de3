"""Redshift's spelling of the canonical row text (``engine/core/checksum.py``); queries go through
``checksum_postgres.PostgresQueries`` (the same protocol).

Redshift's documented functions only: ``MD5``, ``STRTOL(text, 16)`` (BIGINT), ``FROM_VARBYTE(v,
'hex')``, ``TO_CHAR`` with ``US`` (microseconds), ``CONVERT_TIMEZONE``, ``OCTET_LENGTH``. SUM of a
BIGINT is a BIGINT in Redshift: each hash is cast to DECIMAL(38,0) first, so a segment of any size
sums exactly. TIME and JSON are VARCHAR holding the text we loaded; identifiers are folded to
lower case, as Redshift stores them. Tested by golden tests (tests/unit/test_checksum_sql.py) and
on a real cluster by scripts/redshift_smoke.py.
"""

from __future__ import annotations

from s3rb_tui.engine.core.checksum import CanonicalSQL
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.core.table_names import quote_sql

_DATETIME = "'YYYY-MM-DD HH24:MI:SS.US'"


class RedshiftCanonical(CanonicalSQL):
    dialect = "redshift"
    placeholder = "%s"

    def quote(self, name: str) -> str:
        return quote_sql(name.lower())

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def byte_length(self, expr: str) -> str:
        return f"OCTET_LENGTH({expr})"

    def value(self, kind: str, ref: str, column: Column) -> str:
        if kind in ("integer", "decimal"):
            return f"CAST({ref} AS VARCHAR)"
        if kind in ("text", "json_text", "time_text", "uuid", "inet"):
            return ref
        if kind == "binary":
            return f"UPPER(FROM_VARBYTE({ref}, 'hex'))"
        if kind == "date":
            return f"TO_CHAR({ref}, 'YYYY-MM-DD')"
        if kind in ("datetime", "timestamp"):  # DATETIME(0): Redshift's own text, which shows a fraction only when there is one
            utc = f"CONVERT_TIMEZONE('UTC', {ref})" if kind == "timestamp" else ref
            return f"CAST({utc} AS VARCHAR)" if not column.precision else f"TO_CHAR({utc}, {_DATETIME})"
        raise ValueError(f"no Redshift canonical text for {kind}")

    def hash_sum(self, row_text: str) -> str:
        return f"SUM(CAST(STRTOL(LEFT(MD5({row_text}), 15), 16) AS DECIMAL(38,0)))"

    def bucket(self, key_text: str) -> str:
        return f"STRTOL(LEFT(MD5({key_text}), 8), 16)"
