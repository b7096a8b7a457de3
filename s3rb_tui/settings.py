"""Typed settings from ``.env`` and the environment; validation; a masked view for display.

One table (``VARIABLES``) describes every variable: its default, type, whether it is a secret,
and what it means. ``.env.example`` and the README's configuration table are written from it.
Precedence: the process environment wins over the ``.env`` file (as python-dotenv does by
default), so a cron job can override one value without editing the file.
"""

from __future__ import annotations

import builtins

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from s3rb_tui.engine.core.batch_sizes import FILE_ROWS, PYMYSQL_QUERY_ROWS, QUERY_ROWS, auto_chunks
from s3rb_tui.engine.core.errors import ConfigError, UsageError
from s3rb_tui.engine.core.table_names import validate_identifier


@dataclass(frozen=True)
class Var:
    name: str
    default: str
    kind: str  # str | int | bool | path | choice
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()
    group: str = "general"
    minimum: int | None = None
    auto: Callable[[], int] | None = None  # an int variable that also takes "auto": its value then


VARIABLES: tuple[Var, ...] = (
    # Source database
    Var("DB_HOST", "127.0.0.1", "str", "MySQL/MariaDB host (as seen from the bastion when one is set)", group="source"),
    Var("DB_PORT", "3306", "int", "MySQL port", group="source", minimum=1),
    Var("DB_USER", "root", "str", "MySQL user", group="source"),
    Var("DB_PASSWORD", "", "str", "MySQL password (empty is valid: socket or trust authentication)", secret=True, group="source"),
    Var("DB_DATABASE", "", "str", "default schema for unscoped table names", group="source"),
    Var("DB_SCHEMAS", "", "str", "comma-separated schemas that --all covers (empty: DB_DATABASE) and the console's Tables screen lists (empty: every schema the user may read)", group="source"),
    Var("DB_DIALECT", "mysql", "choice", "source kind: mysql, or sqlite (the embedded demo source)", choices=("mysql", "sqlite"), group="source"),
    Var("DB_SQLITE_PATH", "", "path", "SQLite file when DB_DIALECT=sqlite", group="source"),
    Var("DB_DATETIME_ZONE", "", "str", "time zone the applications write DATETIME and DATE cursor values in; the run's bound is computed in it (empty: the server's own time_zone; else an offset such as +09:00, or a zone name the server knows)", group="source"),
    # SSH bastion for MySQL
    Var("SSH_BASTION_HOST", "", "str", "SSH bastion in front of MySQL (empty: connect directly)", group="ssh"),
    Var("SSH_BASTION_PORT", "22", "int", "bastion SSH port", group="ssh", minimum=1),
    Var("SSH_BASTION_USER", "", "str", "bastion user", group="ssh"),
    Var("SSH_BASTION_KEY_PATH", "", "path", "private key for the bastion (mode 600)", group="ssh"),
    Var("SSH_LOCAL_PORT", "0", "int", "local tunnel port on 127.0.0.1 (0: pick a free port)", group="ssh", minimum=0),
    Var("SSH_KNOWN_HOSTS", "~/.ssh/known_hosts", "path", "known_hosts file; host keys are always verified, never auto-added", group="ssh"),
    # Object store
    Var("STORE_URL", "", "str", "file:///abs/dir for a local-directory store instead of S3 (demo, offline)", group="store"),
    Var("S3_BUCKET_NAME", "", "str", "S3 bucket", group="store"),
    Var("S3_ACCESS_KEY", "", "str", "access key id (empty: the default AWS credential chain, e.g. an IAM role)", secret=True, group="store"),
    Var("S3_SECRET_KEY", "", "str", "secret access key", secret=True, group="store"),
    Var("S3_SESSION_TOKEN", "", "str", "session token of temporary (STS) keys; passed to boto3 and to Redshift COPY", secret=True, group="store"),
    Var("S3_REGION", "us-east-1", "str", "S3 region", group="store"),
    Var("S3_ENDPOINT_URL", "", "str", "S3-compatible endpoint (MinIO, a test server); empty: AWS", group="store"),
    Var("S3_INCREMENTAL_PATH", "incremental/", "str", "prefix for data files", group="store"),
    Var("S3_HIGH_WATERMARK_KEY", "watermark/last_run_timestamp.txt", "str", "legacy v1.2 key; watermarks now live as one JSON document per table under watermark/", group="store"),
    # Backup
    Var("BACKUP_BATCH_SIZE", str(FILE_ROWS), "int", f"rows per Parquet file (the pymysql path reads them in queries of at most {PYMYSQL_QUERY_ROWS:,} rows)", group="backup", minimum=1),
    Var("BACKUP_QUERY_ROWS", str(QUERY_ROWS), "int", "rows per query of the fast extraction path, written as files of BACKUP_BATCH_SIZE rows (rounded down to a multiple of it, at least one file)", group="backup", minimum=1),
    Var("BACKUP_MAX_WORKERS", "4", "int", "tables at once with the inter-table strategy", group="backup", minimum=1),
    Var("BACKUP_NUM_CHUNKS", "auto", "int", "connections reading primary-key or keyset stripes in parallel on the fast extraction path (auto: one per CPU, at most 4)", group="backup", minimum=1, auto=auto_chunks),
    Var("BACKUP_RETRY_ATTEMPTS", "3", "int", "attempts for transient MySQL/warehouse errors", group="backup", minimum=1),
    Var("BACKUP_TIMEOUT_SECONDS", "300", "int", "connect/read timeout for MySQL and SSH", group="backup", minimum=1),
    Var("BACKUP_LAG_SECONDS", "0", "int", "extra margin: the run's upper bound is at most the source's NOW() minus this (it already stays behind open transactions when INNODB_TRX is readable); raise it when writers stamp rows with their own clocks", group="backup", minimum=0),
    Var("BACKUP_VERSION_OVERLAP", "1000", "int", "integer version cursors: each run re-reads this many versions before its watermark and drops the rows already stored, so versions committed late are taken (0: off)", group="backup", minimum=0),
    Var("EXTRACT_ENGINE", "auto", "choice", "extraction path: auto, fast (Arrow-native), or pymysql (the fallback that always works)", choices=("auto", "fast", "pymysql"), group="backup"),
    # Warehouse
    Var("WAREHOUSE_DIALECT", "auto", "choice", "auto (detect Redshift from version()), redshift, postgres, duckdb", choices=("auto", "redshift", "postgres", "duckdb"), group="warehouse"),
    Var("REDSHIFT_HOST", "", "str", "warehouse host", group="warehouse"),
    Var("REDSHIFT_PORT", "5439", "int", "warehouse port", group="warehouse", minimum=1),
    Var("REDSHIFT_USER", "", "str", "warehouse user", group="warehouse"),
    Var("REDSHIFT_PASSWORD", "", "str", "warehouse password", secret=True, group="warehouse"),
    Var("REDSHIFT_DATABASE", "dw", "str", "warehouse database", group="warehouse"),
    Var("REDSHIFT_SCHEMA", "public", "str", "target schema", group="warehouse"),
    Var("REDSHIFT_IAM_ROLE", "", "str", "IAM role ARN for COPY, or default for the cluster's default role (empty: the S3 keys are passed as credentials)", group="warehouse"),
    Var("REDSHIFT_DEPLOYMENT", "auto", "choice", "provisioned or serverless (auto: serverless when REDSHIFT_HOST is a *.redshift-serverless.* endpoint); Serverless never reads STL views", choices=("auto", "provisioned", "serverless"), group="warehouse"),
    Var("REDSHIFT_LOAD_BATCH_MB", "2048", "int", "Redshift: data files per load transaction, in MB of Parquet (one COPY per column set)", group="warehouse", minimum=1),
    Var("REDSHIFT_LOAD_FORMAT", "parquet", "choice", "COPY format: parquet, or csv (Parquet -> gzipped CSV, the v1.2 method)", choices=("parquet", "csv"), group="warehouse"),
    Var("REDSHIFT_COPY_OPTIONS", "MAXERROR 0", "str", "extra COPY options (MAXERROR N, TRUNCATECOLUMNS, ACCEPTINVCHARS)", group="warehouse"),
    Var("REDSHIFT_MAX_PARALLEL_LOADS", "4", "int", "tables loaded at once", group="warehouse", minimum=1),
    Var("REDSHIFT_LOAD_TIMEOUT", "3600", "int", "statement timeout for a load, seconds", group="warehouse", minimum=1),
    Var("REDSHIFT_SSH_BASTION_HOST", "", "str", "SSH bastion in front of the warehouse (empty: the MySQL bastion settings, if any, are not used)", group="warehouse"),
    Var("REDSHIFT_SSH_BASTION_PORT", "22", "int", "warehouse bastion SSH port", group="warehouse", minimum=1),
    Var("REDSHIFT_SSH_BASTION_USER", "", "str", "warehouse bastion user (empty: SSH_BASTION_USER)", group="warehouse"),
    Var("REDSHIFT_SSH_BASTION_KEY_PATH", "", "path", "warehouse bastion key (empty: SSH_BASTION_KEY_PATH)", group="warehouse"),
    Var("DUCKDB_PATH", "", "path", "DuckDB file when WAREHOUSE_DIALECT=duckdb", group="warehouse"),
    Var("DUCKDB_MEMORY_LIMIT", "", "str", "memory DuckDB may hold for the warehouse (its memory_limit: e.g. 256MB, 2GB, 25%; "
        "beyond it DuckDB spills to disk); empty: DuckDB's own, 80% of the machine's RAM", group="warehouse"),
    # Run history, alerts, metrics
    Var("RUN_HISTORY_DAYS", "90", "int", "days a run record is kept under runs/ in the store; older ones are removed by later runs, a few at a time", group="history", minimum=1),
    Var("RUN_HEARTBEAT_SECONDS", "30", "int", "how often a running run refreshes its record's heartbeat", group="history", minimum=1),
    Var("RUN_ABANDONED_AFTER_SECONDS", "300", "int", "a running record whose heartbeat is older than this reads as abandoned (a run killed with -9, a host gone); more than RUN_HEARTBEAT_SECONDS", group="history", minimum=2),
    Var("ALERT_WEBHOOK_URL", "", "str", "webhook (Slack-compatible JSON POST) told of every failed run and of a table that recovered (empty: no alerts); treated as a secret", secret=True, group="history"),
    Var("ALERT_ON", "failure", "choice", "failure: failed runs and recoveries; always: every run", choices=("failure", "always"), group="history"),
    Var("METRICS_FILE", "", "path", "Prometheus textfile written after every backup/sync (node_exporter's textfile collector); --metrics-file overrides it", group="history"),
    # Files and logging
    Var("S3RB_CONFIG", "s3rb.toml", "path", "optional per-table settings (cursor column, keys, load mode, keys for views, DISTKEY/SORTKEY, target name)", group="general"),
    Var("LOG_LEVEL", "INFO", "choice", "DEBUG, INFO, WARNING, ERROR", choices=("DEBUG", "INFO", "WARNING", "ERROR"), group="general"),
    Var("DEBUG", "false", "bool", "tracebacks and debug logs", group="general"),
)

