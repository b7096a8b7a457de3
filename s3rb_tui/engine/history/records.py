"""Run records in the store: ``runs/YYYY/MM/DD/<run_id>.json``, one JSON document per run.

The run id starts with the run's start time in UTC to the millisecond
(``20261202T020000.123Z-<job id>``), so the key of a run follows from its id (``history RUN_ID``
reads one object, no listing) and id order is start order (``run_id_order``). Ids written before
the milliseconds were added (``20261202T020000Z-<job id>``) still read, as started at .000: whole
seconds ordered runs started in the same second by their random job id, so a failed backup and
the backup that fixed it a moment later could list in either order (and the alert's "recovered"
compared against the wrong one).

A record says ``running`` while its writer's heartbeat is fresh; a record whose heartbeat is
older than the limit the writer wrote into it (``stale_after_seconds``) reads as ``abandoned`` (a
run killed with -9, a host that went away). The limit travels with the record, so every reader
on every host agrees on it whatever its own settings. The heartbeat's age is
judged on the store's own clock: every heartbeat rewrites the object, so its ``last_modified``
is the last beat as the store stamped it, compared with the store's now (``ObjectStore.now``:
S3's ``Date`` header) — neither the writer's nor the reader's clock takes part, so a host whose
clock is minutes off neither marks a live run abandoned nor keeps a dead one running. Only a
record read without its object's time falls back to the ``heartbeat_at`` the writer wrote.

Retention removes records older than ``RUN_HISTORY_DAYS``, a few per run (``prune_expired``):
the listing is in key order, oldest first, so it stops at the first record to keep.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from s3rb_tui.engine.core.events import OK_STATUSES
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.stores.base import ObjectInfo, ObjectStore

RUNS_PREFIX = "runs/"
#: the status of a whole run as a reader sees it
RUN_STATUSES = ("running", "success", "failed", "cancelled", "abandoned")
#: table statuses that count as ok (the same as TableResult.ok)
OK_TABLE_STATUSES = tuple(sorted(OK_STATUSES))  # a finished table that is fine (engine/core/events.py)
#: commands whose runs write a table's data (the Dashboard's "Last run" is the newest of these)
DATA_COMMANDS = ("backup", "sync", "rebuild", "repair")
#: a table's earlier outcome is judged among runs of the same family (alerts: "recovered"): a
#: verify that passes does not mean a failed backup recovered, and a clean says nothing of either
_FAMILIES = {"backup": "transfer", "sync": "transfer", "rebuild": "transfer", "verify": "verify", "repair": "verify",
             "clean": "clean", "s3clean": "clean"}
_RUN_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?Z-([0-9A-Za-z]{1,40})$")
_KEY = re.compile(r"^runs/(\d{4})/(\d{2})/(\d{2})/([^/]+)\.json$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def new_run_id(job_id: str, started: dt.datetime) -> str:
    utc = started.astimezone(dt.timezone.utc)
    return f"{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z-{job_id}"


def run_id_order(run_id: str) -> tuple[str, str, str]:
    """Sort key in start order: the id's time to the millisecond (``.000`` for an id without
    milliseconds), then the job id; a name that is no run id sorts first (oldest)."""
    m = _RUN_ID.match(run_id)
    if not m:
        return ("", "", run_id)
    return ("".join(m.group(1, 2, 3, 4, 5, 6)), m.group(7) or "000", m.group(8))


def run_key(run_id: str) -> str:
    """``runs/YYYY/MM/DD/<run_id>.json``; a malformed id is bad input (exit 2)."""
    m = _RUN_ID.match(run_id or "")
    if not m:
        raise UsageError(f"{str(run_id)[:60]!r} is not a run id", "run ids look like 20261202T020000.123Z-1a2b3c4d5e6f; `s3rb-tui --run history` lists them")
    return f"{RUNS_PREFIX}{m.group(1)}/{m.group(2)}/{m.group(3)}/{run_id}.json"


def key_day(key: str) -> dt.date | None:
    m = _KEY.match(key)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def command_family(command: str) -> str:
    """``transfer`` (backup, sync, rebuild), ``verify`` (verify, repair), ``clean`` (clean, s3clean)."""
    name = command.split(" ")[0]
    return _FAMILIES.get(name, name)


@dataclass(frozen=True)
class RunRecord:
    """One run as read from the store; ``status`` is the effective one (``abandoned`` included)."""

    doc: dict[str, Any]
    status: str
    key: str = ""
    tables: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def from_doc(cls, doc: dict[str, Any], now: dt.datetime | None = None, key: str = "",
                 written_at: dt.datetime | None = None) -> "RunRecord":
        """``written_at``: the object's last_modified, with ``now`` on the same (the store's) clock."""
        return cls(doc=doc, status=effective_status(doc, now or utcnow(), written_at), key=key,
                   tables=tuple(t for t in doc.get("tables") or [] if isinstance(t, dict)))

    @property
    def run_id(self) -> str:
        return str(self.doc.get("run_id") or "")

    @property
    def command(self) -> str:
        return str(self.doc.get("command") or "?")

    @property
    def host(self) -> str:
        return str(self.doc.get("host") or "?")

    @property
    def started_at(self) -> dt.datetime | None:
        return parse_iso(self.doc.get("started_at"))

    @property
    def finished_at(self) -> dt.datetime | None:
        return parse_iso(self.doc.get("finished_at"))

    @property
    def how(self) -> str:
        """console | cli (a person at a terminal) | cron (no terminal: cron, systemd, a script)."""
        if self.doc.get("trigger") == "console":
            return "console"
        return "cli" if self.doc.get("interactive") else "cron"

    @property
    def where(self) -> str:
        """``cron@etl-2``: how the run was started and on which host."""
        return f"{self.how}@{self.host}"

    @property
    def failed_tables(self) -> list[str]:
        return [str(t.get("table")) for t in self.tables if t.get("status") not in OK_TABLE_STATUSES + ("pending", "running")]

    @property
    def ok_tables(self) -> list[str]:
        return [str(t.get("table")) for t in self.tables if t.get("status") in OK_TABLE_STATUSES]

    @property
    def table_names(self) -> list[str]:
        return [str(t.get("table")) for t in self.tables]

    def table(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tables if t.get("table") == name), None)

    @property
    def rows(self) -> int:
        """Rows the run moved: loaded where it loaded, else extracted."""
        total = 0
        for t in self.tables:
            loaded, extracted = t.get("rows_loaded"), t.get("rows_extracted")
            total += int(loaded if loaded is not None else extracted or 0)
        return total

    @property
    def duration_seconds(self) -> float | None:
        start, end = self.started_at, self.finished_at or parse_iso(self.doc.get("heartbeat_at"))
        return (end - start).total_seconds() if start and end else None

    @property
    def first_error(self) -> str | None:
        for t in self.tables:
            if t.get("error"):
                return f"{t.get('table')}: {t['error']}"
        return self.doc.get("error")

    def to_json(self) -> dict[str, Any]:
        """The stored document with the effective status (``abandoned`` where it is one)."""
        return {**self.doc, "status": self.status}


def effective_status(doc: dict[str, Any], now: dt.datetime, written_at: dt.datetime | None = None) -> str:
    status = str(doc.get("status") or "running")
    if status != "running":
        return status
    beat = written_at or parse_iso(doc.get("heartbeat_at")) or parse_iso(doc.get("started_at"))
    limit = doc.get("stale_after_seconds")
    if beat is None or not isinstance(limit, (int, float)):
        return status
    return "abandoned" if (now - beat).total_seconds() > limit else "running"


def write_doc(store: ObjectStore, doc: dict[str, Any], text: str, etag: str | None) -> str:
    """One compare-and-swap write of a record: create (the key must not exist) or replace the
    version ``etag`` names. Raises PreconditionFailed when another writer got there first."""
    key = run_key(str(doc["run_id"]))
    data = text.encode("utf-8")
    if etag is None:
        return store.put(key, data, if_none_match=True)
    return store.put(key, data, if_match=etag)


def read_record(store: ObjectStore, run_id: str, now: dt.datetime | None = None) -> RunRecord:
    key = run_key(run_id)
    try:
        data, _etag = store.get(key)
    except KeyError:
        raise UsageError(f"no run {run_id} in {store.url}", "`s3rb-tui --run history` lists the runs the store has") from None
    doc = json.loads(data)
    written = store.head(key) if doc.get("status") == "running" else None  # only a running record needs its age
    return RunRecord.from_doc(doc, now or (store.now() if written else None), key, written.last_modified if written else None)


#: records read at once when listing: each is one GET, bound by the endpoint's latency, not by
#: this process (bench/history_listing.py, 500 records on moto on loopback, a 2-core machine shared
#: with other jobs: ``--failed`` 7.4 / 6.7 s one at a time, 6.3 / 6.5 s with 16 in two runs: moto's
#: own CPU is the bound there. The pool is for a remote S3, whose round trips overlap; that gain
#: is not measured here)
READ_THREADS = 16


def record_infos(store: ObjectStore, since: dt.datetime | None = None) -> list[ObjectInfo]:
    """Every record object (started on or after ``since``'s day), newest first."""
    first_day = since.astimezone(dt.timezone.utc).date() if since else None
    infos = []
    for info in store.list(RUNS_PREFIX):
        day = key_day(info.key)
        if day is None or (first_day and day < first_day):
            continue
        infos.append(info)
    infos.sort(key=lambda i: run_id_order(i.key.rsplit("/", 1)[-1].removesuffix(".json")), reverse=True)
    return infos


def record_keys(store: ObjectStore, since: dt.datetime | None = None) -> list[str]:
    """Every record key (started on or after ``since``'s day), newest first."""
    return [i.key for i in record_infos(store, since)]


def _read_one(store: ObjectStore, info: ObjectInfo, now: dt.datetime) -> RunRecord | None:
    try:
        data, _ = store.get(info.key)
        return RunRecord.from_doc(json.loads(data), now, info.key, info.last_modified)
    except (KeyError, ValueError):  # removed meanwhile (retention), or not a record
        return None


def read_newest_first(store: ObjectStore, infos: list[ObjectInfo], now: dt.datetime, threads: int = READ_THREADS) -> Iterator[RunRecord]:
    """The records of ``infos`` in their order, read ``threads`` at a time a window ahead: a caller
    that stops early (``--limit`` met) has read at most one window more than it used."""
    window = max(threads, 1)
    with ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="run-records") as pool:
        for start in range(0, len(infos), window):
            for rec in pool.map(lambda i: _read_one(store, i, now), infos[start:start + window]):
                if rec is not None:
                    yield rec


