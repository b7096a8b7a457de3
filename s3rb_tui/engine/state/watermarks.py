"""Per-table watermark documents and their store (compare-and-swap writes).

One JSON document per table at ``watermark/<schema.table>.json``. It records where extraction
stands (last cursor value and key), the MySQL and Redshift sides' status, session counts (the
latest run) and cumulative counts (all time), and the file history: ``committed_through`` is the
last data file that belongs to the table's committed history. Files under the table's prefix
that sort after it were written by a run that never committed and are removed by the next run.

Counting rule (the manual's): a commit from the same session *replaces* that session's
contribution; a commit from a new session *accumulates* onto the cumulative total. ``reset`` and
``reset`` starts the counts afresh; ``counts_base`` records where (so ``validate-counts`` compares
the loaded count with the ledger's rows since then, not with all of its history). ``set-count``
does not move it: a count set by hand is checked against the ledger like any other.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterator

from s3rb_tui import display
from s3rb_tui.engine.core.errors import ConflictError, WatermarkError
from s3rb_tui.engine.stores.layout import WATERMARK_PREFIX, FilePosition, watermark_key
from s3rb_tui.engine.stores.base import ObjectStore, PreconditionFailed
from s3rb_tui.engine.core.table_names import TableRef

DOC_VERSION = 1
STRATEGIES = ("sequential", "inter-table", "manual_cli")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True)
class Counts:
    extracted: int = 0
    loaded: int = 0


@dataclass(frozen=True)
class Watermark:
    table: str
    last_data_timestamp: Any = None  # cursor value as stored in JSON: "YYYY-MM-DD HH:MM:SS[.ffffff]" or int
    last_key: list[Any] | None = None
    nulls_done: bool = False  # rows with a NULL cursor were taken by the first full backup
    #: a first full backup in primary-key order, in progress: {"upper_bound", "after_key"}
    #: (``sources.base.InitialScan``); the fields above are set when it ends
    initial_scan: dict[str, Any] | None = None
    last_extraction_time: str | None = None
    mysql_status: str = "never"  # never | running | success | failed | cancelled | reset | manual
    redshift_status: str = "never"  # never | pending | success | failed
    backup_strategy: str | None = None  # sequential | inter-table | manual_cli
    session: Counts = field(default_factory=Counts)
    cumulative: Counts = field(default_factory=Counts)
    backup_session_id: str | None = None
    load_session_id: str | None = None
    committed_through: str | None = None  # "<stamp>_batch_NNNN" of the last committed file
    files_written_total: int = 0
    files_loaded_total: int = 0
    #: documents before the count below: the backup session's file keys (read, no longer written:
    #: the list grew with every file, and a commit after each file made a first backup's watermark
    #: writes quadratic; 10,000 files: 1.34 MB a document, 33 ms a write to a local store)
    session_files_written: list[str] = field(default_factory=list)
    session_files_written_count: int = 0  # files the backup session wrote
    session_files_loaded: list[str] = field(default_factory=list)
    last_load_time: str | None = None
    manual_timestamp: str | None = None  # set by `watermark set` (manual_cli)
    null_cursor_rows: int = 0
    zero_dates: int = 0
    #: the latest run's count of rows its watermark cannot see (``engine/cursors/census.py``):
    #: {"newest", "future_rows", "future_latest", "null_rows", "clock"}, and its warnings about them
    cursor_census: dict[str, Any] | None = None
    cursor_warnings: list[str] = field(default_factory=list)
    last_error: str | None = None
    last_run_result: str | None = None  # success | failed | cancelled | no new data
    #: the source table as the last load saw it: {"created": CREATE_TIME, "auto_increment": n} (``engine.identity``)
    source_identity: dict[str, Any] | None = None
    updated_at: str | None = None
    #: where the cumulative counts start again, set by ``watermark reset``: {"ledger_files",
    #: "by", "at"} — the loaded count is the rows of the load ledger's entries after the first
    #: ``ledger_files`` (the ledger keeps all history). None: from the beginning (the whole ledger).
    counts_base: dict[str, Any] | None = None
    version: int = DOC_VERSION

    # --- derived views ------------------------------------------------------------------
    @property
    def committed_position(self) -> FilePosition | None:
        if not self.committed_through:
            return None
        stamp, _, batch = self.committed_through.rpartition("_batch_")
        return FilePosition(stamp, int(batch))

    @property
    def initial_scan_label(self) -> str:
        """What the scan in progress is called on a watermark display: a catch-up (an incremental
        run far behind, reading the rows after the watermark in key order) is no first backup."""
        return "Catch-up:" if self.initial_scan and self.initial_scan.get("catch_up") else "First Full Backup:"

    def initial_scan_text(self) -> str | None:
        """A first full backup or a catch-up in progress, in words (the next backup continues it)."""
        if not self.initial_scan:
            return None
        after = self.initial_scan.get("after_key")
        if self.initial_scan.get("catch_up"):
            return (f"catch-up in primary-key order in progress, {'nothing read yet' if after is None else f'through key {display.key(after)}'}; "
                    f"rows after {self.last_data_timestamp} up to {self.initial_scan.get('upper_bound')}")
        return (f"in progress in primary-key order, {'nothing read yet' if after is None else f'through key {display.key(after)}'}; "
                f"rows up to {self.initial_scan.get('upper_bound')}")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    def summary(self) -> dict[str, Any]:
        """The ``--json`` shape of ``watermark get``."""
        return {
            "table": self.table,
            "last_data_timestamp": self.last_data_timestamp,
            "last_key": self.last_key,
            "initial_scan": self.initial_scan,
            "last_extraction_time": self.last_extraction_time,
            "mysql_status": self.mysql_status,
            "redshift_status": self.redshift_status,
            "backup_strategy": self.backup_strategy,
            "session": asdict(self.session),
            "cumulative": asdict(self.cumulative),
            "files_written_total": self.files_written_total,
            "files_loaded_total": self.files_loaded_total,
            "committed_through": self.committed_through,
            "manual_timestamp": self.manual_timestamp,
            "cursor_census": self.cursor_census,
            "cursor_warnings": self.cursor_warnings,
            "last_run_result": self.last_run_result,
            "last_error": self.last_error,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, table: str, data: Any) -> "Watermark":
        if not isinstance(data, dict):
            raise WatermarkError(f"watermark for {table} is not a JSON object", "inspect it or run `watermark reset`")
        version = data.get("version")
        if version != DOC_VERSION:
            raise WatermarkError(
                f"watermark for {table} has unknown version {version!r} (this s3rb-tui reads version {DOC_VERSION})",
                "upgrade s3rb-tui, or run `watermark reset` to start the table afresh",
            )
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            kwargs["session"] = Counts(**data.get("session", {}))
            kwargs["cumulative"] = Counts(**data.get("cumulative", {}))
            wm = cls(**kwargs)
        except TypeError as e:
            raise WatermarkError(f"watermark for {table} is malformed: {e}", "run `watermark reset`") from None
        if wm.table != table:
            raise WatermarkError(f"watermark document for {table} names table {wm.table!r}", "run `watermark reset`")
        return wm

    # --- transitions (pure: each returns a new Watermark) --------------------------------
    def with_backup_commit(
        self,
        *,
        session_id: str,
        strategy: str,
        rows: int,
        files: list[str],
        position: FilePosition | None,
        last_data_timestamp: Any,
        last_key: list[Any] | None,
        nulls_done: bool,
        status: str,
        null_cursor_rows: int = 0,
        zero_dates: int = 0,
        initial_scan: dict[str, Any] | None = None,
    ) -> "Watermark":
        """Record ``rows`` extracted so far in session ``session_id`` (replace within a session)."""
        same = self.backup_session_id == session_id
        prev_session = self.session.extracted if same else 0
        prev_files = (self.session_files_written_count or len(self.session_files_written)) if same else 0
        cumulative = self.cumulative.extracted - prev_session + rows
        return replace(
            self,
            last_data_timestamp=last_data_timestamp,
            last_key=last_key,
            nulls_done=nulls_done,
            initial_scan=initial_scan,
            last_extraction_time=iso(utcnow()),
            mysql_status=status,
            backup_strategy=strategy,
            session=Counts(extracted=rows, loaded=self.session.loaded if same else 0),
            cumulative=replace(self.cumulative, extracted=cumulative),
            backup_session_id=session_id,
            committed_through=str(position) if position else self.committed_through,
            files_written_total=self.files_written_total - prev_files + len(files),
            session_files_written=[],
            session_files_written_count=len(files),
            redshift_status="pending" if files else self.redshift_status,
            manual_timestamp=None,
            null_cursor_rows=null_cursor_rows,
            zero_dates=zero_dates,
            last_error=None,
            updated_at=iso(utcnow()),
        )

    def with_load_commit(self, *, session_id: str, rows: int, files: list[str], status: str) -> "Watermark":
        same = self.load_session_id == session_id
        prev_rows = self.session.loaded if same else 0
        prev_files = self.session_files_loaded if same else []
        return replace(
            self,
            redshift_status=status,
            session=replace(self.session, loaded=rows),
            cumulative=replace(self.cumulative, loaded=self.cumulative.loaded - prev_rows + rows),
            load_session_id=session_id,
            files_loaded_total=self.files_loaded_total - len(prev_files) + len(files),
            session_files_loaded=list(files),
            last_load_time=iso(utcnow()),
            updated_at=iso(utcnow()),
        )

    def with_manual_timestamp(self, timestamp: str) -> "Watermark":
        return replace(
            self,
            last_data_timestamp=timestamp,
            last_key=None,
            nulls_done=True,
            initial_scan=None,
            last_extraction_time=None,
            mysql_status="manual",
            backup_strategy="manual_cli",
            manual_timestamp=timestamp,
            updated_at=iso(utcnow()),
        )

    def with_reset(self) -> "Watermark":
        """Fresh start for extraction and counts; the file history (committed files) is kept."""
        return Watermark(
            table=self.table,
            mysql_status="reset",
            committed_through=self.committed_through,
            files_written_total=self.files_written_total,
            files_loaded_total=self.files_loaded_total,
            counts_base={"ledger_files": self.files_loaded_total, "by": "watermark reset", "at": iso(utcnow())},
            updated_at=iso(utcnow()),
        )

    def with_load_cleared(self) -> "Watermark":
        """The warehouse side starts again (a rebuild dropped the table and its ledger rows): the
        extraction side and the file history are kept."""
        return replace(
            self,
            redshift_status="pending",
            session=replace(self.session, loaded=0),
            cumulative=replace(self.cumulative, loaded=0),
            load_session_id=None,
            files_loaded_total=0,
            session_files_loaded=[],
            counts_base=None,  # the table's ledger rows are gone too: counting starts at 0
            updated_at=iso(utcnow()),
        )

    def with_counts(self, count: int, mode: str) -> "Watermark":
        if mode == "absolute":
            cumulative = Counts(extracted=count, loaded=count)
        else:
            cumulative = Counts(extracted=self.cumulative.extracted + count, loaded=self.cumulative.loaded + count)
        return replace(self, cumulative=cumulative, updated_at=iso(utcnow()))

    def with_cancel(self, side: str) -> "Watermark":
        """An operator's cancel: not a failure. The position stays at the last commit; a
        cancelled load leaves its files waiting (``pending``), the next run goes on from there."""
        if side == "mysql":
            return replace(self, mysql_status="cancelled", last_error=None, last_run_result="cancelled", updated_at=iso(utcnow()))
        return replace(self, redshift_status="pending", last_error=None, last_run_result="cancelled", updated_at=iso(utcnow()))

    def with_failure(self, side: str, error: str) -> "Watermark":
        if side == "mysql":
            return replace(self, mysql_status="failed", last_error=error, last_run_result="failed", updated_at=iso(utcnow()))
        return replace(self, redshift_status="failed", last_error=error, last_run_result="failed", updated_at=iso(utcnow()))


class WatermarkStore:
    """Reads and writes watermark documents with compare-and-swap."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def read(self, table: TableRef) -> tuple[Watermark | None, str | None]:
        """(watermark, etag), or (None, None) when the table has none yet."""
        key = watermark_key(table)
        try:
            data, etag = self.store.get(key)
        except KeyError:
            return None, None
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise WatermarkError(
                f"watermark for {table} at {key} is corrupt ({e.__class__.__name__})",
                "inspect the document, or run `watermark reset` to start the table afresh",
            ) from None
        return Watermark.from_json(table.full_name, doc), etag

    def get(self, table: TableRef) -> Watermark | None:
        return self.read(table)[0]

    def write(self, wm: Watermark, etag: str | None) -> str:
        table = TableRef.parse(wm.table)
        body = json.dumps(wm.to_json(), indent=2, sort_keys=True, default=str).encode("utf-8")
        try:
            if etag is None:
                return self.store.put(watermark_key(table), body, if_none_match=True)
            return self.store.put(watermark_key(table), body, if_match=etag)
        except PreconditionFailed:
            raise ConflictError(
                f"watermark for {table} was changed by someone else while this run used it",
                "run again; check that no other process works on this table",
            ) from None

    def update(self, table: TableRef, change: Callable[[Watermark], Watermark], attempts: int = 5) -> Watermark:
        """Read, apply ``change``, write with compare-and-swap; retry a lost race a few times."""
        for attempt in range(attempts):
            current, etag = self.read(table)
            new = change(current or Watermark(table=table.full_name))
            try:
                self.write(new, etag)
                return new
            except ConflictError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def delete(self, table: TableRef) -> None:
        self.store.delete(watermark_key(table))

    def list(self) -> Iterator[Watermark]:
        for info in self.store.list(WATERMARK_PREFIX):
            rest = info.key[len(WATERMARK_PREFIX):]
            if "/" in rest or not rest.endswith(".json"):
                continue
            table = TableRef.parse(rest[: -len(".json")])
            wm = self.get(table)
            if wm is not None:
                yield wm
