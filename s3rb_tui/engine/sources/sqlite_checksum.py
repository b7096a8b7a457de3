"""SQLite's spelling of the canonical row text (``engine/core/checksum.py``) and the queries ``verify``
runs on a SQLite source (the demo's), through the functions every SQLite connection registers
(``sources/sqlite.py``: ``register_checksum_functions``).

Values are canonicalised as a backup reads them: DECIMALs stored as numbers with ``printf`` at their
scale (what extraction selects), text-stored ones by ``s3rb_decimal``; DATETIME text parsed and
printed by ``s3rb_datetime`` as the warehouses print the loaded value; text lengths in UTF-8 bytes
(``length`` of the text as a BLOB). The rare-value rules the loader applies (NUL where the
warehouse cannot hold it) are MySQL's ``fix_field``, inherited.
"""

from __future__ import annotations

from typing import Any, Iterator

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.sources.mysql_checksum import MySQLCanonical


class SQLiteCanonical(MySQLCanonical):
    dialect = "sqlite"
    placeholder = "?"

    def quote(self, name: str) -> str:
        return quote_sql(name)

    def concat(self, parts) -> str:
        """Always text (a one-column key's text is fetched and compared as text, as MySQL's CONCAT gives it)."""
        return "CAST(" + " || ".join(parts) + " AS TEXT)"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def byte_length(self, expr: str) -> str:
        return f"length(CAST({expr} AS BLOB))"

    def value(self, kind: str, ref: str, column: Column) -> str:
        if kind == "integer":
            return f"CAST(CAST({ref} AS INTEGER) AS TEXT)"
        if kind == "decimal":
            scale = int(column.scale or 0)
            return f"CASE WHEN typeof({ref}) IN ('integer', 'real') THEN printf('%.{scale}f', {ref}) ELSE s3rb_decimal({ref}, {scale}) END"
        if kind in ("text", "json_text", "time_text", "uuid", "inet"):
            return f"CAST({ref} AS TEXT)"
        if kind == "binary":
            return f"CASE WHEN {ref} IS NOT NULL THEN hex({ref}) END"  # SQLite's hex(NULL) is '', not NULL
        if kind == "date":
            return f"s3rb_date({ref})"
        if kind in ("datetime", "timestamp"):  # stored as naive UTC text
            return f"s3rb_datetime({ref}, {min(max(column.precision or 0, 0), 6)})"
        if kind == "time_us":
            return f"s3rb_time_us({ref})"
        raise ValueError(f"no SQLite canonical text for {kind}")

    def hash_sum(self, row_text: str) -> str:
        return f"s3rb_md5_sum({row_text})"

    def bucket(self, key_text: str) -> str:
        return f"s3rb_bucket({key_text})"


class SQLiteQueries:
    """Queries on one SQLiteSource connection (one per verify worker)."""

    def __init__(self, source: Any):
        self.source = source

    def rows(self, sql: str, params: list[Any]) -> list[tuple]:
        import sqlite3

        try:
            return list(self.source.conn.execute(sql, list(params)).fetchall())
        except sqlite3.Error as e:
            raise JobError(f"SQLite error in {self.source.path}: {e}") from None

    def stream(self, sql: str, params: list[Any], size: int = 10_000) -> Iterator[list[tuple]]:
        cur = self.source.conn.execute(sql, list(params))
        try:
            while True:
                chunk = cur.fetchmany(size)
                if not chunk:
                    break
                yield list(chunk)
        finally:
            cur.close()

    def close(self) -> None:
        self.source.close()
