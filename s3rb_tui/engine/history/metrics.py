"""The Prometheus textfile of a run (``--metrics-file`` / ``METRICS_FILE``), for node_exporter's
textfile collector, written atomically by prometheus-client's ``write_to_textfile``.

Per table (label ``table``): last success time, last run ok (0/1), rows extracted and loaded
(all-time, the watermark's cumulative counts), data lag (now minus the newest extracted cursor
value, the ``status`` rule) and the run's seconds; per run: its duration. The series of tables
this run did not touch are read back from the previous file and kept, so one file serves several
cron entries (each writes its own tables and carries the others'). Writing never fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.cursors.lag import data_lag_seconds
from s3rb_tui.engine.history.records import OK_TABLE_STATUSES, RunRecord
from s3rb_tui.engine.core.table_names import TableRef

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace

#: name -> (kind, help); counters are written with the ``_total`` suffix
TABLE_SERIES: dict[str, tuple[str, str]] = {
    "s3rb_table_last_success_timestamp_seconds": ("gauge", "when the table's last successful run ended (Unix time)"),
    "s3rb_table_last_run_success": ("gauge", "1 when the table's last run succeeded, else 0"),
    "s3rb_table_rows_extracted": ("counter", "rows extracted from the source, all time (the watermark's cumulative count)"),
    "s3rb_table_rows_loaded": ("counter", "rows loaded into the warehouse, all time (the watermark's cumulative count)"),
    "s3rb_table_lag_seconds": ("gauge", "seconds between now and the newest extracted cursor value"),
    "s3rb_table_run_seconds": ("gauge", "seconds the table's last run took (every phase)"),
}
RUN_SERIES = {"s3rb_run_duration_seconds": "seconds the last backup/sync run took"}


def check_metrics_path(path: str) -> None:
    """Bad usage (exit 2, before any work) when the file cannot be written there."""
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise UsageError(f"--metrics-file {path!r}: directory {parent} does not exist", "create it, or point at node_exporter's textfile directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--metrics-file {path!r}: directory {parent} is not writable", "run as a user who may write there")


def read_previous(path: str) -> dict[str, dict[str, float]]:
    """{family: {table: value}} of a previous file's table series (empty when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in TABLE_SERIES:
            for sample in family.samples:
                if "table" in sample.labels and not sample.name.endswith("_created"):
                    out.setdefault(family.name, {})[sample.labels["table"]] = sample.value
    return out


class _Snapshot(Collector):
    def __init__(self, tables: dict[str, dict[str, float]], run: dict[str, float]):
        self.tables, self.run = tables, run

    def collect(self) -> Iterator[Metric]:
        for name, (kind, doc) in TABLE_SERIES.items():
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, doc, labels=["table"])
            for table, value in sorted(self.tables.get(name, {}).items()):
                family.add_metric([table], value)
            yield family
        for name, doc in RUN_SERIES.items():
            if name in self.run:
                yield GaugeMetricFamily(name, doc, value=self.run[name])


def _epoch(rec: RunRecord) -> float | None:
    end = rec.finished_at
    return end.timestamp() if end else None


def this_runs_series(ws: "Workspace", rec: RunRecord, lag: Callable[[Any, float], float | None]) -> dict[str, dict[str, float]]:
    """{family: {table: value}} for the tables of this run (the watermark read once per table)."""
    out: dict[str, dict[str, float]] = {name: {} for name in TABLE_SERIES}
    for t in rec.tables:
        name, status = str(t.get("table")), t.get("status")
        if status in ("pending", "skipped", "dry run"):
            continue
        ok = status in OK_TABLE_STATUSES
        out["s3rb_table_last_run_success"][name] = 1.0 if ok else 0.0
        out["s3rb_table_run_seconds"][name] = round(sum((t.get("seconds") or {}).values()), 3)
        if ok and _epoch(rec) is not None:
            out["s3rb_table_last_success_timestamp_seconds"][name] = float(_epoch(rec) or 0)
        try:
            wm = ws.watermarks.get(TableRef.parse(name))
        except Exception:  # the store cannot be read now: the previous file's counts stay
            wm = None
        if wm is not None:
            out["s3rb_table_rows_extracted"][name] = float(wm.cumulative.extracted)
            out["s3rb_table_rows_loaded"][name] = float(wm.cumulative.loaded)
            seconds = lag(wm.last_data_timestamp, (wm.cursor_census or {}).get("zone_offset_seconds") or 0.0)
            if seconds is not None:
                out["s3rb_table_lag_seconds"][name] = seconds
    return out


def write_metrics(ws: "Workspace", path: str, doc: dict[str, Any], log: Callable[..., None]) -> bool:
    """Write the file; False (and a warning) when it could not be written. Never raises."""
    try:
        rec = RunRecord.from_doc(doc)
        series = read_previous(path)
        for family, values in this_runs_series(ws, rec, lambda last, offset: data_lag_seconds(last, None, offset)).items():
            series.setdefault(family, {}).update(values)
        run = {"s3rb_run_duration_seconds": round(rec.duration_seconds or 0.0, 3)}
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(series, run))
        write_to_textfile(str(Path(path).expanduser()), registry)
        return True
    except Exception as e:
        log("metrics file not written; the run's result stands", level="warning", path=path, error=f"{e.__class__.__name__}: {e}")
        return False