VARS_BY_NAME = {v.name: v for v in VARIABLES}
#: what DuckDB's memory_limit accepts: a number and a unit (KB, MB, GB, TB: powers of 1000; KiB..TiB:
#: of 1024; any case, a space allowed), or a share of the RAM ("50%")
_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s?([KMGT]i?B|%)", re.IGNORECASE)
_ZONE = re.compile(r"|[+-](0\d|1[0-4]):[0-5]\d|SYSTEM|UTC|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Validated settings. ``values`` holds the raw strings; typed accessors convert."""

    values: Mapping[str, str]
    env_file: Path | None = None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)  # name -> "env" | ".env" | "default"

    def str(self, name: str) -> str:
        return self.values[name]

    def int(self, name: builtins.str) -> int:
        """The variable as a number; ``auto`` (where the variable takes it) as what it means here."""
        raw, auto = self.values[name], VARS_BY_NAME[name].auto
        return auto() if auto is not None and raw == "auto" else int(raw)

    def bool(self, name: builtins.str) -> builtins.bool:
        return self.values[name].strip().lower() in _TRUE

    def path(self, name: builtins.str) -> Path | None:
        raw = self.values[name].strip()
        return Path(os.path.expanduser(raw)) if raw else None

    def __getitem__(self, name: builtins.str) -> builtins.str:
        return self.values[name]

    @property
    def secrets(self) -> list[builtins.str]:
        """Non-empty secret values (for scrubbing them from any text we print or log)."""
        return [self.values[v.name] for v in VARIABLES if v.secret and self.values.get(v.name)]

    def masked(self) -> list[tuple[builtins.str, builtins.str, builtins.str]]:
        """(name, shown value, source) for every variable; secrets shown as ``****``."""
        rows = []
        for v in VARIABLES:
            raw = self.values.get(v.name, "")
            shown = ("****" if raw else "(empty)") if v.secret else raw
            rows.append((v.name, shown, self.sources.get(v.name, "default")))
        return rows

    def with_overrides(self, **overrides: Any) -> "Settings":
        new = dict(self.values)
        for k, val in overrides.items():
            new[k] = str(val)
        return build_settings(new, env_file=self.env_file, sources={**self.sources, **{k: "override" for k in overrides}})

    @property
    def store_is_local(self) -> builtins.bool:
        return self.values.get("STORE_URL", "").startswith("file://")


