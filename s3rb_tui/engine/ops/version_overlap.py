"""Integer version cursors: an overlap window that re-reads and de-duplicates.

An integer cursor (a version counter, an epoch number) has no clock, so no bound can wait for its
open transactions: a transaction that takes version V and commits after a run has read past V
would be lost. So each run after the first starts ``BACKUP_VERSION_OVERLAP`` versions before its
watermark instead of at it. The rows it reads again in (watermark - N, watermark] are compared with
what the table's committed files already hold — the same (cursor, key) is the same version — and
dropped; a version that committed late is not there, and is written. The committed position never
moves back: a batch that ends inside the window commits the watermark it started from.

Cost: the rows of the window are read again from the source each run (an index range), and the
cursor and key columns of the committed files whose runs reach into the window are read from the
store (newest run first, stopping at the first run that ends below the window: runs read in
increasing cursor order). Memory: one (cursor, key) tuple per stored row in the window.

Not applied to a watermark set by hand (``watermark set``): that run starts exactly after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from s3rb_tui.engine.cursors.values import INTEGER_CURSOR_TYPES
from s3rb_tui.engine.stores.layout import table_data_files
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.sources.base import Position, SourceBatch
from s3rb_tui.engine.warehouses.files import iter_batches

if TYPE_CHECKING:
    from s3rb_tui.engine.state.watermarks import Watermark
    from s3rb_tui.engine.wiring.workspace import Workspace


@dataclass
class Overlap:
    """One run's window: versions after ``low`` are read again; ``watermark`` is where the run
    would otherwise have started (the least position it may commit)."""

    window: int
    low: int
    watermark: Position
    columns: list[str]
    seen: set[tuple[Any, ...]] = field(default_factory=set)
    dropped: int = 0

    @property
    def start(self) -> Position:
        return Position(cursor=self.low, key=None, nulls_done=True)

    def describe(self) -> dict[str, Any]:
        return {"window": self.window, "from_cursor_after": self.low}

    def load_seen(self, ws: "Workspace", schema: TableSchema, wm: "Watermark") -> None:
        """The (cursor, key) of every committed row with a cursor in the window."""
        committed = wm.committed_position
        runs: dict[str, list[str]] = {}
        for parsed, info in table_data_files(ws.store, ws.incremental_path, schema.ref):
            if committed is not None and parsed.position <= committed:
                runs.setdefault(parsed.position.run_stamp, []).append(info.key)
        for stamp in sorted(runs, reverse=True):
            top = None
            for key in runs[stamp]:
                for batch in iter_batches(ws.store, key, columns=self.columns):
                    cursor = batch.column(self.columns[0])
                    run_top = pc.max(cursor).as_py()
                    top = run_top if top is None or (run_top is not None and run_top > top) else top
                    inside = batch.filter(pc.greater(cursor, pa.scalar(self.low, cursor.type)))
                    self.seen.update(zip(*(inside.column(name).to_pylist() for name in self.columns)))
            if top is not None and top <= self.low:
                return  # runs read in increasing cursor order: older ones end lower still

    def filter(self, batches: Iterator[SourceBatch]) -> Iterator[SourceBatch]:
        """``batches`` without the rows already stored, ending no earlier than the watermark."""
        for sb in batches:
            rows = zip(*(sb.batch.column(name).to_pylist() for name in self.columns))
            keep = [row not in self.seen for row in rows]
            if not all(keep):
                self.dropped += keep.count(False)
                sb = replace(sb, batch=sb.batch.filter(pa.array(keep, pa.bool_())))
            if sb.end.cursor is None or int(sb.end.cursor) <= int(self.watermark.cursor):
                sb = replace(sb, end=self.watermark)
            yield sb


def plan_overlap(schema: TableSchema, wm: "Watermark | None", start: Position, window: int) -> Overlap | None:
    """The window of a run of ``schema`` from ``start``, or None where it does not apply: no
    window, no keyset position yet (a first backup), a clock cursor, or a watermark set by hand."""
    if window <= 0 or wm is None or not schema.incremental or start.scan is not None or start.cursor is None:
        return None
    if schema.column(schema.cursor_column).data_type not in INTEGER_CURSOR_TYPES or wm.mysql_status == "manual":  # type: ignore[arg-type]
        return None
    try:
        top = int(start.cursor)
    except (TypeError, ValueError):
        return None
    columns = list(schema.order_columns)
    return Overlap(window=window, low=top - window, watermark=start, columns=columns)
