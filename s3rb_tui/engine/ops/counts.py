"""Row counts: ``set-count`` (fix the watermark's counts) and ``validate-counts`` (cross-check).

``validate_table`` puts side by side: the watermark's extracted and loaded counts, the rows in
the committed Parquet files (from their footers) and how many of them the ledger says are
loaded, the rows (and distinct keys) in the warehouse table, and the rows in the source. Each
difference is classified for the table's load mode: *expected* (explained, e.g. merge collapses
versions of a row, files not loaded yet) or *unexpected* (rows missing or duplicated in the
warehouse, the watermark disagreeing with the ledger). Unexpected ones make the command exit 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.core.jobs import JobContext, run_table_change
from s3rb_tui.engine.stores.layout import parse_data_key
from s3rb_tui.engine.core.table_settings import resolve_mode
from s3rb_tui.engine.state.ledger import committed_files, read_ledger_counts
from s3rb_tui.engine.state.locks import TableLock
from s3rb_tui.engine.warehouses.targets import target_for
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.warehouses.base import LedgerEntry, Warehouse
from s3rb_tui.engine.warehouses.files import footer
from s3rb_tui.engine.state.watermarks import Watermark

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace

COUNT_MODES = ("absolute", "additive")


@dataclass(frozen=True)
class CountChange:
    table: str
    mode: str
    count: int
    before: dict[str, int]
    after: dict[str, int]


@dataclass(frozen=True)
class CountPlan:
    """A planned set-count: the document it was planned from (and its etag), and the new one."""

    change: CountChange
    new: Watermark
    etag: str | None


def plan_set_count(ws: "Workspace", ref: TableRef, count: Any, mode: str) -> CountPlan:
    """What set-count would write: both cumulative counts (extracted AND loaded) before/after."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UsageError(f"--count {count!r} is not a whole number of rows", "pass --count N with N >= 0")
    if mode not in COUNT_MODES:
        raise UsageError(f"--mode {mode!r} is not one of {', '.join(COUNT_MODES)}")
    wm, etag = ws.watermarks.read(ref)
    if wm is None:
        raise UsageError(f"{ref} has no watermark yet", f"run a backup of {ref} first; set-count fixes the counts of an existing watermark")
    new = wm.with_counts(count, mode)
    change = CountChange(ref.full_name, mode, count,
                         before={"extracted": wm.cumulative.extracted, "loaded": wm.cumulative.loaded},
                         after={"extracted": new.cumulative.extracted, "loaded": new.cumulative.loaded})
    return CountPlan(change, new, etag)


def apply_set_count(ws: "Workspace", plan: CountPlan) -> CountChange:
    """Write exactly the planned document, only if the watermark is still the one planned from,
    under the table's lock: a run holding it is never disturbed (LockedError names it)."""
    with TableLock(ws.store, TableRef.parse(plan.change.table), purpose="set-count"):
        ws.watermarks.write(plan.new, plan.etag)
    return plan.change


def set_count(ws: "Workspace", ref: TableRef, count: Any, mode: str) -> CountChange:
    """Set (absolute) or add to (additive) the cumulative extracted AND loaded counts."""
    return apply_set_count(ws, plan_set_count(ws, ref, count, mode))


def run_set_count(ws: "Workspace", ref: TableRef, count: Any, mode: str, ctx: JobContext) -> list[TableResult]:
    """``set_count`` as a job (the console's runner): started, the change logged with both counts
    before and after, the table's result, finished."""

    def change(result: TableResult) -> None:
        c = set_count(ws, ref, count, mode)
        result.details.update(mode=c.mode, count=c.count, before=c.before, after=c.after)
        ctx.log("cumulative counts set", table=c.table, mode=c.mode, count=c.count, before=c.before, after=c.after)

    return run_table_change(ctx, ref.full_name, "Set-count completed", change, mode=mode, count=count)


@dataclass(frozen=True)
class WatermarkCounts:
    extracted: int
    loaded: int
    files_loaded_total: int
    #: the ledger entries counted before a reset or a set-count (None: never changed by hand)
    counts_base: dict[str, Any] | None


@dataclass(frozen=True)
class FileCounts:
    committed: int  # committed files
    rows: int  # rows in them (Parquet footers)
    unloaded_rows: int  # rows in committed files no ledger entry names


@dataclass(frozen=True)
class LedgerCounts:
    files: int
    rows: int
    #: the ledger's rows since ``counts_base``: what the watermark's loaded count should be
    rows_counted_by_the_watermark: int
    #: replace mode: the rows of the newest loaded snapshot (None for other modes)
    newest_snapshot_rows: int | None = None
    #: the history loads' row adjustments (``warehouses.base.ADJUSTMENT_SUFFIX``): minus the older
    #: versions an append table's repair batches replaced
    adjusted_rows: int = 0


