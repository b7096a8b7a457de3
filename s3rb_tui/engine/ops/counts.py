"""Row counts: ``set-count`` (fix the watermark's counts) and ``validate-counts`` (cross-check).

``validate_table`` puts side by side: the watermark's extracted and loaded counts, the rows in
the committed Parquet files (from their footers) and how many of them the ledger says are
loaded, the rows (and distinct keys) in the warehouse table, and the rows in the source. Each
difference is classified for the table's load mode: *expected* (explained, e.g. merge collapses
versions of a row, files not loaded yet) or *unexpected* (rows missing or duplicated in the
warehouse, the watermark disagreeing with the ledger). Unexpected ones make the command exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.stores.layout import parse_data_key
from s3rb_tui.engine.core.table_settings import resolve_mode
from s3rb_tui.engine.state.ledger import committed_files, read_ledger
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


def _files(ws: "Workspace", ref: TableRef, wm: Watermark | None) -> dict[str, int]:
    """Rows of each committed file, from its Parquet footer."""
    return {k: footer(ws.store, k, s).rows for k, s in committed_files(ws, ref, wm, honour_manual=False)}


def validate_table(ws: "Workspace", ref: TableRef, wh: Warehouse | None = None, with_source: bool = True) -> dict[str, Any]:
    wm = ws.watermarks.get(ref)
    cfg = ws.table_config(ref)
    target = target_for(ws, ref)
    file_rows = _files(ws, ref, wm)
    report: dict[str, Any] = {
        "table": ref.full_name,
        "target": target.full_name,
        "watermark": {"extracted": wm.cumulative.extracted if wm else 0, "loaded": wm.cumulative.loaded if wm else 0,
                      "files_loaded_total": wm.files_loaded_total if wm else 0,
                      "counts_base": wm.counts_base if wm else None},
        "files": {"committed": len(file_rows), "rows": sum(file_rows.values())},
        "warehouse": {},
        "source": None,
        "expected": [],
        "unexpected": [],
    }
    schema = None
    if with_source:
        try:
            with ws.open_source() as source:
                schema = source.discover(ref, cfg.cursor_column, cfg.key_columns)
                from s3rb_tui.engine.cursors.bounds import moment_reading
                from s3rb_tui.engine.sources.base import Position

                total = source.count(schema)
                bound = wm.last_data_timestamp if (wm and schema.incremental and wm.last_data_timestamp is not None) else None
                # rows up to the watermark's own cursor value (a source bounds a clock reading at its last complete unit)
                upto = source.count(schema, Position(), moment_reading(schema.column(schema.cursor_column), bound)) \
                    if bound is not None else total
                report["source"] = {"rows": total, "rows_up_to_watermark": upto, "watermark": bound}
        except Exception as e:
            report["source"] = {"error": str(e).splitlines()[0][:300] if str(e) else e.__class__.__name__}
    keys = (schema.primary_key if schema else cfg.key_columns) or ()
    mode = resolve_mode(cfg, schema) if schema else (cfg.load_mode or ("merge" if keys and cfg.cursor_column else "append"))
    report["mode"] = mode
    own = wh is None
    wh = wh or ws.open_warehouse(reading=True)
    try:
        entries = read_ledger(wh, target)
        exists = wh.table_columns(target) is not None
        w_rows = wh.count_rows(target) if exists else 0
        w_keys = wh.count_distinct(target, tuple(keys)) if exists and keys else None
    finally:
        if own:
            wh.close()
    ledger_rows = sum(e.rows for e in entries)
    report["ledger"] = {"files": len(entries), "rows": ledger_rows}
    in_ledger = {e.key for e in entries}
    report["files"]["unloaded_rows"] = sum(n for k, n in file_rows.items() if k not in in_ledger)
    report["warehouse"] = {"rows": w_rows, "distinct_keys": w_keys, "exists": exists}
    _classify(report, mode, entries)
    return report


def _classify(r: dict[str, Any], mode: str, entries: list[LedgerEntry]) -> None:
    exp, bad = r["expected"], r["unexpected"]
    E, L = r["watermark"]["extracted"], r["watermark"]["loaded"]
    F, G = r["files"]["rows"], r["ledger"]["rows"]
    W, K = r["warehouse"]["rows"], r["warehouse"]["distinct_keys"]
    src = r["source"] or {}
    base = r["watermark"].get("counts_base") or {}
    since = int(base.get("ledger_files", 0))
    expected_loaded = sum(e.rows for e in entries[since:])
    r["ledger"]["rows_counted_by_the_watermark"] = expected_loaded
    when = f" since the {base.get('by', 'count change')} of {str(base.get('at') or '?')[:19].replace('T', ' ')} UTC" if base else ""
    if L != expected_loaded:
        text = f"watermark loaded count {L:,} differs from the {expected_loaded:,} rows the load ledger recorded{when}"
        # set-count writes the extracted count too: suggest it only when that is right as well,
        # i.e. when every committed file is loaded (then everything extracted was loaded)
        unloaded = r["files"].get("unloaded_rows", 0)
        if not unloaded:
            text += f" (fix with `watermark-count set-count --count {expected_loaded} -t {r['table']}` if the ledger is right)"
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
    if mode == "append":
        if W != G:
            bad.append(f"warehouse has {W:,} rows but {G:,} were loaded: rows were {'deleted from' if W < G else 'added to'} the table outside the pipeline")
        elif K is not None and K < W:
            exp.append(f"{W - K:,} older versions of rows are kept (append mode; the _latest view shows the newest)")
    elif mode == "merge":
        if K is not None and K != W:
            bad.append(f"warehouse has {W:,} rows but {K:,} distinct keys: duplicate keys in a merge table")
        if W > G:
            bad.append(f"warehouse has {W:,} rows, more than the {G:,} ever loaded")
        elif W < G:
            exp.append(f"{G - W:,} loaded rows were older versions of a key (merge keeps the newest)")
        upto = src.get("rows_up_to_watermark")
        if upto is not None and pending <= 0:
            if W < upto:
                bad.append(f"source has {upto:,} rows up to the watermark but the warehouse only {W:,}: rows are missing in the warehouse")
            elif W > upto:
                exp.append(f"warehouse has {W - upto:,} rows more than the source up to the watermark: rows deleted in the source stay (merge does not propagate deletes), or rows changed since")
    else:  # replace: the table holds the newest loaded snapshot
        # superseded runs are recorded with 0 rows but are always older than the newest loaded
        # run; an emptied source's snapshot is a newest run with 0 rows
        loaded = [(parse_data_key(k), rows) for k, rows, _ in entries]
        newest = max((dk.position.run_stamp for dk, _ in loaded if dk), default=None)
        snapshot = sum(rows for dk, rows in loaded if dk and dk.position.run_stamp == newest)
        r["ledger"]["newest_snapshot_rows"] = snapshot
        if W != snapshot:
            bad.append(f"warehouse has {W:,} rows but the newest loaded snapshot has {snapshot:,}")
        total = src.get("rows")
        if total is not None and total != W:
            exp.append(f"source has {total:,} rows now, the snapshot {W:,}: the source changed since the last backup")
