"""The collector that writes a run's record while the job runs.

``RunRecorder`` is one more event sink of the job's JobContext: it folds ``table_done`` and
``log`` events into the record (``fold``: the only place that reads events) and writes the
record at the start (``running``), on a heartbeat from a daemon thread, and once at the end with
the job's results. Every write is compare-and-swap (create-only first, then ``If-Match`` on the
ETag it wrote last), so two runs never overwrite each other's record.

A record never fails a run: a store error is logged as a warning and the run goes on (the next
heartbeat tries again). The text written is passed through the run's redactor, and options come
from a list of names that can hold no secret (``RECORDED_OPTIONS``).
"""

from __future__ import annotations

import collections
import getpass
import json
import os
import socket
import threading
import time
from typing import Any, Callable, Iterable

from s3rb_tui.engine.core.errors import Cancelled, S3rbError
from s3rb_tui.engine.history.records import OK_TABLE_STATUSES, iso, new_run_id, prune_expired, run_key, utcnow, write_doc
from s3rb_tui.engine.core.events import EngineEvent, LogEvent, TableDone, TableResult
from s3rb_tui.engine.stores.base import ObjectStore, PreconditionFailed

#: at most this many log lines are kept per failed table (and for a run that failed as a whole)
LOG_LINES = 50
#: options that go into a record, of every recorded command (none of them can hold a secret)
RECORDED_OPTIONS = ("operation", "tables", "all_tables", "strategy", "dry_run", "estimate", "limit", "batch_size", "max_workers",
                    "extract_engine", "backup_only", "redshift_only", "verify_data", "metrics_file",
                    "resync", "keys_only", "columns", "since", "force", "max_delete_ratio", "allow_mass_delete",
                    "older_than", "pattern", "include_unloaded", "bucket", "prefix", "days", "confirm")
#: the phase a command's single-phase result is timed as (backup for any other command)
PHASE_OF_COMMAND = {"load": "load", "rebuild": "load", "repair": "load", "verify": "verify", "clean": "clean", "s3clean": "clean"}
#: records removed per run by retention (a few each run: a run is never held up by it)
PRUNE_PER_RUN = 20

Log = Callable[..., None]


def recorded_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in RECORDED_OPTIONS and v not in (None, False, [], "")}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def run_status(results: Iterable[TableResult | dict[str, Any]], error: BaseException | None) -> str:
    statuses = [r.status if isinstance(r, TableResult) else str(r.get("status")) for r in results]
    if isinstance(error, (Cancelled, KeyboardInterrupt)) or "cancelled" in statuses:
        return "cancelled"
    if error is not None or any(s not in OK_TABLE_STATUSES for s in statuses):
        return "failed"
    return "success"


def table_entry(table: str, data: dict[str, Any], command: str) -> dict[str, Any]:
    """One table of a record from a result (``TableResult.to_json()`` or a ``table_done`` event's
    data): rows extracted and loaded, and seconds per phase (a sync's result carries each phase).
    A verify's entry has the rows it checked and its ``differences`` by kind (its result failed
    when anything differs, with the repair command as its hint); a clean's, the files and bytes
    it deleted."""
    details = data.get("details") or {}
    backup, load = details.get("backup"), details.get("load")
    entry: dict[str, Any] = {"table": table, "status": data.get("status"), "rows_extracted": None, "rows_loaded": None,
                             "files": int(data.get("files") or 0), "bytes": int(data.get("bytes") or 0), "seconds": {},
                             "error": data.get("error"), "hint": data.get("hint")}
    if backup is None and load is None:
        phase = PHASE_OF_COMMAND.get(command.split(" ")[0], "backup")
        if phase in ("backup", "load"):
            entry["rows_extracted" if phase == "backup" else "rows_loaded"] = int(data.get("rows") or 0)
        elif phase == "verify" and data.get("status") not in ("pending", "running"):
            entry["rows_checked"] = int(data.get("rows") or 0)
        entry["seconds"][phase] = round(float(data.get("seconds") or 0.0), 3)
    verdict = details.get("verify")
    if isinstance(verdict, dict) and isinstance(verdict.get("counts"), dict):
        entry["differences"] = {k: int(v) for k, v in verdict["counts"].items()}
    if backup:  # a sync's size is what its backup wrote (the load reports files, not bytes)
        entry["bytes"] = max(entry["bytes"], int(backup.get("bytes") or 0))
    for phase, part in (("backup", backup), ("load", load)):
        if part:
            entry["rows_extracted" if phase == "backup" else "rows_loaded"] = int(part.get("rows") or 0)
            entry["seconds"][phase] = round(float(part.get("seconds") or 0.0), 3)
    return entry


def _log_line(ev: LogEvent) -> str:
    extra = " ".join(f"{k}={v}" for k, v in ev.fields.items() if v is not None)
    stamp = time.strftime("%H:%M:%S", time.gmtime(ev.time))
    return f"{stamp} {ev.level} {ev.message}" + (f" {extra}" if extra else "")


