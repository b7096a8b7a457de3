"""PostgreSQL's spelling of the canonical row text (``engine/core/checksum.py``) and verify's queries
on a PostgreSQL (or Redshift) warehouse connection. Reads only: each query's transaction is
rolled back, and streams use a server-side (named) cursor so memory is one chunk."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from s3rb_tui.engine.core.checksum import CanonicalSQL
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.core.table_names import quote_sql

_DATETIME = "'YYYY-MM-DD HH24:MI:SS.US'"
_names = itertools.count()


class PostgresCanonical(CanonicalSQL):
    dialect = "postgres"
    placeholder = "%s"

    def quote(self, name: str) -> str:
        return quote_sql(name)

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def byte_length(self, expr: str) -> str:
        return f"octet_length({expr})"

    def value(self, kind: str, ref: str, column: Column) -> str:
        if kind in ("integer", "decimal", "uuid"):
            return f"CAST({ref} AS TEXT)"
        if kind in ("text", "json_text", "time_text"):
            return f"CAST({ref} AS TEXT)"
        if kind == "binary":
            return f"upper(encode({ref}, 'hex'))"
        if kind == "date":
            return f"CAST({ref} AS TEXT)"  # the session's DateStyle is ISO (PostgresQueries)
        if kind in ("datetime", "timestamp"):
            utc = f"({ref} AT TIME ZONE 'UTC')" if kind == "timestamp" else ref
            return f"CAST({utc} AS TEXT)" if not column.precision else f"to_char({utc}, {_DATETIME})"
        if kind == "time_us":
            return f"CAST(CAST(extract(epoch FROM {ref}) * 1000000 AS BIGINT) AS TEXT)"
        if kind == "inet":
            return f"host({ref})"
        raise ValueError(f"no PostgreSQL canonical text for {kind}")

    def hash_sum(self, row_text: str) -> str:
        return f"SUM(CAST(CAST(('x' || left(md5({row_text}), 15)) AS BIT(60)) AS BIGINT))"


    def bucket(self, key_text: str) -> str:
        return f"CAST(CAST(('x' || left(md5({key_text}), 8)) AS BIT(32)) AS BIGINT)"


class PostgresQueries:
    """Queries on one psycopg2 connection (one per verify worker)."""

    def __init__(self, warehouse: Any):
        self.warehouse = warehouse
        self.conn = warehouse.conn
        with self.conn.cursor() as cur:  # dates and timestamps as text: ISO, whatever the server's default
            cur.execute("SET DateStyle TO 'ISO, MDY'")
        self.conn.commit()

    def rows(self, sql: str, params: list[Any]) -> list[tuple]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            self.conn.rollback()

    def stream(self, sql: str, params: list[Any], size: int = 10_000) -> Iterator[list[tuple]]:
        try:
            with self.conn.cursor(name=f"s3rb_verify_{next(_names)}") as cur:
                cur.itersize = size
                cur.execute(sql, params)
                while True:
                    chunk = cur.fetchmany(size)
                    if not chunk:
                        break
                    yield list(chunk)
        finally:
            self.conn.rollback()

    def close(self) -> None:
        self.warehouse.close()