def _check(var: Var, raw: str) -> str | None:
    if var.kind == "int":
        if var.auto is not None and raw == "auto":
            return None
        try:
            n = int(raw.strip())
        except ValueError:
            either = "a whole number or auto" if var.auto is not None else "a whole number"
            return f"{var.name}={raw!r} is not {either} (set it to e.g. {var.default if var.auto is None else '2, or auto'})"
        if var.minimum is not None and n < var.minimum:
            return f"{var.name}={n} must be at least {var.minimum}"
    elif var.kind == "bool":
        if raw.strip().lower() not in _TRUE | _FALSE:
            return f"{var.name}={raw!r} is not true/false"
    elif var.kind == "choice":
        if raw.strip() not in var.choices:
            return f"{var.name}={raw!r} is not one of {', '.join(var.choices)}"
    return None


def build_settings(
    values: Mapping[str, str],
    env_file: Path | None = None,
    sources: Mapping[str, str] | None = None,
    warnings: tuple[str, ...] = (),
) -> Settings:
    merged: dict[str, str] = {}
    problems: list[str] = []
    src = dict(sources or {})
    for var in VARIABLES:
        raw = values.get(var.name)
        if raw is None:
            raw = var.default
            src.setdefault(var.name, "default")
        raw = str(raw).strip() if var.kind != "str" or not var.secret else str(raw)
        if var.kind == "choice" and var.name == "LOG_LEVEL":
            raw = raw.upper()
        elif var.auto is not None and raw.lower() == "auto":
            raw = "auto"
        merged[var.name] = raw
        problem = _check(var, raw)
        if problem:
            problems.append(problem)
    store_url = merged["STORE_URL"]
    if store_url and not store_url.startswith("file:///"):
        problems.append(f"STORE_URL={store_url!r} must be file:///absolute/dir (or empty for S3)")
    if not store_url and not merged["S3_BUCKET_NAME"]:
        problems.append("S3_BUCKET_NAME is empty (set the bucket, or STORE_URL=file:///dir for a local store)")
    if bool(merged["S3_ACCESS_KEY"]) != bool(merged["S3_SECRET_KEY"]):
        problems.append("S3_ACCESS_KEY and S3_SECRET_KEY must be set together (or both empty for the AWS credential chain)")
    if merged["S3_SESSION_TOKEN"] and not merged["S3_ACCESS_KEY"]:
        problems.append("S3_SESSION_TOKEN is set without S3_ACCESS_KEY/S3_SECRET_KEY (a session token belongs to temporary keys)")
    if merged["DB_DIALECT"] == "sqlite" and not merged["DB_SQLITE_PATH"]:
        problems.append("DB_DIALECT=sqlite needs DB_SQLITE_PATH")
    if merged["SSH_BASTION_HOST"] and not merged["SSH_BASTION_USER"]:
        problems.append("SSH_BASTION_HOST is set but SSH_BASTION_USER is empty")
    if not _ZONE.fullmatch(merged["DB_DATETIME_ZONE"]):
        problems.append(f"DB_DATETIME_ZONE={merged['DB_DATETIME_ZONE']!r} is not a time zone (use e.g. +09:00, -05:00 or Asia/Tokyo; empty: the server's own)")
    beat, stale = merged["RUN_HEARTBEAT_SECONDS"], merged["RUN_ABANDONED_AFTER_SECONDS"]
    if beat.isdigit() and stale.isdigit() and int(stale) <= int(beat):
        problems.append(f"RUN_ABANDONED_AFTER_SECONDS={stale} must be more than RUN_HEARTBEAT_SECONDS={beat} (a live run would read as abandoned)")
    hook = merged["ALERT_WEBHOOK_URL"]
    if hook and not hook.startswith(("http://", "https://")):
        problems.append("ALERT_WEBHOOK_URL must be an http:// or https:// URL")
    if merged["WAREHOUSE_DIALECT"] == "duckdb" and not merged["DUCKDB_PATH"]:
        problems.append("WAREHOUSE_DIALECT=duckdb needs DUCKDB_PATH")
    if merged["DUCKDB_MEMORY_LIMIT"] and not _MEMORY_SIZE.fullmatch(merged["DUCKDB_MEMORY_LIMIT"]):
        problems.append(f"DUCKDB_MEMORY_LIMIT={merged['DUCKDB_MEMORY_LIMIT'][:40]!r} is not a size (use e.g. 256MB or 2GB; empty: DuckDB's own limit)")
    for schema in (part.strip() for part in merged["DB_SCHEMAS"].split(",")):
        try:
            if schema:
                validate_identifier(schema, "schema name")
        except UsageError:
            problems.append(f"DB_SCHEMAS names {schema[:70]!r}, which is not a schema name (letters, digits, '_' or '$'; commas between names)")
    inc = merged["S3_INCREMENTAL_PATH"]
    if inc and not inc.endswith("/"):
        merged["S3_INCREMENTAL_PATH"] = inc + "/"
    return Settings(values=merged, env_file=env_file, problems=tuple(problems), warnings=warnings, sources=src)