class RunRecorder:
    def __init__(self, store: ObjectStore, *, job_id: str, command: str, options: dict[str, Any], trigger: str,
                 tables: list[str], heartbeat_seconds: float, stale_after_seconds: float, keep_days: int,
                 redact: Callable[[str], str] = lambda s: s, log: Log | None = None, interactive: bool = False):
        started = utcnow()
        self.store = store
        self.command = command
        self.redact = redact
        self.heartbeat_seconds = heartbeat_seconds
        self.keep_days = keep_days
        self._log = log or (lambda *a, **k: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._etag: str | None = None
        self._lines: dict[str | None, collections.deque[str]] = collections.defaultdict(lambda: collections.deque(maxlen=LOG_LINES))
        #: seconds each write took (the report's figure: what a record costs a run)
        self.write_seconds: list[float] = []
        self.write_failures = 0
        self.pruned: list[str] = []
        self.doc: dict[str, Any] = {
            "run_id": new_run_id(job_id, started), "command": command, "options": recorded_options(options),
            "trigger": trigger, "interactive": interactive, "host": socket.gethostname(), "pid": os.getpid(),
            "user": _user(), "started_at": iso(started), "heartbeat_at": iso(started), "finished_at": None,
            "status": "running", "stale_after_seconds": stale_after_seconds, "error": None, "hint": None,
            "tables": [table_entry(t, {"status": "pending"}, command) for t in tables],
        }

    @property
    def run_id(self) -> str:
        return str(self.doc["run_id"])

    # --- events ------------------------------------------------------------------------------
    def on_event(self, ev: EngineEvent) -> None:
        """Sink for JobContext.subscribe; never raises into the job."""
        try:
            self.fold(ev)
        except Exception as e:  # a record must never fail the run
            self._log("run record: event not recorded", level="warning", error=f"{e.__class__.__name__}: {e}")

    def fold(self, ev: EngineEvent) -> None:
        if isinstance(ev, LogEvent):
            self._lines[ev.table].append(_log_line(ev))
        elif isinstance(ev, TableDone):
            entry = table_entry(ev.table, ev.record(), self.command)
            with self._lock:
                self._put_table(entry)

    def _put_table(self, entry: dict[str, Any]) -> None:
        tables = self.doc["tables"]
        for i, t in enumerate(tables):
            if t["table"] == entry["table"]:
                tables[i] = entry
                break
        else:
            tables.append(entry)
        if entry["status"] not in OK_TABLE_STATUSES:  # its own lines, else the run's (a failure before it began)
            entry["log"] = list(self._lines.get(entry["table"]) or self._lines.get(None) or ())

    # --- writes ------------------------------------------------------------------------------
    def start(self) -> None:
        """Write the ``running`` record, then heartbeat (and prune old records) in a daemon thread."""
        self._write()
        self._thread = threading.Thread(target=self._beat, name=f"run-record-{self.run_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        try:
            self.pruned = prune_expired(self.store, self.keep_days, at_most=PRUNE_PER_RUN)
            if self.pruned:
                self._log("run records removed (RUN_HISTORY_DAYS)", records=len(self.pruned), keep_days=self.keep_days)
        except Exception as e:
            self._log("run records: retention skipped", level="warning", error=self.redact(f"{e.__class__.__name__}: {e}"))
        while not self._stop.wait(self.heartbeat_seconds):
            with self._lock:
                self.doc["heartbeat_at"] = iso(utcnow())
            self._write()

    def finish(self, results: list[TableResult], error: BaseException | None = None) -> dict[str, Any]:
        """The final record: every table's result, the run's status and end time. Returns it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.heartbeat_seconds, 5.0))
        now = iso(utcnow())
        with self._lock:
            for r in results:
                self._put_table(table_entry(r.table, r.to_json(), self.command))
            for t in self.doc["tables"]:
                if t["status"] in ("pending", "running", None):
                    t["status"] = "cancelled" if isinstance(error, (Cancelled, KeyboardInterrupt)) else "failed" if error else "skipped"
            self.doc["status"] = run_status(self.doc["tables"], error)
            if error is not None:
                self.doc["error"] = (error.message if isinstance(error, S3rbError) else "interrupted (Ctrl-C or SIGINT)"
                                     if isinstance(error, KeyboardInterrupt) else f"{error.__class__.__name__}: {error}")
                self.doc["hint"] = error.hint if isinstance(error, S3rbError) else None
                self.doc["log"] = list(self._lines.get(None, ()))
            self.doc["finished_at"] = self.doc["heartbeat_at"] = now
        self._write()
        return json.loads(self._text())

    def discard(self) -> None:
        """Remove the record: the run was refused as bad input before any table began, and bad
        input changes nothing (the operator sees the one-line error and exit 2, not a failed run)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.heartbeat_seconds, 5.0))
        try:
            self.store.delete(run_key(self.run_id))
        except Exception as e:
            self._log("run record of a refused run not removed", level="warning", run_id=self.run_id,
                      error=self.redact(f"{e.__class__.__name__}: {e}"))

    def _text(self) -> str:
        with self._lock:
            text = json.dumps(self.doc, default=str, ensure_ascii=False, indent=1)
        return self.redact(text)

    def _write(self) -> None:
        started = time.perf_counter()
        text = self._text()
        try:
            with self._lock:
                etag = self._etag
            try:
                new = write_doc(self.store, self.doc, text, etag)
            except PreconditionFailed:
                # someone else wrote our key (or our create raced a retry): take its version once
                info = self.store.head(run_key(self.run_id))
                new = write_doc(self.store, self.doc, text, info.etag if info else None)
            with self._lock:
                self._etag = new
        except Exception as e:
            self.write_failures += 1
            self._log("run record not written; the run goes on", level="warning", run_id=self.run_id,
                      error=self.redact(f"{e.__class__.__name__}: {e}"))
        finally:
            self.write_seconds.append(time.perf_counter() - started)
