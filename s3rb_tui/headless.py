"""Headless front end: ``s3rb-tui --run COMMAND [ARGS]`` for cron and systemd.

Parses the manual's commands and options, builds a HeadlessApp and dispatches to
``s3rb_tui.commands.<module>.run(args, app)``. Exit codes: 0 success, 1 a job ran and failed,
2 bad usage/input/configuration (nothing changed). Logs are JSON lines on stderr (or
``--log-file``); human output or one ``--json`` document on stdout. Never imports Textual/Rich.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from functools import cached_property
from typing import IO, Any, Callable, Mapping, Sequence

from s3rb_tui.engine.core.errors import ConfigError, S3rbError, UsageError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.logs import JsonLogger, Redactor
from s3rb_tui.settings import Settings, load_settings

PROG = "s3rb-tui --run"

# command -> (module under s3rb_tui.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("backup", "MySQL -> S3: extract changed rows into time-partitioned Parquet"),
    "sync": ("sync", "MySQL -> S3 -> warehouse: backup, then load the new files"),
    "status": ("status", "health of source, store, warehouse and tunnels; per-table state"),
    "tables": ("tables", "every schema the user may read with its tables and views (-t globs, --all: what they select)"),
    "info": ("info", "backup strategies and when to use each (works without configuration)"),
    "config": ("config", "every setting with secrets masked, and what is wrong with them"),
    "watermark": ("watermark", "get | set | reset | list per-table watermarks"),
    "watermark-count": ("counts", "set-count | validate-counts: fix and cross-check row counts"),
    "s3clean": ("s3clean", "list | clean | clean-all: guarded cleanup of a table's files"),
    "clean": ("clean", "the v1.2 retention command: delete files older than N days under a prefix"),
    "rebuild": ("rebuild", "drop a warehouse table and load it again from the committed files in the store"),
    "history": ("history", "the record of every run from every host, newest first; RUN_ID: one run in full"),
    "verify": ("verify", "row-level proof: checksummed key segments on both sides, then the keys that differ"),
    "repair": ("repair", "verify, then re-extract what differs and delete what the source deleted, as one guarded repair batch"),
}


#: commands that take --metrics-file (METRICS_FILE applies to them only)
METRICS_COMMANDS = ("backup", "sync")


class UsageParser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit 2) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common options")
    g.add_argument("--env-file", "--config-file", dest="env_file", metavar="PATH", help="read settings from PATH instead of ./.env")
    g.add_argument("--log-file", metavar="PATH", help="write JSON-lines logs to PATH instead of stderr")
    g.add_argument("--debug", action="store_true", help="debug logs, and tracebacks on errors")
    g.add_argument("--json", action="store_true", help="print one machine-readable JSON document on stdout")


def _tables(p: argparse.ArgumentParser, required: bool, help_text: str = "table as schema.table or table (repeatable)",
            with_all: bool = True) -> None:
    """-t (repeatable; globs such as 'schema.*' or 'schema.settle*' select base tables) and --all.
    ``required``: the command needs -t or --all (checked by HeadlessApp.tables, so that --all counts)."""
    p.set_defaults(tables_required=required)
    p.add_argument("-t", "--tables", "--table", dest="tables", action="append", metavar="TABLE",
                   help=help_text + "; globs select base tables: -t 'schema.*', -t 'schema.settle*' (quote them)")
    if with_all:
        p.add_argument("--all", dest="all_tables", action="store_true",
                       help="every base table of the schemas in DB_SCHEMAS (default: DB_DATABASE)")


def _job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--strategy", choices=("sequential", "inter-table"), default="sequential", help="sequential (default) or inter-table (BACKUP_MAX_WORKERS tables at once)")
    p.add_argument("--dry-run", action="store_true", help="show the window, estimated rows and bytes; write nothing")
    p.add_argument("--estimate", action="store_true", help="show row/byte/time estimates before starting")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="stop each table after N rows (testing)")
    p.add_argument("--batch-size", type=_positive_int, metavar="N", help="rows per Parquet file (default BACKUP_BATCH_SIZE)")
    p.add_argument("--max-workers", type=_positive_int, metavar="N", help="worker threads for inter-table (default BACKUP_MAX_WORKERS)")
    p.add_argument("--extract-engine", choices=("auto", "fast", "pymysql"), help="force an extraction path (default EXTRACT_ENGINE)")
    p.add_argument("--metrics-file", metavar="PATH", help="after the run, write Prometheus metrics to PATH for node_exporter's textfile collector (default METRICS_FILE)")


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be at least 1")
    return n


def _whole(unit: str) -> Callable[[str], int]:
    """A whole number of ``unit`` (0 or more) for argparse, named in its error."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {unit}") from None
        if n < 0:
            raise argparse.ArgumentTypeError(f"{n} is negative; {unit} are 0 or more")
        return n

    return parse


