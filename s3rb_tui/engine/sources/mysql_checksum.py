"""MySQL/MariaDB's spelling of the canonical row text (``engine/core/checksum.py``) and the queries
``verify`` runs on the source, through the source's own connection (its retries, its UTC session).

Text columns of a character set other than UTF-8 are converted first, so that lengths and MD5
see the bytes the warehouse holds. DATETIME and TIMESTAMP are their own text (``CONCAT`` prints
them with the column's fractional digits), padded to microseconds with a literal: DATE_FORMAT
cost 0.65 s per 250,000 rows of the settlement table's five DATETIMEs, and ``REPLACE`` of NUL in
its 20 text columns 1.3 s of a 4.2 s checksum (this machine, MariaDB 10.11). Both rules the
loader applies to rare values — NUL in text where the warehouse cannot hold it (U+FFFD,
``warehouses/values.py``) and zero dates (NULL) — are therefore applied in ``fix_field``, to the
fetched rows: a segment holding such a value never checksums equal, is bisected down and
compared row by row, where the rule makes it equal.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pymysql

from s3rb_tui.engine.core.checksum import CanonicalSQL
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.core.table_names import quote_mysql

_ZERO_DATE = re.compile(r"^(0000|\d{4}-00|\d{4}-\d\d-00)")  # what the loader turns into NULL (schema._INVALID_DATE)
_UTF8 = ("utf8", "utf8mb3", "utf8mb4", "ascii")


class MySQLCanonical(CanonicalSQL):
    dialect = "mysql"
    placeholder = "%s"

    def __init__(self, target_dialect: str):
        self.nul_free = target_dialect in ("postgres", "redshift")  # where the loader replaced NUL

    def quote(self, name: str) -> str:
        return quote_mysql(name)

    def concat(self, parts) -> str:
        return "CONCAT(" + ", ".join(parts) + ")"

    def to_text(self, expr: str) -> str:
        return expr  # CONCAT turns numbers into text itself

    def byte_length(self, expr: str) -> str:
        return f"LENGTH({expr})"

    def value(self, kind: str, ref: str, column: Column) -> str:
        if kind == "integer":
            if column.data_type == "bit":
                return f"CAST({ref} AS UNSIGNED)"
            return f"({ref} + 0)" if column.data_type == "year" else ref
        if kind == "decimal":
            return ref
        if kind in ("text", "json_text"):
            charset = (column.collation or "utf8mb4").split("_")[0]
            expr = ref if charset in _UTF8 or column.data_type == "json" else f"CONVERT({ref} USING utf8mb4)"
            if column.data_type == "json":
                expr = f"CAST({ref} AS CHAR)"
            return expr
        if kind == "binary":
            return f"HEX(ST_AsBinary({ref}))" if column.rule.name == "geometry" else f"HEX({ref})"
        if kind == "date":
            return ref
        if kind in ("datetime", "timestamp"):  # the session runs in +00:00: TIMESTAMP as UTC
            digits = min(max(column.precision or 0, 0), 6)
            return ref if digits in (0, 6) else f"CONCAT({ref}, '{'0' * (6 - digits)}')"
        if kind == "time_us":
            return f"CAST(TIME_TO_SEC({ref}) * 1000000 AS SIGNED)"
        if kind in ("time_text", "uuid", "inet"):
            return f"CAST({ref} AS CHAR)"
        raise ValueError(f"no MySQL canonical text for {kind}")

    def hash_sum(self, row_text: str) -> str:
        return f"SUM(CAST(CONV(LEFT(MD5({row_text}), 15), 16, 10) AS UNSIGNED))"

    def bucket(self, key_text: str) -> str:
        return f"CAST(CONV(LEFT(MD5({key_text}), 8), 16, 10) AS UNSIGNED)"

    def fix_field(self, kind: str, text: str) -> str:
        """The loader's rules for rare values (module docstring), on one fetched field."""
        if kind in ("date", "datetime", "timestamp") and _ZERO_DATE.match(text):
            return "N"
        if self.nul_free and kind in ("text", "json_text") and "\x00" in text:
            value = text.split(":", 1)[1].replace("\x00", "\ufffd")
            return f"{len(value.encode('utf-8'))}:{value}"
        return text


class MySQLQueries:
    """Queries on one MySQLSource connection (one per verify worker)."""

    def __init__(self, source: Any):
        self.source = source

    def rows(self, sql: str, params: list[Any]) -> list[tuple]:
        def run(conn):
            with conn.cursor() as cur:
                cur.execute(sql, list(params))
                return list(cur.fetchall())

        return self.source.run("MySQL verify query", run)

    def stream(self, sql: str, params: list[Any], size: int = 10_000) -> Iterator[list[tuple]]:
        """Rows in chunks through an unbuffered cursor: memory is one chunk."""
        conn = self.source.run("MySQL verify read", lambda c: c)
        cur = conn.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql, list(params))
            while True:
                chunk = cur.fetchmany(size)
                if not chunk:
                    break
                yield list(chunk)
        except BaseException:
            self.source.abandon(cur)
            raise
        cur.close()

    def close(self) -> None:
        self.source.close()
