"""Amazon Redshift: ``COPY … FROM 's3://…manifest' MANIFEST`` inside one transaction per batch.

The statements are built by pure functions (golden-tested in tests/unit/test_redshift_sql.py):
the manifest JSON, the COPY (Parquet by default, or the v1.2 gzipped-CSV method), the DDL with
DISTKEY/SORTKEY and the merge. The CSV method (``REDSHIFT_LOAD_FORMAT=csv``) writes gzipped CSV
under ``redshift/csv/``; like v1.2's, it cannot tell NULL from empty text in VARCHAR columns
(Parquet, the default, can). Credentials go into COPY only; every statement is logged through
``redact`` (the secret key and session token become ``****``). On a failed COPY the rows of
``stl_load_errors`` for that COPY are added to the error.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from dataclasses import dataclass
from typing import Callable

import psycopg2
import psycopg2.extras

from s3rb_tui.engine.errors import ConfigError, JobError
from s3rb_tui.engine.stores.base import ObjectStore
from s3rb_tui.engine.tables import quote_sql
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import BatchOutcome, LoadFile, LoadSpec, Target
from s3rb_tui.engine.warehouses.files import csv_chunks
from s3rb_tui.engine.warehouses.postgres import PostgresWarehouse

MANIFEST_PREFIX = "redshift/manifests/"
CSV_PREFIX = "redshift/csv/"
LOAD_ERRORS_SQL = (
    "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason), TRIM(raw_field_value) "
    "FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY starttime DESC LIMIT 10"
)
_OPTION_WORDS = re.compile(r"^(?:[A-Za-z0-9_ .\-]|'[^'\\]')*$")  # words, numbers, one quoted character


@dataclass(frozen=True)
class CopyAuth:
    iam_role: str = ""
    access_key: str = ""
    secret_key: str = ""
    session_token: str = ""

    def clause(self) -> str:
        if self.iam_role:
            return f"IAM_ROLE {_literal(self.iam_role)}"
        if self.access_key and self.secret_key:
            out = f"ACCESS_KEY_ID {_literal(self.access_key)} SECRET_ACCESS_KEY {_literal(self.secret_key)}"
            if self.session_token:
                out += f" SESSION_TOKEN {_literal(self.session_token)}"
            return out
        raise ConfigError("Redshift COPY needs REDSHIFT_IAM_ROLE or S3_ACCESS_KEY/S3_SECRET_KEY", "set REDSHIFT_IAM_ROLE to a role Redshift can assume")

    def redact(self, text: str) -> str:
        for secret in (self.secret_key, self.session_token):
            if secret:
                text = text.replace(secret, "****")
        return text


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def manifest_json(bucket: str, files: list[LoadFile]) -> str:
    """A COPY manifest: every file mandatory, with content_length (required for Parquet)."""
    entries = [{"url": s3_url(bucket, f.key), "mandatory": True, "meta": {"content_length": f.size}} for f in files]
    return json.dumps({"entries": entries}, indent=2)


PARQUET_OPTIONS = ("ACCEPTINVCHARS", "FILLRECORD")  # the only data options COPY … FORMAT AS PARQUET accepts


def copy_options(raw: str, fmt: str) -> tuple[str, list[str]]:
    """REDSHIFT_COPY_OPTIONS checked and normalised for the load format; (options, warnings).

    Parquet COPY accepts ACCEPTINVCHARS and FILLRECORD only (MAXERROR, TRUNCATECOLUMNS, GZIP and the
    other text options are refused by Redshift): those are left out with a warning; the CSV method
    (REDSHIFT_LOAD_FORMAT=csv) passes everything through.
    """
    raw = " ".join(raw.split())
    if not _OPTION_WORDS.match(raw):
        raise ConfigError(f"REDSHIFT_COPY_OPTIONS={raw!r} has characters COPY options never need", "use words like MAXERROR 10 TRUNCATECOLUMNS ACCEPTINVCHARS")
    tokens = raw.split()
    warnings = []
    if fmt != "parquet":
        if "TRUNCATECOLUMNS" in (t.upper() for t in tokens):
            warnings.append("REDSHIFT_COPY_OPTIONS has TRUNCATECOLUMNS: text longer than its column is cut silently, not reported")
        return raw, warnings
    kept, dropped = [], []
    i = 0
    while i < len(tokens):
        up = tokens[i].upper()
        group = [tokens[i]]
        # an option's arguments: numbers, AS, quoted replacement characters
        while i + len(group) < len(tokens) and (tokens[i + len(group)].upper() == "AS" or tokens[i + len(group)][0] in "'0123456789"):
            group.append(tokens[i + len(group)])
        if up in PARQUET_OPTIONS:
            kept.append(" ".join(group))
        elif [t.upper() for t in group] != ["MAXERROR", "0"]:  # MAXERROR 0 is what a Parquet COPY does anyway
            dropped.append(" ".join(group))
        i += len(group)
    if dropped:
        warnings.append(f"REDSHIFT_COPY_OPTIONS {' '.join(dropped)} are not accepted by COPY … FORMAT AS PARQUET and are left out "
                        "(a Parquet COPY fails on the first bad row; REDSHIFT_LOAD_FORMAT=csv uses them)")
    return " ".join(kept), warnings


def copy_statement(dest_sql: str, columns: list[str], manifest_url: str, auth: CopyAuth, fmt: str, options: str, region: str = "") -> str:
    parts = [f"COPY {dest_sql} ({sql.cols(columns)})", f"FROM {_literal(manifest_url)}", auth.clause()]
    if fmt == "parquet":
        parts.append("FORMAT AS PARQUET")
    else:
        words = options.upper().split()
        parts.append("FORMAT AS CSV" + ("" if "GZIP" in words else " GZIP"))
        parts.append("TIMEFORMAT 'auto' DATEFORMAT 'auto'")
    parts.append("MANIFEST")
    if region and fmt != "parquet":  # columnar COPY refuses REGION (the bucket must be in the cluster's region)
        parts.append(f"REGION {_literal(region)}")
    if options:
        parts.append(options)
    return "\n".join(parts)


def stage_statement(target: Target) -> str:
    return f"CREATE TEMP TABLE {quote_sql(sql.STAGE_TABLE)} (LIKE {target.sql})"


def load_statements(target: Target, columns: list[str], spec: LoadSpec, copies: list[str]) -> list[str]:
    """The statements of one batch, in order (between BEGIN and the ledger insert + COMMIT)."""
    out: list[str] = []
    if spec.mode == "merge":
        out.append(stage_statement(target))
    elif spec.mode == "replace":
        out.append(f"DELETE FROM {target.sql}")
    out.extend(copies)
    if spec.mode == "merge":
        stage = quote_sql(sql.STAGE_TABLE)
        out.extend(sql.merge_statements(target, stage, columns, spec.keys, (spec.cursor,) if spec.cursor else (), spec.key_match))
        out.append(f"DROP TABLE {stage}")
    return out


class RedshiftWarehouse(PostgresWarehouse):
    dialect = "redshift"

    def __init__(self, conn, settings, store: ObjectStore | None = None, where: str = "", log: Callable[..., None] | None = None):
        super().__init__(conn, settings, store, where)
        self.log = log or (lambda *a, **k: None)
        self.bucket = settings.str("S3_BUCKET_NAME")
        self.region = settings.str("S3_REGION")
        self.fmt = settings.str("REDSHIFT_LOAD_FORMAT")
        self.auth = CopyAuth(
            iam_role=settings.str("REDSHIFT_IAM_ROLE"),
            access_key=settings.str("S3_ACCESS_KEY"),
            secret_key=settings.str("S3_SECRET_KEY"),
        )
        self.options, self.option_warnings = copy_options(settings.str("REDSHIFT_COPY_OPTIONS"), self.fmt)
        self._batches = 0  # numbers this connection's manifests

    def fold(self, name: str) -> str:
        return name.lower()

    def create_table(self, target: Target, columns: list[tuple[str, str]], distkey: str | None = None, sortkey: tuple[str, ...] = ()) -> None:
        self._run([sql.create_table(target, columns, distkey=distkey, sortkey=sortkey, redshift=True)])

    def spelled_types(self, columns: list[tuple[str, str]]) -> dict[str, str]:
        if not columns:
            return {}
        try:
            with self.conn.cursor() as cur:
                body = ", ".join(f"{quote_sql(n)} {t}" for n, t in columns)
                cur.execute(f"CREATE TEMP TABLE {quote_sql('s3rb_type_probe')} ({body})")
                cur.execute(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "WHERE c.relname = 's3rb_type_probe' AND pg_table_is_visible(c.oid) AND a.attnum > 0"
                )
                out = dict(cur.fetchall())
        finally:
            self._rollback()
        return out

    def _stage_files(self, files: list[LoadFile], run_id: str, n: int) -> list[tuple[str, tuple[str, ...], int]]:
        """Write the manifests (one per column set); for the CSV method, the gzipped CSV files first.
        Returns (manifest key, columns, rows) per manifest."""
        assert self.store is not None
        groups: dict[tuple[str, ...], list[LoadFile]] = {}
        for f in files:
            groups.setdefault(f.columns, []).append(f)
        out = []
        for i, (columns, group) in enumerate(groups.items()):
            entries = group
            if self.fmt == "csv":
                entries = []
                for f in group:
                    body = gzip.compress(b"".join(csv_chunks(self.store, f.key, list(columns), hex_prefix="")))
                    key = CSV_PREFIX + f.key.rsplit(".parquet", 1)[0] + ".csv.gz"
                    self.store.put(key, body)
                    entries.append(LoadFile(key=key, rows=f.rows, size=len(body), columns=columns))
            key = f"{MANIFEST_PREFIX}{run_id}/batch_{n:04d}_{i:02d}.manifest"
            self.store.put(key, manifest_json(self.bucket, entries).encode("utf-8"))
            out.append((key, columns, sum(f.rows for f in group)))
        return out

    def load_batch(self, target: Target, files: list[LoadFile], spec: LoadSpec, run_id: str,
                   progress: Callable[[int], None] | None = None, ledger_only: list[LoadFile] = ()) -> BatchOutcome:
        if not self.bucket or self.store is None or not self.store.url.startswith("s3://"):
            raise ConfigError("Redshift loads from S3: the store must be an S3 bucket", "unset STORE_URL and set S3_BUCKET_NAME")
        self._batches += 1
        manifests = self._stage_files(files, run_id, self._batches) if files else []
        outcome = BatchOutcome(rows=0, files=[f.key for f in files])
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with self.conn.cursor() as cur:
                columns = self.table_columns_in_txn(cur, target)
                dest = quote_sql(sql.STAGE_TABLE) if spec.mode == "merge" else target.sql
                copies = [copy_statement(dest, [self.fold(c) for c in cols], s3_url(self.bucket, key), self.auth, self.fmt, self.options, self.region)
                          for key, cols, _ in manifests]
                for s in load_statements(target, columns, spec, copies):
                    self.log("warehouse statement", level="debug", statement=self.auth.redact(s))
                    cur.execute(s)
                    if s.startswith("COPY"):
                        cur.execute("SELECT pg_last_copy_count()")
                        n = int(cur.fetchone()[0])
                        outcome.rows += n
                        if progress:
                            progress(n)
                expected = sum(f.rows for f in files)
                if outcome.rows != expected:
                    raise JobError(f"COPY loaded {outcome.rows} rows into {target.full_name} but the files hold {expected}",
                                   "check REDSHIFT_COPY_OPTIONS MAXERROR and stl_load_errors")
                # Redshift does not enforce the ledger's primary key; the per-table lock keeps two
                # runs off one table. The ledger is not read inside this transaction on purpose:
                # parallel table loads that read and then write one shared table abort each other
                # with "serializable isolation violation"; blind inserts just queue.
                rows = [(f.key, target.full_name, f.rows, now, run_id) for f in files]
                rows += [(f.key, target.full_name, 0, now, run_id) for f in ledger_only]
                psycopg2.extras.execute_batch(cur, sql.ledger_insert(self.schema), rows)
            self.conn.commit()
        except psycopg2.Error as e:
            self._rollback()
            detail = self._load_errors()
            msg = self.auth.redact(str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__)
            raise JobError(f"Redshift load of {target.full_name} failed: {msg}" + (f"; stl_load_errors: {detail}" if detail else ""),
                           "nothing of this batch was loaded; fix the cause and run again") from None
        except Exception:
            self._rollback()
            raise
        return outcome

    def _load_errors(self) -> str:
        try:
            with self.conn.cursor() as cur:
                cur.execute(LOAD_ERRORS_SQL)
                rows = cur.fetchall()
            self.conn.commit()
        except Exception:
            self._rollback()
            return ""
        return "; ".join(f"{f} line {ln} column {c}: {r} (value {v!r})" for f, ln, c, r, v in rows)
