"""PostgreSQL as the warehouse (Aurora/RDS PostgreSQL, and our stand-in for Redshift in tests).

Files are streamed from the store into ``COPY … FROM STDIN (FORMAT csv)``: Parquet row groups ->
CSV text -> the socket, never a whole file in memory. One transaction per batch of files holds
the COPYs, the merge (if any) and the ledger rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import datetime as dt
from typing import Any, Callable

import psycopg2
import psycopg2.extras

from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.stores.base import ObjectStore
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses import sql, sql_views
from s3rb_tui.engine.warehouses.base import SEQ_COLUMN, BatchOutcome, LedgerEntry, LoadFile, LoadSpec, Target, Warehouse, adjustment_row
from s3rb_tui.engine.warehouses.files import ChunkReader, csv_chunks, prefetched
from s3rb_tui.engine.warehouses.values import BatchFix, PostgresValues, ValueRepairs

COPY_READ_SIZE = 1 << 20
_PROBE = "s3rb_type_probe"


def connect(settings, host: str | None = None, port: int | None = None, application_name: str = "s3rb-tui"):
    """A psycopg2 connection from REDSHIFT_* settings; failures name host, port and user, never the password."""
    h = host or settings.str("REDSHIFT_HOST")
    p = port or settings.int("REDSHIFT_PORT")
    user = settings.str("REDSHIFT_USER")
    db = settings.str("REDSHIFT_DATABASE")
    if not h:
        raise ConfigError("REDSHIFT_HOST is empty", "set REDSHIFT_HOST (or WAREHOUSE_DIALECT=duckdb with DUCKDB_PATH)")
    try:
        conn = psycopg2.connect(
            host=h, port=p, user=user or None, password=settings.str("REDSHIFT_PASSWORD") or None, dbname=db,
            connect_timeout=min(settings.int("BACKUP_TIMEOUT_SECONDS"), 60), application_name=application_name,
        )
    except psycopg2.Error as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        password = settings.str("REDSHIFT_PASSWORD")
        if password:
            reason = reason.replace(password, "****")
        raise JobError(
            f"cannot connect to the warehouse at {h}:{p} as user {user or '(default)'} (database {db}): {reason}",
            "check REDSHIFT_HOST/PORT/USER/PASSWORD/DATABASE, the network path, or the SSH tunnel settings",
        ) from None
    conn.autocommit = False
    return conn


class PostgresWarehouse(Warehouse):
    dialect = "postgres"

    def __init__(self, conn, settings, store: ObjectStore | None = None, where: str = ""):
        self.conn = conn
        self.settings = settings
        self.schema = settings.str("REDSHIFT_SCHEMA")
        self.store = store
        self.where = where
        self.timeout_ms = settings.int("REDSHIFT_LOAD_TIMEOUT") * 1000
        with self.conn.cursor() as cur:
            cur.execute(f"SET statement_timeout TO {int(self.timeout_ms)}")
        self.conn.commit()

    # --- connection ---------------------------------------------------------------------
    def version(self) -> str:
        return str(self.scalar("SELECT version()"))

    def describe(self) -> str:
        return f"{self.dialect} {self.where}".strip()

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass

    def _run(self, statements: list[str], params: list[tuple] | None = None) -> None:
        try:
            with self.conn.cursor() as cur:
                for i, s in enumerate(statements):
                    cur.execute(s, params[i] if params else None)
            self.conn.commit()
        except Exception:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:
            pass

    def scalar(self, query: str, params: tuple | None = None) -> Any:
        try:
            with self.conn.cursor() as cur:
                cur.execute(query, params)
                row = cur.fetchone()
            self.conn.commit()
        except Exception:
            self._rollback()
            raise
        return row[0] if row else None

    def execute_ddl(self, statements: list[str]) -> None:
        self._run(statements)

    # --- DDL --------------------------------------------------------------------------------
    def ensure_schema_and_ledger(self) -> None:
        self._run([f"CREATE SCHEMA IF NOT EXISTS {quote_sql(self.schema)}", sql.create_ledger(self.schema)])

    _COLUMNS_SQL = (
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
    )

    def table_columns(self, target: Target) -> dict[str, str] | None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(self._COLUMNS_SQL, (target.schema, target.name))
                rows = cur.fetchall()
            self.conn.commit()
        except Exception:
            self._rollback()
            raise
        return {name: typ for name, typ in rows} or None

    def spelled_types(self, columns: list[tuple[str, str]]) -> dict[str, str]:
        """Create the columns in a temporary table, read back how the server spells them, roll back."""
        if not columns:
            return {}
        probe = Target("pg_temp", _PROBE)
        try:
            with self.conn.cursor() as cur:
                body = ", ".join(f"{quote_sql(n)} {t}" for n, t in columns)
                cur.execute(f"CREATE TEMP TABLE {quote_sql(_PROBE)} ({body})")
                cur.execute(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    f"WHERE a.attrelid = '{probe.sql}'::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                )
                out = dict(cur.fetchall())
        finally:
            self._rollback()
        return out

    def create_table(self, target: Target, columns: list[tuple[str, str]], distkey: str | None = None, sortkey: tuple[str, ...] = ()) -> None:
        self._run([sql.create_table(target, columns)])

    def add_column(self, target: Target, column: str, type_sql: str, default: str | None = None) -> None:
        self._run([sql.add_column(target, column, type_sql, default)])

    # --- ledger and loads ---------------------------------------------------------------
    def ledger_entries(self, target: Target) -> list[LedgerEntry]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql.ledger_select(self.schema, folded=self.ledger_folded), (self.ledger_name(target),))
                rows = cur.fetchall()
            self.conn.commit()
        except Exception:
            self._rollback()
            raise
        return [LedgerEntry(k, int(r), run) for k, r, run in rows]

    def _copy_file(self, cur, dest_sql: str, f: LoadFile, fix: BatchFix | None = None) -> int:
        assert self.store is not None, "a store is needed to load files"
        columns = list(f.columns)
        reader = ChunkReader(prefetched(csv_chunks(self.store, f.key, columns, fix=fix)))
        cur.copy_expert(f"COPY {dest_sql} ({sql.cols(columns)}) FROM STDIN WITH (FORMAT csv)", reader, size=COPY_READ_SIZE)
        return cur.rowcount

    def _stage(self, cur, target: Target) -> str:
        stage = quote_sql(sql.STAGE_TABLE)
        cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {target.sql}) ON COMMIT DROP")
        cur.execute(f"ALTER TABLE {stage} ADD COLUMN {quote_sql(SEQ_COLUMN)} BIGINT GENERATED ALWAYS AS IDENTITY")
        return stage

    def load_batch(self, target: Target, files: list[LoadFile], spec: LoadSpec, run_id: str,
                   progress: Callable[[int], None] | None = None, ledger_only: Sequence[LoadFile] = ()) -> BatchOutcome:
        outcome = BatchOutcome(rows=0)
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with self.conn.cursor() as cur:
                cur.execute(self._COLUMNS_SQL, (target.schema, target.name))
                typed = cur.fetchall()
                columns = [name for name, _ in typed]
                repairs = ValueRepairs(target.full_name, spec.keys)
                json_columns = {name for name, t in typed if t == "jsonb"}
                dest = target.sql
                before = self._count_in_txn(cur, target) if spec.history else 0
                if spec.mode == "merge":
                    dest = self._stage(cur, target)
                elif spec.mode == "replace":
                    cur.execute(f"DELETE FROM {target.sql}")
                for f in files:
                    n = self._copy_file(cur, dest, f, PostgresValues(repairs, json_columns))
                    if n != f.rows:
                        raise JobError(f"{f.key}: COPY took {n} rows but the file holds {f.rows}", "the file may have been replaced; check the store")
                    outcome.rows += n
                    outcome.files.append(f.key)
                    if progress:
                        progress(n)
                if spec.mode == "merge":
                    if spec.history and spec.cursor:
                        merge = sql_views.history_statements(target, dest, dict(typed), spec.keys, spec.cursor, spec.key_match,
                                                             (SEQ_COLUMN,), spec.delete_keys, now)
                    else:
                        merge = sql.merge_statements(target, dest, columns, spec.keys, key_match=spec.key_match, deletes=spec.delete_keys)
                    for s in merge:
                        cur.execute(s)
                rows = [(f.key, target.full_name, f.rows, now, run_id) for f in files]
                rows += [(f.key, target.full_name, 0, now, run_id) for f in ledger_only]
                if spec.history:
                    rows += adjustment_row(files, target.full_name, before, self._count_in_txn(cur, target), outcome.rows, now, run_id,
                                         spec.ledger_rows)
                psycopg2.extras.execute_batch(cur, sql.ledger_insert(self.schema), rows)
            self.conn.commit()
            outcome.warnings = repairs.warnings()
        except psycopg2.errors.UniqueViolation:
            self._rollback()
            raise JobError(
                f"some of these files are already in the load ledger of {target.full_name} (another run loaded them meanwhile)",
                "run again: files in the ledger are skipped",
            ) from None
        except Exception:
            self._rollback()
            raise
        return outcome

    def _count_in_txn(self, cur, target: Target) -> int:
        cur.execute(f"SELECT COUNT(*) FROM {target.sql}")
        return int(cur.fetchone()[0])

    def table_columns_in_txn(self, cur, target: Target) -> list[str]:
        cur.execute(self._COLUMNS_SQL, (target.schema, target.name))
        return [name for name, _ in cur.fetchall()]