@dataclass(frozen=True)
class WarehouseCounts:
    rows: int
    distinct_keys: int | None
    exists: bool


@dataclass(frozen=True)
class SourceCounts:
    rows: int | None = None
    rows_up_to_watermark: int | None = None
    watermark: Any = None
    #: why the source was not counted (then the counts are None)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {"rows": self.rows, "rows_up_to_watermark": self.rows_up_to_watermark, "watermark": self.watermark}


@dataclass(frozen=True)
class ValidationReport:
    """validate-counts for one table: every count side by side and each difference classified.
    The CLI's table, the console's text and ``--json`` (``to_json``: the document's keys and order
    as they have always been) all read this."""

    table: str
    target: str
    mode: str
    watermark: WatermarkCounts
    files: FileCounts
    ledger: LedgerCounts
    warehouse: WarehouseCounts
    source: SourceCounts | None  # None: not asked for
    expected: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def to_json(self) -> dict[str, Any]:
        ledger = {"files": self.ledger.files, "rows": self.ledger.rows,
                  "rows_counted_by_the_watermark": self.ledger.rows_counted_by_the_watermark}
        if self.ledger.newest_snapshot_rows is not None:
            ledger["newest_snapshot_rows"] = self.ledger.newest_snapshot_rows
        if self.ledger.adjusted_rows:
            ledger["adjusted_rows"] = self.ledger.adjusted_rows
        return {
            "table": self.table,
            "target": self.target,
            "watermark": asdict(self.watermark),
            "files": asdict(self.files),
            "warehouse": asdict(self.warehouse),
            "source": self.source.to_json() if self.source is not None else None,
            "expected": list(self.expected),
            "unexpected": list(self.unexpected),
            "mode": self.mode,
            "ledger": ledger,
        }


def _files(ws: "Workspace", ref: TableRef, wm: Watermark | None) -> dict[str, int]:
    """Rows of each committed file, from its Parquet footer."""
    return {k: footer(ws.store, k, s).rows for k, s in committed_files(ws, ref, wm, honour_manual=False)}


def validate_table(ws: "Workspace", ref: TableRef, wh: Warehouse | None = None, with_source: bool = True) -> ValidationReport:
    wm = ws.watermarks.get(ref)
    cfg = ws.table_config(ref)
    target = target_for(ws, ref)
    file_rows = _files(ws, ref, wm)
    source: SourceCounts | None = None
    schema = None
    if with_source:
        try:
            with ws.open_source() as src:
                schema = src.discover(ref, cfg.cursor_column, cfg.key_columns)
                from s3rb_tui.engine.cursors.bounds import moment_reading
                from s3rb_tui.engine.sources.base import Position

                total = src.count(schema)
                bound = wm.last_data_timestamp if (wm and schema.incremental and wm.last_data_timestamp is not None) else None
                # rows up to the watermark's own cursor value (a source bounds a clock reading at its last complete unit)
                upto = src.count(schema, Position(), moment_reading(schema.column(schema.cursor_column), bound)) \
                    if bound is not None else total
                source = SourceCounts(total, upto, bound)
        except Exception as e:
            source = SourceCounts(error=str(e).splitlines()[0][:300] if str(e) else e.__class__.__name__)
    keys = (schema.primary_key if schema else cfg.key_columns) or ()
    mode = resolve_mode(cfg, schema) if schema else (cfg.load_mode or ("merge" if keys and cfg.cursor_column else "append"))
    own = wh is None
    wh = wh or ws.open_warehouse(reading=True)
    try:
        entries, adjusted = read_ledger_counts(wh, target)
        exists = wh.table_columns(target) is not None
        w_rows = wh.count_rows(target) if exists else 0
        w_keys = wh.count_distinct(target, tuple(keys)) if exists and keys else None
    finally:
        if own:
            wh.close()
    in_ledger = {e.key for e in entries}
    counts_base = wm.counts_base if wm else None
    since = int((counts_base or {}).get("ledger_files", 0))
    snapshot = _newest_snapshot_rows(entries) if mode not in ("append", "merge") else None
    report = ValidationReport(
        table=ref.full_name,
        target=target.full_name,
        mode=mode,
        watermark=WatermarkCounts(wm.cumulative.extracted if wm else 0, wm.cumulative.loaded if wm else 0,
                                  wm.files_loaded_total if wm else 0, counts_base),
        files=FileCounts(len(file_rows), sum(file_rows.values()), sum(n for k, n in file_rows.items() if k not in in_ledger)),
        ledger=LedgerCounts(len(entries), sum(e.rows for e in entries), sum(e.rows for e in entries[since:]), snapshot, adjusted),
        warehouse=WarehouseCounts(w_rows, w_keys, exists),
        source=source,
    )
    expected, unexpected = _classify(report)
    return replace(report, expected=tuple(expected), unexpected=tuple(unexpected))


