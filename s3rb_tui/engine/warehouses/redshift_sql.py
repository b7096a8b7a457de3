"""The statements sent to Redshift, built by pure functions (golden-tested in
tests/unit/test_redshift_sql.py): session settings, COPY (Parquet or the CSV method) with its
authorization and manifest, the stage tables, a batch's statements in order, and the load-error
look-ups. Each statement follows a rule of AWS's Database Developer Guide (named where it is used).

Names: every identifier reaches these functions already folded (``fold``): Redshift folds ASCII
letters of quoted names to lower case unless ``enable_case_sensitive_identifier`` is on, and each
session sets it off (``SESSION_SETTINGS``), so the names we send, create and look up in the
catalog are the names Redshift keeps, whatever the cluster's parameter group says.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Callable

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses import sql, sql_views
from s3rb_tui.engine.warehouses.base import SEQ_COLUMN, LoadFile, LoadSpec, Target

MANIFEST_PREFIX = "redshift/manifests/"
CSV_PREFIX = "redshift/csv/"
FILE_STAGE = "s3rb_stage_file"  # one COPY's rows, in exactly the file's columns (positional Parquet COPY)
NULL_MARK = "\\N"  # SQL NULL in the CSV method's files (an empty field is the empty string)
SESSION_SETTINGS = ("SET enable_case_sensitive_identifier TO false",)
# "COPY from columnar data formats": the only options a Parquet COPY accepts besides FROM,
# IAM_ROLE/CREDENTIALS and MANIFEST; MAXERROR, REGION, GZIP, TRUNCATECOLUMNS and ACCEPTANYDATE are refused.
PARQUET_OPTIONS = ("ACCEPTINVCHARS", "FILLRECORD", "SERIALIZETOJSON", "STATUPDATE", "EXPLICIT_IDS")
_OPTION_WORDS = re.compile(r"^(?:[A-Za-z0-9_ .\-]|'[^'\\]')*$")  # words, numbers, one quoted character


def fold(name: str) -> str:
    """A name as Redshift keeps it with enable_case_sensitive_identifier off (identifiers are ASCII:
    ``tables.validate_identifier``)."""
    return name.lower()


def fold_target(target: Target) -> Target:
    return Target(fold(target.schema), fold(target.name))


def literal(value: str) -> str:
    """A Redshift string literal (backslashes are escapes in Redshift literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class CopyAuth:
    """How COPY reads the bucket ("Authorization parameters"): ``IAM_ROLE default`` (the bare
    keyword: the cluster's default role), ``IAM_ROLE 'arn:…'``, or the store's keys as
    ``CREDENTIALS 'aws_access_key_id=…;aws_secret_access_key=…[;token=…]'`` — the one key syntax
    both the Parquet and the CSV COPY accept; temporary (STS) keys need their session token."""

    iam_role: str = ""
    access_key: str = ""
    secret_key: str = ""
    session_token: str = ""

    def clause(self) -> str:
        if self.iam_role:
            role = self.iam_role.strip()
            return "IAM_ROLE default" if role.lower() == "default" else f"IAM_ROLE {literal(role)}"
        if self.access_key and self.secret_key:
            creds = f"aws_access_key_id={self.access_key};aws_secret_access_key={self.secret_key}"
            if self.session_token:
                creds += f";token={self.session_token}"
            return f"CREDENTIALS {literal(creds)}"
        raise ConfigError("Redshift COPY needs REDSHIFT_IAM_ROLE or S3_ACCESS_KEY/S3_SECRET_KEY",
                          "set REDSHIFT_IAM_ROLE to a role the cluster can assume (or 'default' for its default role)")

    def redact(self, text: str) -> str:
        for secret in sorted((self.secret_key, self.session_token), key=len, reverse=True):  # a token may contain the key
            if secret:
                text = text.replace(secret, "****").replace(literal(secret)[1:-1], "****")
        return text


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def manifest_json(bucket: str, files: list[LoadFile]) -> str:
    """A COPY manifest: every file mandatory, with ``meta.content_length`` (a Parquet COPY needs it:
    "Using a manifest to specify data files")."""
    entries = [{"url": s3_url(bucket, f.key), "mandatory": True, "meta": {"content_length": f.size}} for f in files]
    return json.dumps({"entries": entries}, indent=2)


def copy_options(raw: str, fmt: str) -> tuple[str, list[str]]:
    """REDSHIFT_COPY_OPTIONS checked and normalised for one load format; (options, warnings).

    A Parquet COPY takes PARQUET_OPTIONS only: the others are left out with a warning (a Parquet
    COPY fails on the first bad value whatever MAXERROR says); the CSV method takes everything.
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


def copy_statement(dest_sql: str, manifest_url: str, auth: CopyAuth, fmt: str, options: str, *,
                   columns: list[str] | None = None, region: str = "") -> str:
    """One COPY of a manifest's files into ``dest_sql``.

    Parquet: no column list, ever ("COPY from columnar data formats": values go into the table's
    columns by position, and the table and the file have the same number of columns) and no REGION
    (refused: the bucket must be in the cluster's region). The CSV method: an optional column list,
    gzip, NULL written as ``NULL_MARK`` (an empty field stays the empty string), REGION when set.
    """
    if fmt == "parquet":
        assert columns is None, "a Parquet COPY takes no column list"
        parts = [f"COPY {dest_sql}", f"FROM {literal(manifest_url)}", auth.clause(), "FORMAT AS PARQUET", "MANIFEST"]
    else:
        words = options.upper().split()
        parts = [f"COPY {dest_sql}" + (f" ({sql.cols(columns)})" if columns else ""), f"FROM {literal(manifest_url)}", auth.clause(),
                 "FORMAT AS CSV" + ("" if "GZIP" in words else " GZIP"), f"NULL AS {literal(NULL_MARK)}",
                 "TIMEFORMAT 'auto' DATEFORMAT 'auto'", "MANIFEST"]
        if region:
            parts.append(f"REGION {literal(region)}")
    if options:
        parts.append(options)
    return "\n".join(parts)


@dataclass(frozen=True)
class CopyUnit:
    """Files that go in with one COPY: consecutive in the committed history, one column set, one
    format, and (for merge loads) one backup run. ``seq`` is its place in the batch."""

    files: tuple[LoadFile, ...]
    fmt: str  # parquet | csv
    seq: int
    manifest_key: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(fold(c) for c in self.files[0].columns)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def plan_units(files: list[tuple[LoadFile, str]], run_of: Callable[[LoadFile], str] | None) -> list[CopyUnit]:
    """Group a batch's (file, format) into COPY units, keeping the committed order. ``run_of``
    (merge loads) also cuts at every new backup run: Redshift cannot number the rows inside one
    COPY, so the merge orders by unit first and by the cursor inside one — exact for files our
    backup writes, because one run reads forward only (a key read twice in one run has a strictly
    greater cursor the second time), while a rewind (``watermark set`` to the past) starts a new run."""
    out: list[CopyUnit] = []
    current: list[LoadFile] = []
    key = None
    for f, fmt in files:
        k = (tuple(fold(c) for c in f.columns), fmt, run_of(f) if run_of else None)
        if current and k != key:
            out.append(CopyUnit(tuple(current), key[1], len(out)))  # type: ignore[index]
            current = []
        current.append(f)
        key = k
    if current:
        out.append(CopyUnit(tuple(current), key[1], len(out)))  # type: ignore[index]
    return out


def create_stage(name: str, columns: list[tuple[str, str]], seq: bool = False) -> str:
    """A temporary table with exactly ``columns`` (name, type) in that order (plus the load sequence)."""
    body = [f"{quote_sql(n)} {t}" for n, t in columns] + ([f"{quote_sql(SEQ_COLUMN)} BIGINT"] if seq else [])
    return f"CREATE TEMP TABLE {quote_sql(name)} ({', '.join(body)})"


CopyBuilder = Callable[[str, CopyUnit, "list[str] | None"], str]


def batch_statements(target: Target, table: list[tuple[str, str]], spec: LoadSpec, units: list[CopyUnit],
                     copy: CopyBuilder, now: "dt.datetime | None" = None) -> list[str]:
    """The statements of one batch, in order (between BEGIN and the ledger insert + COMMIT).

    ``table``: the target's (folded name, type) in table order. A unit whose files have exactly the
    table's columns is copied straight in (append, replace, or a one-unit merge); any other Parquet
    unit goes through ``FILE_STAGE`` (the file's columns, in the file's order, with the table's types)
    and ``INSERT … SELECT`` by name. A merge stages everything, then deletes the target rows whose key
    is staged and inserts the version extracted last per key (``sql.merge_statements``); an append
    table's repair batch (``spec.history``) is staged the same way (``sql_views.history_statements``). ``DELETE``,
    never ``TRUNCATE``, inside the load transaction ("TRUNCATE" commits the transaction it runs in).
    """
    names = [n for n, _ in table]
    types = dict(table)
    merge = spec.mode == "merge"
    numbered = merge and len(units) > 1  # only then does the merge need the unit's place
    dest = quote_sql(sql.STAGE_TABLE) if merge else target.sql
    out: list[str] = []
    if merge:
        out.append(create_stage(sql.STAGE_TABLE, table, seq=numbered))
    elif spec.mode == "replace":
        out.append(f"DELETE FROM {target.sql}")
    for unit in units:
        cols = list(unit.columns)
        missing = [c for c in cols if c not in types]
        assert not missing, f"columns {missing} of {unit.files[0].key} are not in {target.full_name} (checked before)"
        if list(cols) == names and not numbered:
            out.append(copy(dest, unit, None))
        elif unit.fmt == "csv" and not numbered:
            out.append(copy(dest, unit, cols))  # a CSV COPY maps columns by name
        else:
            out.append(create_stage(FILE_STAGE, [(c, types[c]) for c in cols]))
            out.append(copy(quote_sql(FILE_STAGE), unit, None))
            into = cols + ([SEQ_COLUMN] if numbered else [])
            select = sql.cols(cols) + (f", {unit.seq}" if numbered else "")
            out.append(f"INSERT INTO {dest} ({sql.cols(into)}) SELECT {select} FROM {quote_sql(FILE_STAGE)}")
            out.append(f"DROP TABLE {quote_sql(FILE_STAGE)}")
    if merge:
        stage = quote_sql(sql.STAGE_TABLE)
        order = ((SEQ_COLUMN,) if numbered else ()) + ((fold(spec.cursor),) if spec.cursor else ())
        if spec.history and spec.cursor:
            out.extend(sql_views.history_statements(target, stage, types, tuple(fold(k) for k in spec.keys), fold(spec.cursor),
                                                    spec.key_match, order, spec.delete_keys, now or dt.datetime.now(dt.timezone.utc)))
        else:
            out.extend(sql.merge_statements(target, stage, names, tuple(fold(k) for k in spec.keys), order, spec.key_match,
                                            spec.delete_keys))
        out.append(f"DROP TABLE {stage}")
    return out


SERVERLESS_HOST = ".redshift-serverless."  # <workgroup>.<account>.<region>.redshift-serverless.amazonaws.com


def deployment(settings) -> str:
    """``provisioned`` or ``serverless``: REDSHIFT_DEPLOYMENT, or (auto) the endpoint's host name."""
    chosen = settings.str("REDSHIFT_DEPLOYMENT")
    if chosen != "auto":
        return chosen
    return "serverless" if SERVERLESS_HOST in settings.str("REDSHIFT_HOST").lower() else "provisioned"


def region_note(settings) -> str:
    """What config and status say about the bucket's region (a Parquet COPY cannot take REGION)."""
    region = settings.str("S3_REGION")
    if settings.str("REDSHIFT_LOAD_FORMAT") == "parquet":
        return (f"the bucket must be in the cluster's region: a Parquet COPY takes no REGION, so S3_REGION={region} "
                "is not passed to Redshift (REDSHIFT_LOAD_FORMAT=csv passes it)")
    return f"COPY is given REGION '{region}' (the CSV method may read a bucket in another region)"


def config_notes(settings) -> list[str]:
    """What config and status say about a Redshift warehouse (empty for the other dialects)."""
    dialect = settings.str("WAREHOUSE_DIALECT")
    if dialect == "redshift" or (dialect == "auto" and settings.str("REDSHIFT_HOST")):
        return [f"Redshift deployment: {deployment(settings)} (REDSHIFT_DEPLOYMENT={settings.str('REDSHIFT_DEPLOYMENT')})"
                + ("; load errors from SYS_LOAD_ERROR_DETAIL only, never STL views" if deployment(settings) == "serverless" else ""),
                region_note(settings)]
    return []



# --- load errors ("SYS_LOAD_ERROR_DETAIL", "STL_LOAD_ERRORS", "Migrating to SYS monitoring views") ---
# A failed statement aborts the transaction (only ROLLBACK is accepted after it), and
# pg_last_copy_id() is not updated for a COPY whose transaction is rolled back: the rows are found
# by this session's process id instead, newest first, and kept only for this batch's files.
SYS_LOAD_ERRORS = (
    "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(column_type), TRIM(error_message) "
    "FROM sys_load_error_detail WHERE session_id = %s ORDER BY start_time DESC LIMIT 20"
)
STL_LOAD_ERRORS = (  # provisioned clusters only (Serverless cannot read STL views)
    "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(type), TRIM(err_reason) "
    "FROM stl_load_errors WHERE session = %s ORDER BY starttime DESC LIMIT 20"
)