def matches_tables(record: RunRecord, patterns: Iterable[str]) -> bool:
    """Whether the run touched a table named by ``patterns`` (names or globs such as 'db.*')."""
    pats = list(patterns)
    return any(fnmatch.fnmatchcase(name, p) for name in record.table_names for p in pats)


def list_records(
    store: ObjectStore,
    *,
    since: dt.datetime | None = None,
    tables: Iterable[str] | None = None,
    failed: bool = False,
    limit: int | None = None,
    now: dt.datetime | None = None,
    statuses: Iterable[str] | None = None,
    commands: Iterable[str] | None = None,
    threads: int = READ_THREADS,
) -> list[RunRecord]:
    """Runs newest first. ``failed``: runs that failed or were abandoned, or had a failed table.
    Records are read ``threads`` at a time, newest first, until ``limit`` match; one that cannot
    be parsed is skipped. ``now``: the store's (``ObjectStore.now``) unless given."""
    now = now or store.now()
    patterns = list(tables or [])
    wanted = set(statuses or ())
    kinds = set(commands or ())
    out: list[RunRecord] = []
    for rec in read_newest_first(store, record_infos(store, since), now, threads):
        if since and rec.started_at and rec.started_at < since:
            continue
        if patterns and not matches_tables(rec, patterns):
            continue
        if failed and not (rec.status in ("failed", "abandoned") or rec.failed_tables):
            continue
        if wanted and rec.status not in wanted:
            continue
        if kinds and rec.command.split(" ")[0] not in kinds:
            continue
        out.append(rec)
        if limit and len(out) >= limit:
            break
    return out