_count = _whole("rows")


def build_parser() -> UsageParser:
    parser = UsageParser(
        prog=PROG,
        description="Run one s3rb-tui job headless (cron/systemd). Exit codes: 0 ok, 1 a job failed, 2 bad usage or configuration.",
        epilog="Examples:\n  s3rb-tui --run backup -t settlement.settlement_claim_detail -s sequential\n"
        "  s3rb-tui --run sync -t settlement.partner_info -t settlement.settlement_claim_detail -s inter-table\n"
        "  s3rb-tui --run watermark get -t settlement.settlement_claim_detail --json\n\n"
        "Every command takes --json (one JSON document on stdout, errors too), --log-file PATH (JSON-lines logs),\n"
        "--debug (tracebacks) and --env-file PATH; tables as -t schema.table, -t 'schema.*' globs or --all.\n"
        "s3rb-tui --version prints the version; --readonly before or after --run refuses any change.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=UsageParser)

    p = sub.add_parser("backup", help=COMMANDS["backup"][1], description=COMMANDS["backup"][1])
    _tables(p, True)
    _job_options(p)
    _common(p)

    p = sub.add_parser("sync", help=COMMANDS["sync"][1], description=COMMANDS["sync"][1])
    _tables(p, True)
    _job_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--backup-only", action="store_true", help="only MySQL -> S3")
    g.add_argument("--redshift-only", action="store_true", help="only load committed files not yet loaded (honours a manual watermark)")
    p.add_argument("--verify-data", action="store_true", help="compare counts after the load; exit 1 on a mismatch")
    _common(p)

    p = sub.add_parser("status", help=COMMANDS["status"][1], description=COMMANDS["status"][1])
    _tables(p, False, "limit the per-table part to these tables (repeatable)")
    p.add_argument("--max-lag", metavar="DURATION", help="exit 1 naming each table whose data is older than DURATION: 30m, 26h, 2d")
    _common(p)

    p = sub.add_parser("tables", help=COMMANDS["tables"][1], description=COMMANDS["tables"][1])
    _tables(p, False, "show only these tables")
    _common(p)

    p = sub.add_parser("info", help=COMMANDS["info"][1], description=COMMANDS["info"][1])
    p.add_argument("--strategy", choices=("sequential", "inter-table"), help="details of one strategy")
    _common(p)

    p = sub.add_parser("config", help=COMMANDS["config"][1], description=COMMANDS["config"][1])
    _common(p)

    p = sub.add_parser("watermark", help=COMMANDS["watermark"][1], description=COMMANDS["watermark"][1])
    p.add_argument("operation", choices=("get", "set", "reset", "list"))
    _tables(p, False, "table (schema.table or table)")
    p.add_argument("--timestamp", metavar="'YYYY-MM-DD HH:MM:SS'", help="for set: extraction starts after this source timestamp")
    p.add_argument("--force", "--yes", dest="force", action="store_true", help="apply set/reset without asking on a terminal (required without one)")
    p.add_argument("--dry-run", action="store_true", help="show the plan of set/reset and change nothing")
    _common(p)

    p = sub.add_parser("watermark-count", help=COMMANDS["watermark-count"][1], description=COMMANDS["watermark-count"][1])
    p.add_argument("operation", choices=("set-count", "validate-counts"))
    _tables(p, True, "table (schema.table or table)")
    p.add_argument("--count", type=_count, metavar="N", help="row count for set-count")
    p.add_argument("--mode", choices=("absolute", "additive"), default="absolute", help="absolute replaces, additive adds (default absolute)")
    p.add_argument("--force", "--yes", dest="force", action="store_true", help="apply set-count without asking on a terminal (required without one)")
    p.add_argument("--dry-run", action="store_true", help="show what set-count would write and change nothing")
    _common(p)

    p = sub.add_parser("s3clean", help=COMMANDS["s3clean"][1], description=COMMANDS["s3clean"][1])
    p.add_argument("operation", choices=("list", "clean", "clean-all"))
    _tables(p, False, "table (required for clean)")
    p.add_argument("--older-than", metavar="AGE", help="only files older than AGE: 7d, 24h, 30m (s, m = minutes, h, d, w)")
    p.add_argument("--pattern", metavar="GLOB", help="only file names matching GLOB, e.g. 'batch_*' or '*_batch_000[1-5].parquet'")
    p.add_argument("--dry-run", action="store_true", help="show the plan and delete nothing")
    p.add_argument("--force", action="store_true", help="no confirmation prompt (scripts); required without a terminal")
    p.add_argument("--include-unloaded", action="store_true", help="also delete files not yet loaded into the warehouse")
    _common(p)

    p = sub.add_parser("rebuild", help=COMMANDS["rebuild"][1], description=COMMANDS["rebuild"][1])
    _tables(p, True, "table (schema.table or table)", with_all=False)
    p.add_argument("--resync", action="store_true", help="read the source table again first (after a TRUNCATE or DROP + CREATE); older files are superseded")
    p.add_argument("--dry-run", action="store_true", help="show the plan and change nothing")
    p.add_argument("--force", action="store_true", help="no confirmation prompt (scripts); required without a terminal")
    _common(p)

    p = sub.add_parser("history", help=COMMANDS["history"][1], description=COMMANDS["history"][1])
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="show this run in full (tables, errors, hints, log lines)")
    _tables(p, False, "only runs that touched this table (repeatable; globs: 'schema.*')", with_all=False)
    p.add_argument("--since", metavar="AGE", help="only runs started within AGE: 24h, 7d, 30m")
    p.add_argument("--failed", action="store_true", help="only failed or abandoned runs, or runs with a failed table")
    p.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="at most N runs (default 20)")
    _common(p)

    p = sub.add_parser("verify", help=COMMANDS["verify"][1], description=COMMANDS["verify"][1])
    _tables(p, True)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--keys-only", action="store_true", help="compare keys only (rows missing or extra), not values")
    g.add_argument("--columns", metavar="A,B", help="compare only these columns (and the key)")
    p.add_argument("--since", metavar="'YYYY-MM-DD HH:MM:SS'", help="only rows whose cursor is at or after this time")
    p.add_argument("--limit", type=_positive_int, default=1000, metavar="N", help="keys listed per kind (default 1000; counts are exact)")
    _common(p)

    p = sub.add_parser("repair", help=COMMANDS["repair"][1], description=COMMANDS["repair"][1] + (
        ". Merge tables: rows merged, deleted keys deleted in the load transaction. Append tables: the source's current "
        "versions appended, deleted keys recorded in <table>_deleted, which <table>_latest hides until a newer version "
        "arrives. Snapshot tables: refused (the next sync replaces them)."))
    _tables(p, True, "table (schema.table or table)", with_all=False)
    p.add_argument("--dry-run", action="store_true", help="verify and show the plan; change nothing")
    p.add_argument("--force", action="store_true", help="no confirmation prompt (scripts); required without a terminal")
    p.add_argument("--max-delete-ratio", type=float, default=0.01, metavar="R",
                   help="refuse to delete more than this share of the warehouse table (default 0.01)")
    p.add_argument("--allow-mass-delete", action="store_true", help="with --force: delete more than --max-delete-ratio")
    _common(p)

    p = sub.add_parser("clean", help=COMMANDS["clean"][1], description=COMMANDS["clean"][1])
    p.add_argument("--bucket", help="bucket (default S3_BUCKET_NAME)")
    p.add_argument("--prefix", required=True, help="prefix to clean, e.g. incremental/")
    p.add_argument("--days", type=_whole("days"), required=True, help="keep files newer than N days")
    p.add_argument("--confirm", action="store_true", help="really delete, after asking on a terminal (without it: a dry run)")
    p.add_argument("--force", action="store_true", help="delete without asking (scripts, cron); required with --confirm without a terminal")
    _common(p)
    return parser


