"""Amazon Redshift (provisioned clusters and Serverless): ``COPY … FROM 's3://…manifest' MANIFEST``
inside one transaction per batch, with the batch's ledger rows.

The statements come from ``redshift_sql`` (pure, golden-tested); this module runs them:

- **Session.** ``enable_case_sensitive_identifier`` is set off in every session, and every name
  this warehouse sends or looks up in the catalog is folded (``redshift_sql.fold``): a mixed-case
  MySQL table, column or ``REDSHIFT_SCHEMA`` is found again on the next run, whatever the parameter
  group says ("Names and identifiers").
- **Files.** Before anything is issued, each file's footer is held against the columns it goes
  into (``redshift_types``): a file Redshift cannot read as Parquet but whose values fit (uint64
  written by earlier versions) goes through the CSV method; one it cannot load at all stops the
  table with one line naming the file, the column and both types. A batch is as many files as
  ``REDSHIFT_LOAD_BATCH_MB`` allows, in as few COPYs as their column sets allow (one manifest per
  COPY), so every slice gets files to read.
- **Errors.** A failed COPY aborts the transaction; after the rollback its rows are read from
  ``SYS_LOAD_ERROR_DETAIL`` (Serverless and provisioned), then ``STL_LOAD_ERRORS`` (provisioned
  only), by this session's process id, and added to the error with file, line, column and reason.
- **Secrets.** Credentials go into COPY only; every statement is logged through ``redact``.
"""

from __future__ import annotations

from collections.abc import Sequence

import dataclasses
import datetime as dt
from typing import Callable

import psycopg2
import psycopg2.extras

from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.stores.layout import parse_data_key
from s3rb_tui.engine.stores.base import ObjectStore
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import BatchLimits, BatchOutcome, LoadFile, LoadSpec, Target, adjustment_row
from s3rb_tui.engine.warehouses.files import write_gzip_csv
from s3rb_tui.engine.warehouses.postgres import PostgresWarehouse
from s3rb_tui.engine.warehouses.redshift_sql import (CSV_PREFIX, MANIFEST_PREFIX, NULL_MARK, SESSION_SETTINGS, STL_LOAD_ERRORS,
                                                     SYS_LOAD_ERRORS, CopyAuth, CopyUnit, batch_statements, copy_options,
                                                     copy_statement, deployment, fold, fold_target, manifest_json, plan_units,
                                                     s3_url)
from s3rb_tui.engine.warehouses.redshift_types import verdict
from s3rb_tui.engine.warehouses.values import PostgresValues, ValueRepairs

def _backup_run(f: LoadFile) -> str:
    """The backup run that wrote ``f`` (its run stamp; a key outside the layout is a run of its own)."""
    dk = parse_data_key(f.key)
    return dk.position.run_stamp if dk else f.key