def _env_file_warnings(path: Path) -> list[str]:
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return [
            f"{path} is readable by group or others and may hold passwords; run: chmod 600 {path}"
        ]
    return []


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read ``env_file`` (or ``.env`` in ``cwd`` if present), then the environment on top.

    An explicitly named env file that does not exist is a ConfigError.
    """
    environ = os.environ if environ is None else environ
    path: Path | None
    if env_file is not None:
        path = Path(env_file)
        if not path.is_file():
            raise ConfigError(f"env file {str(path)!r} not found", "check --env-file PATH")
    else:
        candidate = (cwd or Path.cwd()) / ".env"
        path = candidate if candidate.is_file() else None
    file_values: dict[str, str] = {}
    warnings: list[str] = []
    if path is not None:
        from dotenv import dotenv_values  # only when a .env file is read

        file_values = {k: (v or "") for k, v in dotenv_values(path).items() if k}
        warnings.extend(_env_file_warnings(path))
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for var in VARIABLES:
        if var.name in environ:
            values[var.name] = environ[var.name]
            sources[var.name] = "environment"
        elif var.name in file_values:
            values[var.name] = file_values[var.name]
            sources[var.name] = str(path.name if path else ".env")
    return build_settings(values, env_file=path, sources=sources, warnings=tuple(warnings))


def env_example() -> str:
    """The text of ``.env.example``: every variable with its default and meaning."""
    lines = [
        "# s3rb-tui configuration. Copy to .env (chmod 600) and fill in.",
        "# Every variable is listed with its default; the environment overrides this file.",
    ]
    group = None
    for v in VARIABLES:
        if v.group != group:
            group = v.group
            lines += ["", f"# --- {group} ---"]
        lines.append(f"# {v.help}" + (f" [{'|'.join(v.choices)}]" if v.choices else ""))
        lines.append(f"{v.name}={v.default}")
    return "\n".join(lines) + "\n"
