"""``verify``: prove, table by table, that the warehouse holds what the source holds.

How (``engine/core/checksum.py`` for the canonical row, ``engine/ops/verify_sides.py`` for the queries):

1. Split the primary-key range into segments: arithmetic on a single integer key (no scan), else
   every n-th key of a streamed key-order read.
2. Checksum each segment on both sides at once — (rows, sum of 60-bit row hashes) pushed down to
   each database; ``workers`` segments are in flight on each side, each worker with its own
   connection.
3. A segment whose checksums differ is split again (``bisect_factor`` parts) until it holds at
   most ``fetch_rows`` rows; then both sides' rows of it are fetched (canonical text per column)
   and compared column by column. A key one side has and the other does not is looked up on the
   other side by equality, so a key that sorts elsewhere there (a collation, an ENUM) is never
   reported missing, and a source row past the watermark is "not yet synced", never a difference.

What is compared: a merge table and a snapshot (replace) table as they are, an append table's
``<table>_latest`` view. Source rows whose cursor is past the watermark's last value are left out
of the source side and counted as not yet synced. Memory is one fetched segment per worker and the
key lists (capped by ``limit``; the counts are always exact), never the table.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from s3rb_tui.engine.ops.verify_sides import Buckets, Checksum, Queries, Segment, Side, SideRow

if TYPE_CHECKING:
    from s3rb_tui.engine.core.jobs import CancelToken

INTEGER_KEYS = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")
#: key kinds every side orders alike: key ranges mean the same rows on both sides. A key with text
#: (collations: MariaDB's 'east' < 'north' < 'South' is PostgreSQL's 'South' < 'east' < 'north')
#: or an ENUM (sorted by number at the source, by label in the warehouse) is split into buckets of
#: its hash instead: one grouped scan per level on each side, no order needed.
ORDERED_KINDS = ("integer", "decimal", "date", "datetime", "timestamp", "binary")
MAX_DEPTH = 12
RESIDUES_PER_QUERY = 256
_EMPTY = Checksum(0, 0, 0)


@dataclass(frozen=True)
class VerifyOptions:
    keys_only: bool = False
    columns: tuple[str, ...] | None = None  # compare only these (and the key)
    since: str | None = None  # 'YYYY-MM-DD HH:MM:SS': only rows whose cursor is at or after it
    limit: int = 1000  # keys listed per kind (counts are exact)
    workers: int = 4  # segments in flight on each side
    segments: int = 32  # first split of the key range
    bisect_factor: int = 16
    fetch_rows: int = 2000  # a differing segment this small is fetched and compared row by row


@dataclass
class VerifyProgress:
    table: str
    segments_done: int
    segments_total: int
    rows_checked: int


@dataclass
class TableVerdict:
    table: str
    relation: str
    mode: str
    compared_columns: list[str]
    source_rows: int = 0
    warehouse_rows: int = 0
    missing_in_warehouse: list[list[Any]] = field(default_factory=list)
    extra_in_warehouse: list[list[Any]] = field(default_factory=list)
    different: list[list[Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"missing_in_warehouse": 0, "extra_in_warehouse": 0, "different": 0})
    different_columns: Counter = field(default_factory=Counter)
    not_yet_synced: int = 0
    segments: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not any(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table, "warehouse_relation": self.relation, "mode": self.mode,
            "source_rows": self.source_rows, "warehouse_rows": self.warehouse_rows,
            "missing_in_warehouse": self.missing_in_warehouse, "extra_in_warehouse": self.extra_in_warehouse,
            "different": self.different, "counts": dict(self.counts), "different_columns": dict(self.different_columns),
            "not_yet_synced": self.not_yet_synced, "segments": self.segments, "seconds": round(self.seconds, 3),
            "equal": self.equal, "compared_columns": self.compared_columns, "notes": self.notes,
        }


class _Connections:
    """One Queries per worker thread and side, opened on first use, all closed at the end."""

    def __init__(self, openers: dict[str, Callable[[], Queries]]):
        self.openers = openers
        self.local = threading.local()
        self.opened: list[Queries] = []
        self.lock = threading.Lock()

    def get(self, side: str) -> Queries:
        q = getattr(self.local, side, None)
        if q is None:
            q = self.openers[side]()
            setattr(self.local, side, q)
            with self.lock:
                self.opened.append(q)
        return q

    def close(self) -> None:
        for q in self.opened:
            try:
                q.close()
            except Exception:  # a connection already gone holds nothing
                pass


@dataclass
class _Pair:
    seg: Segment
    top: bool
    depth: int = 0
    source: Checksum | None = None
    warehouse: Checksum | None = None


class Verifier:
    """One table's verify: ``run()`` returns its TableVerdict (``verdict`` is filled in place)."""

    def __init__(self, source: Side, warehouse: Side, openers: dict[str, Callable[[], Queries]], verdict: TableVerdict,
                 options: VerifyOptions, late: Any = None, progress: Callable[[VerifyProgress], None] | None = None,
                 cancel: "CancelToken | None" = None):
        self.source, self.warehouse, self.verdict, self.options = source, warehouse, verdict, options
        self.late_where = late  # source: the clause of rows past the watermark (their count is "not yet synced")
        self.conns = _Connections(openers)
        self.progress, self.cancel = progress, cancel
        pk = source.schema.column(source.pk[0])
        self.integer_key = len(source.pk) == 1 and pk.data_type in INTEGER_KEYS
        self.ordered = all(f.kind in ORDERED_KINDS for f in source.key_fields)
        self.done = self.total = self.rows_checked = 0

    # --- run ------------------------------------------------------------------------
    def run(self) -> TableVerdict:
        started = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=2 * max(1, self.options.workers), thread_name_prefix="s3rb-verify")
        self.pool = pool
        self.futures: dict[Future, tuple[str, Any]] = {}
        try:
            if self.late_where is not None:
                self._submit("late", None, lambda: self.source.count(self.conns.get("source"), self.late_where))
            if self.ordered:
                for seg in self._first_segments():
                    self._check(seg, top=True)
            else:
                self._check_buckets(None, self.options.segments)
            self._drain()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.conns.close()
        self.verdict.source_rows += self.verdict.not_yet_synced
        for kind in ("missing_in_warehouse", "extra_in_warehouse", "different"):
            getattr(self.verdict, kind).sort(key=_sort_key)
        self.verdict.seconds = time.monotonic() - started
        return self.verdict

    def _submit(self, kind: str, tag: Any, fn: Callable[[], Any]) -> None:
        self.futures[self.pool.submit(fn)] = (kind, tag)

    def _drain(self) -> None:
        while self.futures:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            finished, _ = wait(list(self.futures), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                kind, tag = self.futures.pop(fut)
                result = fut.result()  # a failed query ends the verify with its error
                if kind == "late":
                    self.verdict.not_yet_synced = int(result)
                elif kind == "checksum":
                    pair, side = tag
                    setattr(pair, side, result)
                    if pair.source is not None and pair.warehouse is not None:
                        self._judge(pair)
                elif kind == "split":
                    depth, parent = tag
                    if result == [parent]:  # nothing to cut at (one key held twice): compare its rows
                        depth = MAX_DEPTH
                    for seg in result:
                        self._check(seg, top=False, depth=depth)
                elif kind == "compare":
                    self._merge(result)
                    self._step(0)
                elif kind == "buckets":
                    level, side = tag
                    level[side] = result
                    if "source" in level and "warehouse" in level:
                        self._judge_buckets(level)

    def _step(self, rows: int) -> None:
        self.done += 1
        self.rows_checked += rows
        if self.progress is not None:
            self.progress(VerifyProgress(self.verdict.table, self.done, self.total, self.rows_checked))

    # --- segments -------------------------------------------------------------------
    def _first_segments(self) -> list[Segment]:
        src, wh = self.conns.get("source"), self.conns.get("warehouse")
        if self.integer_key:
            ends = [b for b in (self.source.bounds(src, (None, None)), self.warehouse.bounds(wh, (None, None))) if b]
            if not ends:
                return [(None, None)]
            lo, hi = min(int(b[0]) for b in ends), max(int(b[1]) for b in ends)
            return self._arithmetic(None, None, lo - 1, hi, self.options.segments)
        rows = self.source.count(src)
        step = max(self.options.fetch_rows, math.ceil(rows / max(1, self.options.segments)))
        return _between(self.source.every_nth_key(src, (None, None), step), (None, None))

    def _arithmetic(self, lo: Any, hi: Any, low: int, high: int, parts: int) -> list[Segment]:
        """(lo, hi] split at evenly spaced integers between ``low`` (exclusive) and ``high``."""
        width = high - low
        if width <= 1:
            return [(lo, hi)]
        parts = max(1, min(parts, width))
        cuts = sorted({low + (width * i) // parts for i in range(1, parts)})
        return _between([(c,) for c in cuts], (lo, hi))

    def _check(self, seg: Segment, top: bool, depth: int = 0) -> None:
        pair = _Pair(seg, top, depth)
        self.total += 1
        self._submit("checksum", (pair, "source"), lambda: self.source.checksum(self.conns.get("source"), seg))
        self._submit("checksum", (pair, "warehouse"), lambda: self.warehouse.checksum(self.conns.get("warehouse"), seg))

    def _judge(self, pair: _Pair) -> None:
        s, w = pair.source, pair.warehouse
        assert s is not None and w is not None
        if pair.top:
            self.verdict.source_rows += s.rows
            self.verdict.warehouse_rows += w.rows
            self.verdict.segments += 1
        if s == w:
            self._step(s.rows)
            return
        if max(s.rows, w.rows) <= self.options.fetch_rows or pair.depth >= MAX_DEPTH:
            self.total += 1
            seg = pair.seg
            self._submit("compare", None, lambda: self._compare(lambda q: self.source.fetch(q, seg), lambda q: self.warehouse.fetch(q, seg)))
        else:
            self._submit("split", (pair.depth + 1, pair.seg), lambda: self._split(pair.seg, s, w))
        self._step(0)

    # --- buckets (keys no two sides order alike) -------------------------------------
    def _check_buckets(self, parent: Buckets | None, modulus: int, depth: int = 0) -> None:
        level: dict[str, Any] = {"parent": parent, "modulus": modulus, "depth": depth}
        self.total += 1
        self._submit("buckets", (level, "source"), lambda: self.source.bucket_checksums(self.conns.get("source"), parent, modulus))
        self._submit("buckets", (level, "warehouse"),
                     lambda: self.warehouse.bucket_checksums(self.conns.get("warehouse"), parent, modulus))

    def _judge_buckets(self, level: dict[str, Any]) -> None:
        ours, theirs, modulus = level["source"], level["warehouse"], level["modulus"]
        if level["parent"] is None:
            self.verdict.source_rows += sum(c.rows for c in ours.values())
            self.verdict.warehouse_rows += sum(c.rows for c in theirs.values())
            self.verdict.segments += modulus
        small: list[int] = []
        large: list[int] = []
        for r in sorted(ours.keys() | theirs.keys()):
            s, w = ours.get(r, _EMPTY), theirs.get(r, _EMPTY)
            if s == w:
                continue
            fetch = max(s.rows, w.rows) <= self.options.fetch_rows or level["depth"] >= MAX_DEPTH
            (small if fetch else large).append(r)
        per_fetch = max(1, self.options.fetch_rows // max(1, max([ours.get(r, _EMPTY).rows for r in small] + [1])))
        for i in range(0, len(small), per_fetch):
            self.total += 1
            self._compare_buckets((modulus, tuple(small[i:i + per_fetch])))
        for i in range(0, len(large), RESIDUES_PER_QUERY):
            self._check_buckets((modulus, tuple(large[i:i + RESIDUES_PER_QUERY])), modulus * self.options.bisect_factor,
                                level["depth"] + 1)
        self._step(sum(c.rows for c in ours.values()))

    def _compare_buckets(self, buckets: Buckets) -> None:
        self._submit("compare", None, lambda: self._compare(lambda q: self.source.fetch_buckets(q, buckets),
                                                            lambda q: self.warehouse.fetch_buckets(q, buckets)))

    def _split(self, seg: Segment, s: Checksum, w: Checksum) -> list[Segment]:
        factor = self.options.bisect_factor
        if self.integer_key:
            ends = [b for b in (self.source.bounds(self.conns.get("source"), seg), self.warehouse.bounds(self.conns.get("warehouse"), seg)) if b]
            low = min(int(b[0]) for b in ends) - 1
            high = max(int(b[1]) for b in ends)
            return self._arithmetic(seg[0], seg[1], low, high, factor)
        bigger, name = (self.source, "source") if s.rows >= w.rows else (self.warehouse, "warehouse")
        step = max(1, math.ceil(max(s.rows, w.rows) / factor))
        return _between(bigger.every_nth_key(self.conns.get(name), seg, step), seg)

    # --- rows -----------------------------------------------------------------------
    def _compare(self, fetch_source: Callable[[Queries], dict[str, SideRow]],
                 fetch_warehouse: Callable[[Queries], dict[str, SideRow]]) -> dict[str, Any]:
        src_q, wh_q = self.conns.get("source"), self.conns.get("warehouse")
        ours, theirs = fetch_source(src_q), fetch_warehouse(wh_q)
        only_src = [ours[k].key for k in ours.keys() - theirs.keys()]
        only_wh = [theirs[k].key for k in theirs.keys() - ours.keys()]
        if only_src:  # in the warehouse after all, where its order puts it elsewhere?
            theirs.update(self.warehouse.lookup(wh_q, only_src))
        if only_wh:  # deleted at the source, changed past the watermark, or ordered elsewhere
            for k, row in self.source.lookup(src_q, only_wh).items():
                ours.setdefault(k, row)
        missing, extra, different = [], [], []
        columns: Counter = Counter()
        names = self.source.compared
        for k, row in ours.items():
            other = theirs.get(k)
            if other is None:
                if not row.late:
                    missing.append(row.key)
                continue
            if row.late:
                continue  # changed at the source since the last sync: counted as not yet synced
            diff = [n for n, a, b in zip(names, row.values, other.values) if a != b]
            if diff:
                different.append(row.key)
                columns.update(diff)
        extra = [row.key for k, row in theirs.items() if k not in ours]
        return {"missing": missing, "extra": extra, "different": different, "columns": columns}

    def _merge(self, found: dict[str, Any]) -> None:
        v, cap = self.verdict, self.options.limit
        for kind, keys in (("missing_in_warehouse", found["missing"]), ("extra_in_warehouse", found["extra"]),
                           ("different", found["different"])):
            v.counts[kind] += len(keys)
            listed = getattr(v, kind)
            listed.extend(list(k) for k in sorted(keys, key=_sort_key)[: max(0, cap - len(listed))])
        v.different_columns.update(found["columns"])


def _between(cuts: list[tuple[Any, ...]], seg: Segment) -> list[Segment]:
    """Segments (lo, c1], (c1, c2], ..., (cn, hi] of ``seg`` cut at ``cuts`` (in key order)."""
    edges: list[Any] = [seg[0]] + list(cuts) + [seg[1]]
    out = []
    for a, b in zip(edges, edges[1:]):
        if a is not None and b is not None and a == b:
            continue
        out.append((a, b))
    return out or [seg]


def _sort_key(key: tuple[Any, ...]) -> tuple:
    return tuple((0, v) if isinstance(v, (int, float)) else (1, str(v)) for v in key)


def sorted_keys(rows: dict[str, SideRow]) -> list[tuple[Any, ...]]:
    return sorted((r.key for r in rows.values()), key=_sort_key)