def _newest_snapshot_rows(entries: list[LedgerEntry]) -> int:
    """Replace mode: the rows of the newest loaded run. Superseded runs are recorded with 0 rows
    but are always older than the newest loaded run; an emptied source's snapshot is a newest
    run with 0 rows."""
    loaded = [(parse_data_key(e.key), e.rows) for e in entries]
    newest = max((dk.position.run_stamp for dk, _ in loaded if dk), default=None)
    return sum(rows for dk, rows in loaded if dk and dk.position.run_stamp == newest)


def _classify(r: ValidationReport) -> tuple[list[str], list[str]]:
    """(expected, unexpected) differences between the report's counts, for its load mode."""
    exp: list[str] = []
    bad: list[str] = []
    E, L = r.watermark.extracted, r.watermark.loaded
    F, G = r.files.rows, r.ledger.rows
    W, K = r.warehouse.rows, r.warehouse.distinct_keys
    src = r.source or SourceCounts()
    base = r.watermark.counts_base or {}
    expected_loaded = r.ledger.rows_counted_by_the_watermark
    when = f" since the {base.get('by', 'count change')} of {str(base.get('at') or '?')[:19].replace('T', ' ')} UTC" if base else ""
    if L != expected_loaded:
        text = f"watermark loaded count {L:,} differs from the {expected_loaded:,} rows the load ledger recorded{when}"
        # set-count writes the extracted count too: suggest it only when that is right as well,
        # i.e. when every committed file is loaded (then everything extracted was loaded)
        unloaded = r.files.unloaded_rows
        if not unloaded:
            text += f" (fix with `watermark-count set-count --count {expected_loaded} -t {r.table}` if the ledger is right)"
        else:
            text += (f"; no set-count is suggested: it would also set the extracted count to {expected_loaded:,}, but "
                     f"{unloaded:,} extracted rows are not loaded yet (run sync --redshift-only, then validate again)")
        bad.append(text)
    elif base and L != G:
        exp.append(f"{G - expected_loaded:,} rows the load ledger recorded before the {base.get('by', 'count change')} are not in the "
                   f"watermark's counts (the ledger holds {G:,} in all)")
    if E != F:
        exp.append(f"watermark extracted {E:,} vs {F:,} rows in the committed files: expected after s3clean or a watermark reset")
    pending = F - G
    if pending > 0:
        exp.append(f"{pending:,} rows in committed files are not loaded yet (run sync --redshift-only)")
    if r.mode == "append":
        held = G + r.ledger.adjusted_rows  # the rows loaded, less what repair batches replaced or restored
        if r.ledger.adjusted_rows:
            exp.append(f"{-r.ledger.adjusted_rows:,} loaded rows are not in the table on repair batches' account: older versions "
                       f"they replaced, or rows deleted outside the pipeline that they restored (the table holds {held:,} of the {G:,} loaded)")
        if W != held:
            bad.append(f"warehouse has {W:,} rows but {held:,} were loaded"
                       + (f" ({G:,}, less {-r.ledger.adjusted_rows:,} on repair batches' account)" if r.ledger.adjusted_rows else "")
                       + f": rows were {'deleted from' if W < held else 'added to'} the table outside the pipeline")
        elif K is not None and K < W:
            exp.append(f"{W - K:,} older versions of rows are kept (append mode; the _latest view shows the newest)")
    elif r.mode == "merge":
        if K is not None and K != W:
            bad.append(f"warehouse has {W:,} rows but {K:,} distinct keys: duplicate keys in a merge table")
        if W > G:
            bad.append(f"warehouse has {W:,} rows, more than the {G:,} ever loaded")
        elif W < G:
            exp.append(f"{G - W:,} loaded rows were older versions of a key (merge keeps the newest)")
        upto = src.rows_up_to_watermark
        if upto is not None and pending <= 0:
            if W < upto:
                bad.append(f"source has {upto:,} rows up to the watermark but the warehouse only {W:,}: rows are missing in the warehouse")
            elif W > upto:
                exp.append(f"warehouse has {W - upto:,} rows more than the source up to the watermark: rows deleted in the source stay (merge does not propagate deletes), or rows changed since")
    else:  # replace: the table holds the newest loaded snapshot
        snapshot = r.ledger.newest_snapshot_rows or 0
        if W != snapshot:
            bad.append(f"warehouse has {W:,} rows but the newest loaded snapshot has {snapshot:,}")
        total = src.rows
        if total is not None and total != W:
            exp.append(f"source has {total:,} rows now, the snapshot {W:,}: the source changed since the last backup")
    return exp, bad