class HeadlessApp:
    """What a command module gets: settings, workspace, logging, output and confirmation."""

    def __init__(self, args: argparse.Namespace, settings: Settings, stdout: IO[str], stderr: IO[str], stdin: IO[str] | None = None):
        self.args = args
        self.settings = settings
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin if stdin is not None else sys.stdin
        self.json = bool(getattr(args, "json", False))
        self.debug = bool(getattr(args, "debug", False)) or settings.bool("DEBUG")
        self.redact = Redactor(settings.secrets)
        self.printed_json = False
        #: ``--readonly``: no change at all, a run record included
        self.readonly = False
        self._log_stream = _open_log(args.log_file) if getattr(args, "log_file", None) else stderr
        level = "debug" if self.debug else settings.str("LOG_LEVEL").lower()
        self.logger = JsonLogger(self._log_stream, level=level, redact=self.redact)

    @cached_property
    def workspace(self):
        from s3rb_tui.engine.wiring.workspace import Workspace

        return Workspace(self.settings, log=self.log)

    def tables(self, *, store_fallback: bool = False) -> list:
        """The tables named by -t (names and globs) and --all, validated before anything connects
        (a glob or --all lists the source's tables; ``store_fallback``: the store's when the
        source is down). A command that needs tables and got none is bad usage."""
        from s3rb_tui.engine.wiring.catalog import check_table_args, is_pattern, resolve_tables

        names = getattr(self.args, "tables", None) or []
        every = bool(getattr(self.args, "all_tables", False))
        if not names and not every:
            if getattr(self.args, "tables_required", False):
                raise UsageError(f"{self.args.command} needs -t/--tables TABLE or --all", "e.g. -t schema.table, -t 'schema.*', or --all")
            return []
        if every and names:
            raise UsageError("--all and -t exclude each other", "drop -t to take every table, or drop --all")
        literal = check_table_args(names, self.settings.str("DB_DATABASE") or None)
        if not every and not any(is_pattern(n) for n in names):
            return literal
        self.require_valid_settings()
        return resolve_tables(self.workspace, names, every, store_fallback=store_fallback)

    @property
    def is_tty(self) -> bool:
        try:
            return self.stdin.isatty() and self.stdout.isatty()
        except (AttributeError, ValueError):
            return False

    def log(self, event: str, level: str = "info", **fields: Any) -> None:
        self.logger.log(event, level, **fields)

    def ctx(self, name: str, **fields: Any) -> JobContext:
        ctx = JobContext(name, sink=self.logger.on_event)
        return ctx

    def tracked_run(self, ctx: JobContext, command: str, tables: list):
        """The run's record (and afterwards its alert, and for backup/sync its metrics) around a job.
        ``--readonly`` and ``--dry-run`` write none (they change nothing, the store included)."""
        from s3rb_tui.engine.history.metrics import check_metrics_path
        from s3rb_tui.engine.history.tracking import tracked_run

        options = {**vars(self.args), "dry_run": bool(getattr(self.args, "dry_run", False) or self.readonly)}
        metrics = None
        if command in METRICS_COMMANDS:
            metrics = getattr(self.args, "metrics_file", None) or self.settings.str("METRICS_FILE") or None
        if metrics and not options["dry_run"]:
            check_metrics_path(metrics)  # bad usage before any work (exit 2)
        return tracked_run(self.workspace, ctx, command=command, options=options, trigger="cli",
                           tables=[getattr(t, "full_name", t) for t in tables], interactive=_interactive(self.stdin),
                           redact=self.redact, log=self.log, metrics_file=metrics)

    def out(self, text: str = "") -> None:
        if not self.json:
            self.stdout.write(self.redact(text) + "\n")
            self.stdout.flush()

    def print_json(self, obj: Any) -> None:
        self.stdout.write(self.redact(json.dumps(obj, indent=2, default=str, ensure_ascii=False)) + "\n")
        self.stdout.flush()
        self.printed_json = True

    def confirm(self, question: str) -> bool:
        if not self.is_tty:
            return False
        self.stdout.write(f"{question} [y/N] ")
        self.stdout.flush()
        answer = self.stdin.readline().strip().lower()
        return answer in ("y", "yes")

    def approve(self, change: str, question: str, force: bool, *, preview: str = "--dry-run to preview",
                nothing: str = "nothing changed") -> bool:
        """The one rule for every state-changing command: ``--force`` applies; on a terminal the
        operator is asked (after the plan was shown); without a terminal and without ``--force``
        the change is refused (UsageError, exit 2) and nothing changes. False: the operator said no."""
        if force:
            return True
        if not self.is_tty:
            raise UsageError(f"{change} but there is no terminal to confirm on; {nothing}",
                             f"pass --force to apply it from a script, or {preview}")
        return self.confirm(question)

    def require_valid_settings(self) -> None:
        if self.settings.problems:
            raise ConfigError(
                "configuration cannot work: " + "; ".join(self.settings.problems),
                "run `s3rb-tui --run config` for every setting",
            )

    def close(self) -> None:
        if "workspace" in self.__dict__:
            self.workspace.close()
        if self._log_stream is not self.stderr:
            self._log_stream.close()