def prune_expired(store: ObjectStore, keep_days: int, now: dt.datetime | None = None, at_most: int = 20) -> list[str]:
    """Delete at most ``at_most`` records from days older than ``keep_days``; returns their keys.
    Reads the listing only up to the first record to keep (it is in key order, oldest first)."""
    cutoff = (now or utcnow()).astimezone(dt.timezone.utc).date() - dt.timedelta(days=keep_days)
    expired: list[str] = []
    for info in store.list(RUNS_PREFIX):
        day = key_day(info.key)
        if day is None:
            continue
        if day >= cutoff or len(expired) >= at_most:
            break
        expired.append(info.key)
    if expired:
        errors = store.delete_many(expired)
        failed = {e.key for e in errors}
        expired = [k for k in expired if k not in failed]
    return expired


def running_records(store: ObjectStore, now: dt.datetime | None = None, written_within: float = 3600.0) -> list[RunRecord]:
    """Runs still ``running`` (heartbeat fresh), newest first. Only records written within
    ``written_within`` seconds of the store's now are read (a live run rewrites its record every
    heartbeat, so the listing's modification time finds them without reading every record)."""
    now = now or store.now()
    since = now - dt.timedelta(seconds=written_within)
    infos = [i for i in record_infos(store) if i.last_modified >= since]
    return [rec for rec in read_newest_first(store, infos, now) if rec.status == "running"]


def last_run_of_tables(store: ObjectStore, tables: Iterable[str], now: dt.datetime | None = None,
                       scanned: int = 30, commands: Iterable[str] = DATA_COMMANDS) -> dict[str, RunRecord]:
    """The newest run of each table among the ``scanned`` newest records of ``commands``."""
    wanted = set(tables)
    found: dict[str, RunRecord] = {}
    for rec in list_records(store, now=now, limit=scanned, commands=commands):
        for name in rec.table_names:
            if name in wanted and name not in found:
                found[name] = rec
        if len(found) == len(wanted):
            break
    return found
