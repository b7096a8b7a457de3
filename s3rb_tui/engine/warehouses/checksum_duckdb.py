"""DuckDB's spelling of the canonical row text (``engine/core/checksum.py``) and verify's queries on a
DuckDB warehouse: one cursor per worker on the warehouse's connection (DuckDB runs them at once)."""

from __future__ import annotations

from typing import Any, Iterator

from s3rb_tui.engine.core.checksum import CanonicalSQL
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.core.table_names import quote_sql

_DATETIME = "'%Y-%m-%d %H:%M:%S.%f'"


class DuckDBCanonical(CanonicalSQL):
    dialect = "duckdb"
    placeholder = "?"

    def quote(self, name: str) -> str:
        return quote_sql(name)

    def byte_length(self, expr: str) -> str:
        return f"strlen({expr})"

    def value(self, kind: str, ref: str, column: Column) -> str:
        if kind in ("integer", "decimal", "uuid", "text", "json_text", "time_text", "inet"):
            return f"CAST({ref} AS VARCHAR)"
        if kind == "binary":
            return f"hex({ref})"
        if kind == "date":
            return f"CAST({ref} AS VARCHAR)"
        if kind in ("datetime", "timestamp"):
            utc = f"timezone('UTC', {ref})" if kind == "timestamp" else ref
            return f"CAST({utc} AS VARCHAR)" if not column.precision else f"strftime({utc}, {_DATETIME})"
        if kind == "time_us":
            return f"CAST(epoch_us({ref}) AS VARCHAR)"
        raise ValueError(f"no DuckDB canonical text for {kind}")

    def hash_sum(self, row_text: str) -> str:
        return f"SUM(CAST('0x' || left(md5({row_text}), 15) AS BIGINT))"


    def bucket(self, key_text: str) -> str:
        return f"CAST('0x' || left(md5({key_text}), 8) AS BIGINT)"


class DuckDBQueries:
    def __init__(self, warehouse: Any, owner: bool = False):
        self.warehouse = warehouse
        self.cur = warehouse.con.cursor()
        self.owner = owner

    def rows(self, sql: str, params: list[Any]) -> list[tuple]:
        return list(self.cur.execute(sql, params).fetchall())

    def stream(self, sql: str, params: list[Any], size: int = 10_000) -> Iterator[list[tuple]]:
        result = self.cur.execute(sql, params)
        while True:
            chunk = result.fetchmany(size)
            if not chunk:
                break
            yield list(chunk)

    def close(self) -> None:
        self.cur.close()
        if self.owner:
            self.warehouse.close()
