"""The Source interface and the positions of the keyset pagination shared by every source.

Extraction order is (cursor column, primary key...) (``sources/keyset.py`` builds its ORDER BY
and WHERE clauses). A ``Position`` says what was read last; the next query starts strictly after
it, so rows sharing one timestamp are never skipped or repeated at a batch edge.

A table's first full backup may instead be an *initial scan* (``InitialScan``): the rows with a
cursor up to a bound fixed when the scan starts (or NULL), read in primary-key order, which the
server serves from the clustered index instead of a (cursor, key) index walk with a row lookup
each. Its position is the last key read; when the scan ends, the position becomes the keyset
position of the largest (cursor, key) up to the bound (one index lookup), so the next run
continues exactly as after a keyset read of the same rows. Rows changed while the scan runs get a cursor past the bound and
are left to the next run.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pyarrow as pa

from s3rb_tui.engine.cursors.bounds import SourceClock, zone_offset
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import ConversionStats, TableSchema
from s3rb_tui.engine.core.table_names import TableRef


@dataclass(frozen=True)
class InitialScan:
    """A first full backup in primary-key order, in progress, or a catch-up of an incremental table
    far behind: the same scan of the rows after the keyset position ``since``.

    ``upper_bound``: the cursor bound fixed when the scan started (kept by every resumed run, so
    that a row changed meanwhile is never between the scan and the next run); ``after_key``: the
    last primary key read (None: nothing read yet); ``since``: a catch-up's lower end, the keyset
    position it started from (the watermark keeps it in its keyset fields while the scan runs)."""

    upper_bound: Any
    after_key: tuple[Any, ...] | None = None
    since: "Position | None" = None

    def to_json(self) -> dict[str, Any]:
        out = {"upper_bound": self.upper_bound, "after_key": None if self.after_key is None else list(self.after_key)}
        return {**out, "catch_up": True} if self.since is not None else out

    @classmethod
    def from_json(cls, data: dict[str, Any], since: "Position | None" = None) -> "InitialScan":
        """``since``: the watermark's keyset position, a catch-up's lower end (used when ``data`` is one)."""
        after = data.get("after_key")
        return cls(upper_bound=data.get("upper_bound"), after_key=None if after is None else tuple(after),
                   since=since if data.get("catch_up") else None)


@dataclass(frozen=True)
class Position:
    cursor: Any = None  # last cursor value read (None: not yet past the NULL-cursor rows)
    key: tuple[Any, ...] | None = None  # last primary key read at that cursor value
    nulls_done: bool = False  # the NULL-cursor rows are behind us (or are not wanted)
    scan: InitialScan | None = None  # an initial scan in progress (the fields above are then unused)

    @property
    def is_start(self) -> bool:
        return self.cursor is None and self.key is None and not self.nulls_done and self.scan is None


@dataclass(frozen=True)
class TableInfo:
    ref: TableRef
    is_view: bool = False
    estimated_rows: int | None = None
    estimated_bytes: int | None = None


@dataclass
class SourceBatch:
    batch: pa.RecordBatch
    end: Position  # position after the last row of this batch
    null_cursor_rows: int = 0
    stats: ConversionStats = field(default_factory=ConversionStats)


def empty_batch(schema: TableSchema, end: Position) -> SourceBatch:
    """No rows, only a position: the end of an initial scan whose last page was full."""
    arrow = schema.arrow_schema()
    return SourceBatch(batch=pa.RecordBatch.from_arrays([pa.array([], f.type) for f in arrow], schema=arrow), end=end)


@dataclass(frozen=True)
class Estimate:
    rows: int
    bytes: int | None
    exact: bool


@dataclass
class PendingEstimate:
    """An estimate counted beside the extraction (``Source.estimate_beside``): ``known()`` is None
    until the count has answered; ``stop()`` ends a count still running when the run ends first."""

    future: "Future[Estimate]"
    stop: Callable[[], None] = lambda: None

    @classmethod
    def of(cls, estimate: Estimate) -> "PendingEstimate":
        done: Future = Future()
        done.set_result(estimate)
        return cls(done)

    def known(self) -> Estimate | None:
        if not self.future.done() or self.future.exception() is not None:
            return None
        return self.future.result()

    def error(self) -> BaseException | None:
        return self.future.exception() if self.future.done() else None


def _no_log(*args: Any, **kwargs: Any) -> None:
    pass


class Source(ABC):
    dialect: str  # "mysql" | "sqlite"
    #: ``log(event, level=..., **fields)``; a job points it at its JobContext to surface retries
    log: Callable[..., None] = staticmethod(_no_log)

    @abstractmethod
    def version(self) -> str:
        """Server version string (also a connectivity check)."""

    @abstractmethod
    def now(self) -> dt.datetime:
        """The source's clock, naive UTC (the session runs in +00:00)."""

    def clock(self, zone: str = "", transactions: bool = True) -> SourceClock:
        """The clock a run's bound is computed from (``engine/cursors/bounds.py``), ``zone`` being the one
        DATETIME cursors are written in (empty: the source's own); ``transactions``: also the
        oldest open transaction. This default has no view of them; MySQL's reads them
        (``sources/mysql_clock.py``)."""
        now = self.now()
        try:
            offset = zone_offset(zone, now)
        except ValueError as e:
            raise JobError(f"DB_DATETIME_ZONE: {e}", "use an offset such as +09:00, or an IANA zone name such as Asia/Tokyo") from None
        return SourceClock(now_utc=now, zone=zone or "UTC", zone_offset=offset)

    def census(self, schema: TableSchema, clock_value: Any) -> tuple[Any, int, Any, int]:
        """(newest cursor, rows with a cursor later than ``clock_value``, the latest of those, rows
        with a NULL cursor) of an incremental table (``engine/cursors/census.py``)."""
        raise NotImplementedError(f"{type(self).__name__} does not count cursor values")

    @abstractmethod
    def list_tables(self, schema: str) -> list[TableInfo]:
        """Base tables and views in ``schema``, views marked."""

    def list_schemas(self) -> list[str]:
        """Every schema the user may read, system schemas left out, sorted (``engine.catalog``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its schemas")

    @abstractmethod
    def discover(self, ref: TableRef, cursor_override: str | None = None, key_override: tuple[str, ...] | None = None) -> TableSchema:
        """Columns, types, primary key and cursor column. Raises JobError if the table is missing."""

    @abstractmethod
    def read_batches(
        self,
        schema: TableSchema,
        start: Position,
        upper_bound: Any,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[SourceBatch]:
        """Stream rows after ``start`` (incremental tables) or the whole table (snapshot tables)
        as Arrow batches of at most ``batch_size`` rows. Memory is bounded by one batch."""

    #: whether a first full backup may be an initial scan in primary-key order (``InitialScan``)
    supports_initial_scan = False

    def initial_scan_bound(self, schema: TableSchema, upper_bound: Any) -> Any:
        """The cursor bound a new initial scan keeps to its end (None: no scan)."""
        return None

    def catch_up(self, schema: TableSchema, start: Position, upper_bound: Any) -> bool:
        """Whether the rows after the keyset position ``start`` are most of the table, so that an
        incremental run reads them as a catch-up scan in primary-key order (``InitialScan.since``)."""
        return False

    def scan_end(self, schema: TableSchema, scan: InitialScan) -> Position:
        """The keyset position once ``scan`` has read every row."""
        raise NotImplementedError(f"{type(self).__name__} does not do initial scans")

    @abstractmethod
    def count(self, schema: TableSchema, start: Position | None = None, upper_bound: Any = None) -> int:
        """Rows after ``start`` (all rows when None) up to ``upper_bound``."""

    def estimate(self, schema: TableSchema, start: Position, upper_bound: Any) -> Estimate:
        rows = self.count(schema, start if schema.incremental else None, upper_bound if schema.incremental else None)
        return Estimate(rows=rows, bytes=None, exact=True)

    def estimate_beside(self, schema: TableSchema, start: Position, upper_bound: Any) -> PendingEstimate:
        """``estimate`` for a run that need not wait for it (its progress total): sources with a
        second connection count there while the extraction starts; this one counts now."""
        return PendingEstimate.of(self.estimate(schema, start, upper_bound))

    def distinct_keys(self, schema: TableSchema) -> int | None:
        return None

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