class RedshiftWarehouse(PostgresWarehouse):
    dialect = "redshift"

    def __init__(self, conn, settings, store: ObjectStore | None = None, where: str = "", log: Callable[..., None] | None = None):
        super().__init__(conn, settings, store, where)
        self.log = log or (lambda *a, **k: None)
        self.schema = fold(self.schema)
        self.bucket = settings.str("S3_BUCKET_NAME")
        self.region = settings.str("S3_REGION")
        self.fmt = settings.str("REDSHIFT_LOAD_FORMAT")
        self.deployment = deployment(settings)
        self.auth = CopyAuth(
            iam_role=settings.str("REDSHIFT_IAM_ROLE"),
            access_key=settings.str("S3_ACCESS_KEY"),
            secret_key=settings.str("S3_SECRET_KEY"),
            session_token=settings.str("S3_SESSION_TOKEN"),
        )
        raw = settings.str("REDSHIFT_COPY_OPTIONS")
        self.options = {fmt: copy_options(raw, fmt)[0] for fmt in ("parquet", "csv")}
        self.option_warnings = copy_options(raw, self.fmt)[1]
        self.batch_limits = BatchLimits(max_files=None, max_rows=None, max_bytes=settings.int("REDSHIFT_LOAD_BATCH_MB") << 20)
        self._batches = 0  # numbers this connection's manifests
        with self.conn.cursor() as cur:
            for s in SESSION_SETTINGS:
                cur.execute(s)
            cur.execute("SELECT pg_backend_pid()")
            self.pid = int(cur.fetchone()[0])  # the session_id of our COPYs in the SYS/STL views
        self.conn.commit()

    def describe(self) -> str:
        return f"redshift ({self.deployment}) {self.where}".strip()

    # --- names: folded everywhere -----------------------------------------------------------
    def fold(self, name: str) -> str:
        return fold(name)

    ledger_folded = True  # rows written by earlier versions may hold the unfolded name

    def ledger_name(self, target: Target) -> str:
        return fold(target.full_name)

    def table_columns(self, target: Target) -> dict[str, str] | None:
        return super().table_columns(fold_target(target))

    def table_columns_in_txn(self, cur, target: Target) -> list[str]:
        return super().table_columns_in_txn(cur, fold_target(target))

    def create_table(self, target: Target, columns: list[tuple[str, str]], distkey: str | None = None, sortkey: tuple[str, ...] = ()) -> None:
        self._run([sql.create_table(fold_target(target), [(fold(n), t) for n, t in columns], distkey=fold(distkey) if distkey else None,
                                    sortkey=tuple(fold(k) for k in sortkey), redshift=True)])

    def add_column(self, target: Target, column: str, type_sql: str, default: str | None = None) -> None:
        self._run([sql.add_column(fold_target(target), fold(column), type_sql, default)])

    def spelled_types(self, columns: list[tuple[str, str]]) -> dict[str, str]:
        if not columns:
            return {}
        try:
            with self.conn.cursor() as cur:
                body = ", ".join(f"{quote_sql(fold(n))} {t}" for n, t in columns)
                cur.execute(f"CREATE TEMP TABLE {quote_sql('s3rb_type_probe')} ({body})")
                cur.execute(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "WHERE c.relname = 's3rb_type_probe' AND pg_table_is_visible(c.oid) AND a.attnum > 0"
                )
                out = dict(cur.fetchall())
        finally:
            self._rollback()
        return out

    # --- loads ------------------------------------------------------------------------------
    def _formats(self, target: Target, files: list[LoadFile], types: dict[str, str]) -> list[tuple[LoadFile, str]]:
        """(file, parquet | csv) for each file, after holding its footer against the table; refuses
        (JobError, nothing issued) a file a COPY cannot load exactly."""
        out = []
        for f in files:
            missing = [c for c in f.columns if fold(c) not in types]
            if missing:
                raise JobError(f"{f.key}: column(s) {', '.join(missing)} are not in {target.full_name}; nothing of this batch was loaded",
                               "add them to the warehouse table (a sync with the source reachable adds new columns)")
            fmt = self.fmt
            for name, pt in zip(f.columns, f.types) if fmt == "parquet" else ():
                v = verdict(pt, types[fold(name)])
                if v.how == "refuse":
                    raise JobError(f"{f.key}: column {name} is {pt} in the file but {types[fold(name)]} in {target.full_name}: "
                                   f"{v.reason}; nothing of this batch was loaded",
                                   "alter the warehouse column to a type that holds the values, or load with REDSHIFT_LOAD_FORMAT=csv")
                if v.how == "csv" and fmt == "parquet":
                    fmt = "csv"
                    self.log("file loaded by the CSV method", level="info", file=f.key, column=name, reason=v.reason)
            if f.nul_text and fmt == "parquet":  # a Parquet COPY fails on NUL; the CSV method applies the text rule
                fmt = "csv"
                self.log("file loaded by the CSV method", level="info", file=f.key, column=f.nul_text[0], reason="text with NUL")
            out.append((f, fmt))
        return out

    def _stage_units(self, target: Target, units: list[CopyUnit], run_id: str, repairs: ValueRepairs) -> list[CopyUnit]:
        """Write each unit's manifest (and, for the CSV method, its gzipped CSV files, through the
        text value rule of ``values``) to S3."""
        assert self.store is not None
        self._batches += 1
        out = []
        for unit in units:
            entries: list[LoadFile] = list(unit.files)
            if unit.fmt == "csv":
                entries = []
                for f in unit.files:
                    key = CSV_PREFIX + f.key.rsplit(".parquet", 1)[0] + ".csv.gz"
                    size = write_gzip_csv(self.store, f.key, key, NULL_MARK, PostgresValues(repairs, set(), "Redshift text"))
                    entries.append(dataclasses.replace(f, key=key, size=size))
            # per table: the tables of one run load at once (REDSHIFT_MAX_PARALLEL_LOADS), each from its own connection
            key = f"{MANIFEST_PREFIX}{run_id}/{target.full_name}/batch_{self._batches:04d}_{unit.seq:02d}.manifest"
            self.store.put(key, manifest_json(self.bucket, entries).encode("utf-8"))
            out.append(dataclasses.replace(unit, manifest_key=key, files=tuple(entries)))
        return out

    def _copy_sql(self, dest: str, unit: CopyUnit, columns: list[str] | None) -> str:
        return copy_statement(dest, s3_url(self.bucket, unit.manifest_key), self.auth, unit.fmt, self.options[unit.fmt],
                              columns=columns, region=self.region if unit.fmt == "csv" else "")

    def load_batch(self, target: Target, files: list[LoadFile], spec: LoadSpec, run_id: str,
                   progress: Callable[[int], None] | None = None, ledger_only: Sequence[LoadFile] = ()) -> BatchOutcome:
        if not self.bucket or self.store is None or not self.store.url.startswith("s3://"):
            raise ConfigError("Redshift loads from S3: the store must be an S3 bucket", "unset STORE_URL and set S3_BUCKET_NAME")
        folded = fold_target(target)
        table = list((self.table_columns(folded) or {}).items())
        units = plan_units(self._formats(target, files, dict(table)), _backup_run if spec.mode == "merge" else None)
        repairs = ValueRepairs(target.full_name, spec.keys)
        units = self._stage_units(target, units, run_id, repairs) if files else []
        outcome = BatchOutcome(rows=0, files=[f.key for f in files])
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with self.conn.cursor() as cur:
                before = self._count_in_txn(cur, folded) if spec.history else 0
                pending = iter(units)
                for s in batch_statements(folded, table, spec, units, self._copy_sql, now) if units else []:
                    self.log("warehouse statement", level="debug", statement=self.auth.redact(s))
                    cur.execute(s)
                    if s.startswith("COPY"):
                        unit = next(pending)
                        cur.execute("SELECT pg_last_copy_count()")
                        n = int(cur.fetchone()[0])
                        if n != unit.rows:
                            raise JobError(f"COPY loaded {n} rows of {unit.manifest_key} into {target.full_name} but its files hold {unit.rows}",
                                           "check REDSHIFT_COPY_OPTIONS (MAXERROR) and SYS_LOAD_ERROR_DETAIL; nothing of this batch was loaded")
                        outcome.rows += n
                        if progress:
                            progress(n)
                # Redshift does not enforce the ledger's primary key; the per-table lock keeps two
                # runs off one table, and readers count a file once. The ledger is not read inside
                # this transaction on purpose: parallel table loads that read and then write one
                # shared table abort each other ("serializable isolation violation"); blind inserts queue.
                name = self.ledger_name(target)
                rows = [(f.key, name, f.rows, now, run_id) for f in files] + [(f.key, name, 0, now, run_id) for f in ledger_only]
                if spec.history:  # the versions the repair batch replaced (ADJUSTMENT_SUFFIX)
                    rows += adjustment_row(files, name, before, self._count_in_txn(cur, folded), outcome.rows, now, run_id, spec.ledger_rows)
                if rows:
                    psycopg2.extras.execute_values(cur, sql.ledger_insert(self.schema, "%s", many=True), rows, page_size=1000)
            self.conn.commit()
            outcome.warnings = repairs.warnings()
        except psycopg2.Error as e:
            self._rollback()
            detail = self._load_errors([f.key for u in units for f in u.files])
            raise JobError(f"Redshift load of {target.full_name} failed: {self._first_lines(e)}" + (f"; load errors: {detail}" if detail else ""),
                           "nothing of this batch was loaded; fix the cause and run again") from None
        except Exception:
            self._rollback()
            raise
        return outcome

    def _count_in_txn(self, cur, target: Target) -> int:
        query = f"SELECT COUNT(*) FROM {target.sql}"
        self.log("warehouse statement", level="debug", statement=query)
        cur.execute(query)
        return int(cur.fetchone()[0])

    def _first_lines(self, e: psycopg2.Error) -> str:
        """The error's first line, and for a Parquet COPY the Spectrum context line (many Parquet
        errors are only in the SQL error text)."""
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
        text = lines[0] if lines else e.__class__.__name__
        context = next((ln for ln in lines[1:] if ln.startswith("context:")), "")
        return self.auth.redact(text + (f" ({context})" if context else ""))

    def _load_errors(self, keys: list[str]) -> str:
        """File, line, column and reason of this batch's load errors: SYS_LOAD_ERROR_DETAIL, then
        (provisioned clusters only) STL_LOAD_ERRORS; never STL/STV/SVL views on Serverless."""
        queries = [SYS_LOAD_ERRORS] + ([STL_LOAD_ERRORS] if self.deployment == "provisioned" else [])
        for query in queries:
            try:
                with self.conn.cursor() as cur:
                    cur.execute(query, (self.pid,))
                    rows = cur.fetchall()
                self.conn.commit()
            except Exception:
                self._rollback()
                continue
            ours = [r for r in rows if r[0] and any(str(r[0]).strip().endswith(k) for k in keys)]
            if ours:
                return self.auth.redact("; ".join(f"{f} line {ln} column {c} ({t}): {r}" for f, ln, c, t, r in ours[:10]))
        return ""
