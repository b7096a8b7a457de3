"""DuckDB as the warehouse (an embedded file: the demo, and single-machine analytics).

DuckDB reads the Parquet files directly: each file is streamed from the store as Arrow record
batches (row group by row group) and inserted with ``INSERT … SELECT`` — no CSV in between.
One transaction per batch of files holds the inserts, the merge and the ledger rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import datetime as dt
from typing import Any, Callable

import pyarrow as pa

from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.stores.base import ObjectStore
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses import sql, sql_views
from s3rb_tui.engine.warehouses.base import (
    FILES_PER_BATCH, SEQ_COLUMN, BatchLimits, BatchOutcome, LedgerEntry, LoadFile, LoadSpec, Target, Warehouse, adjustment_row,
)
from s3rb_tui.engine.warehouses.files import arrow_schema, iter_batches
from s3rb_tui.engine.warehouses.values import decimal_text

_SOURCE_VIEW = "s3rb_source"
_PROBE = "s3rb_type_probe"


def _scannable_field(f: pa.Field) -> pa.Field:
    # DuckDB cannot scan Arrow decimal256 (DECIMAL wider than 38 digits); the type rule gives those
    # columns VARCHAR in DuckDB, so they go in as their exact text, spelled as MySQL does (``values``).
    return f.with_type(pa.string()) if pa.types.is_decimal256(f.type) else f


def _scannable(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(pa.types.is_decimal256(f.type) for f in batch.schema):
        return batch
    arrays = [decimal_text(col) if pa.types.is_decimal256(col.type) else col for col in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([_scannable_field(f) for f in batch.schema]))


#: rows per load transaction: DuckDB holds a transaction's staged and merged rows in memory until it
#: commits. The demo's first sync (200,000 delivery rows, 25,000-row files; bench/demo_sync.py, one
#: run): peak RSS 449 MB with the common 1,000,000-row limit (one transaction), 388 MB at 50,000,
#: 369 MB at 25,000 (21.0 and 21.4 s against 18.9 s). Each transaction still writes its files' ledger
#: rows with them: a batch is loaded with its ledger rows or not at all.
ROWS_PER_TRANSACTION = 50_000


def duckdb_config(settings) -> dict[str, str | bool | int | float | list[str]]:
    """The connection's configuration: ``DUCKDB_MEMORY_LIMIT`` as DuckDB's ``memory_limit``
    (settings.py checks its form; empty leaves DuckDB's own, 80% of the RAM). DuckDB fills its
    buffer pool up to that limit; the demo's workspace sets 64MB (demo.py has the figures)."""
    limit = settings.str("DUCKDB_MEMORY_LIMIT")
    return {"memory_limit": limit} if limit else {}


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"

    batch_limits = BatchLimits(max_files=FILES_PER_BATCH, max_rows=ROWS_PER_TRANSACTION)

    def __init__(self, settings, store: ObjectStore | None = None, reading: bool = False):
        """``reading`` and no file yet: an empty in-memory database stands in (nothing is created:
        a dry run or ``status`` before the first load must write nothing)."""
        import duckdb

        path = settings.path("DUCKDB_PATH")
        if path is None:
            raise ConfigError("WAREHOUSE_DIALECT=duckdb needs DUCKDB_PATH", "set DUCKDB_PATH=/path/to/warehouse.duckdb")
        self.path = path
        absent = reading and not path.exists()
        if not absent:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(":memory:" if absent else str(path), config=duckdb_config(settings))
        except duckdb.Error as e:
            raise JobError(f"cannot open the DuckDB warehouse {path}: {e}", "check DUCKDB_PATH; only one process can write to a DuckDB file at a time") from None
        self.schema = settings.str("REDSHIFT_SCHEMA")
        self.store = store
        self._duckdb = duckdb

    def version(self) -> str:
        return "DuckDB " + str(self.scalar("SELECT version()"))

    def describe(self) -> str:
        return f"duckdb {self.path}"

    def close(self) -> None:
        try:
            self.con.close()
        except Exception:
            pass

    def scalar(self, query: str, params: tuple | None = None) -> Any:
        rows = self.con.execute(query, params or []).fetchall()  # fetchone() leaves the result open (DuckDB 2.x)
        return rows[0][0] if rows else None

    def _run(self, statements: list[str]) -> None:
        self.con.begin()
        try:
            for s in statements:
                self.con.execute(s)
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise

    def execute_ddl(self, statements: list[str]) -> None:
        self._run(statements)

    # --- DDL --------------------------------------------------------------------------------
    def ensure_schema_and_ledger(self) -> None:
        self._run([f"CREATE SCHEMA IF NOT EXISTS {quote_sql(self.schema)}", sql.create_ledger(self.schema)])

    def table_columns(self, target: Target) -> dict[str, str] | None:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [target.schema, target.name],
        ).fetchall()
        return {n: t for n, t in rows} or None

    def spelled_types(self, columns: list[tuple[str, str]]) -> dict[str, str]:
        if not columns:
            return {}
        self.con.begin()
        try:
            body = ", ".join(f"{quote_sql(n)} {t}" for n, t in columns)
            self.con.execute(f"CREATE TEMP TABLE {quote_sql(_PROBE)} ({body})")
            rows = self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'temp' AND table_name = ?",
                [_PROBE],
            ).fetchall()
        finally:
            self.con.rollback()
        return dict(rows)

    def create_table(self, target: Target, columns: list[tuple[str, str]], distkey: str | None = None, sortkey: tuple[str, ...] = ()) -> None:
        self._run([sql.create_table(target, columns)])

    def add_column(self, target: Target, column: str, type_sql: str, default: str | None = None) -> None:
        self._run([sql.add_column(target, column, type_sql, default)])

    # --- ledger and loads ---------------------------------------------------------------
    def ledger_entries(self, target: Target) -> list[LedgerEntry]:
        rows = self.con.execute(sql.ledger_select(self.schema, "?"), [target.full_name]).fetchall()
        return [LedgerEntry(k, int(r), run) for k, r, run in rows]

    def _insert_file(self, dest_sql: str, f: LoadFile, seq_start: int | None) -> int:
        assert self.store is not None, "a store is needed to load files"
        schema = arrow_schema(self.store, f.key)
        columns = list(f.columns)

        def batches():
            seq = seq_start
            for b in iter_batches(self.store, f.key):
                b = _scannable(b)
                if seq is not None:
                    b = b.append_column(SEQ_COLUMN, pa.array(range(seq, seq + b.num_rows), pa.int64()))
                    seq += b.num_rows
                yield b

        schema = pa.schema([_scannable_field(fl) for fl in schema])
        out_schema = schema.append(pa.field(SEQ_COLUMN, pa.int64())) if seq_start is not None else schema
        reader = pa.RecordBatchReader.from_batches(out_schema, batches())
        self.con.register(_SOURCE_VIEW, reader)
        try:
            names = columns + ([SEQ_COLUMN] if seq_start is not None else [])
            before = self.scalar(f"SELECT COUNT(*) FROM {dest_sql}")
            self.con.execute(f"INSERT INTO {dest_sql} ({sql.cols(names)}) SELECT {sql.cols(names)} FROM {quote_sql(_SOURCE_VIEW)}")
            after = self.scalar(f"SELECT COUNT(*) FROM {dest_sql}")
        finally:
            self.con.unregister(_SOURCE_VIEW)
        return int(after) - int(before)

    def load_batch(self, target: Target, files: list[LoadFile], spec: LoadSpec, run_id: str,
                   progress: Callable[[int], None] | None = None, ledger_only: Sequence[LoadFile] = ()) -> BatchOutcome:
        outcome = BatchOutcome(rows=0)
        now = dt.datetime.now(dt.timezone.utc)
        table = self.table_columns(target) or {}
        columns = list(table)
        self.con.begin()
        try:
            dest = target.sql
            seq: int | None = None
            before = int(self.scalar(f"SELECT COUNT(*) FROM {target.sql}")) if spec.history else 0
            if spec.mode == "merge":
                dest = quote_sql(sql.STAGE_TABLE)
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {dest} AS SELECT *, CAST(NULL AS BIGINT) AS {quote_sql(SEQ_COLUMN)} FROM {target.sql} LIMIT 0")
                seq = 0
            elif spec.mode == "replace":
                self.con.execute(f"DELETE FROM {target.sql}")
            for f in files:
                n = self._insert_file(dest, f, seq)
                if n != f.rows:
                    raise JobError(f"{f.key}: inserted {n} rows but the file holds {f.rows}", "the file may have been replaced; check the store")
                if seq is not None:
                    seq += n
                outcome.rows += n
                outcome.files.append(f.key)
                if progress:
                    progress(n)
            if spec.mode == "merge":
                if spec.history and spec.cursor:
                    merge = sql_views.history_statements(target, dest, table, spec.keys, spec.cursor, spec.key_match,
                                                         (SEQ_COLUMN,), spec.delete_keys, now)
                else:
                    merge = sql.merge_statements(target, dest, columns, spec.keys, key_match=spec.key_match, deletes=spec.delete_keys)
                for s in merge:
                    self.con.execute(s)
                self.con.execute(f"DROP TABLE {dest}")
            rows = [(f.key, target.full_name, f.rows, now, run_id) for f in files]
            rows += [(f.key, target.full_name, 0, now, run_id) for f in ledger_only]
            if spec.history:
                after = int(self.scalar(f"SELECT COUNT(*) FROM {target.sql}"))
                rows += adjustment_row(files, target.full_name, before, after, outcome.rows, now, run_id, spec.ledger_rows)
            if rows:
                self.con.executemany(sql.ledger_insert(self.schema, "?"), rows)
            self.con.commit()
        except self._duckdb.ConstraintException:
            self.con.rollback()
            raise JobError(
                f"some of these files are already in the load ledger of {target.full_name}",
                "run again: files in the ledger are skipped",
            ) from None
        except Exception:
            self.con.rollback()
            raise
        return outcome