def _interactive(stdin: IO[str]) -> bool:
    try:
        return stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _open_log(path: str) -> IO[str]:
    try:
        return open(path, "a", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot open --log-file {path!r}: {e.strerror or e.__class__.__name__}",
                         "give a path in an existing, writable directory") from None


#: (command, operation) pairs that only read; everything else changes state unless --dry-run
_READ_ONLY = {("status", None), ("info", None), ("config", None), ("tables", None), ("history", None), ("watermark", "get"),
              ("watermark", "list"), ("watermark-count", "validate-counts"), ("s3clean", "list"),
              ("verify", None)}


def changes_state(args: argparse.Namespace) -> bool:
    """Whether this command line would change anything (what ``--readonly`` refuses)."""
    if (args.command, getattr(args, "operation", None)) in _READ_ONLY:
        return False
    if args.command == "clean":
        return bool(args.confirm)
    return not getattr(args, "dry_run", False)


def _one_line(err: BaseException, redact: Callable[[str], str]) -> str:
    text = str(err).replace("\n", " ").strip() or err.__class__.__name__
    return redact(text)


def _as_is(text: str) -> str:
    return text


def main(
    argv: Sequence[str],
    *,
    env_overrides: Mapping[str, str] | None = None,
    env_file: str | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    debug: bool = False,
    readonly: bool = False,
) -> int:
    """``readonly``: refuse (exit 2) any command line that would change state; dry runs and
    read-only commands work. With ``--json`` a failure is also one JSON document on stdout
    (``ok: false``, the error, its hint and the exit code) unless the command printed its own."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    redact: Callable[[str], str] = _as_is
    app: HeadlessApp | None = None
    want_json = "--json" in argv

    def fail(line: str, message: str, hint: str | None, code: int) -> int:
        stderr.write(f"s3rb-tui: error: {line}\n")
        if want_json and not (app is not None and app.printed_json):
            doc = {"ok": False, "error": message, "hint": hint, "exit_code": code}
            stdout.write(redact(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")
            stdout.flush()
        return code

    try:
        if not argv:
            parser.print_help(stdout)
            return 2
        args = parser.parse_args(list(argv))
        if args.command is None:
            parser.print_help(stdout)
            return 2
        debug = debug or args.debug
        want_json = bool(args.json)
        if readonly and changes_state(args):
            what = f"{args.command} {args.operation}" if getattr(args, "operation", None) else args.command
            raise UsageError(f"--readonly: {what} would change state; nothing changed",
                             "drop --readonly, or preview with --dry-run" if args.command != "clean" else "drop --readonly, or leave out --confirm for a dry run")
        environ = dict(os.environ)
        if env_overrides:
            environ.update(env_overrides)
        settings = load_settings(args.env_file or env_file, environ=environ) if not env_overrides else load_settings(None, environ=environ, cwd=_no_env_dir())
        redact = Redactor(settings.secrets)
        app = HeadlessApp(args, settings, stdout, stderr)
        app.readonly = readonly
        for w in settings.warnings:
            app.log("configuration warning", "warning", detail=w)
        module = importlib.import_module(f"s3rb_tui.commands.{COMMANDS[args.command][0]}")
        return int(module.run(args, app))
    except S3rbError as e:
        code = fail(_one_line(e, redact), " ".join(e.message.split()), e.hint, e.exit_code)
        if debug:
            stderr.write(redact(traceback.format_exc()))
        return code
    except BrokenPipeError:  # `| head` closed our stdout: not an error of the job
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        stderr.write("s3rb-tui: interrupted\n")
        return 130
    except Exception as e:  # an unexpected failure: still one line unless --debug
        text = f"{e.__class__.__name__}: {_one_line(e, lambda s: s)}"
        code = fail(f"{redact(text)} (run with --debug for the traceback)", text, None, 1)
        if debug:
            stderr.write(redact(traceback.format_exc()))
        return code
    finally:
        if app is not None:
            app.close()


def _no_env_dir():
    """For demo runs: a directory with no .env, so a user's .env never leaks into the demo."""
    from pathlib import Path

    return Path("/nonexistent-s3rb-demo-dir")
