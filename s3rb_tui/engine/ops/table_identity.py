"""A source table that was truncated or dropped and created again since the last load.

A watermark follows cursor values; it cannot see a table emptied and filled again with the same
(or older) cursor values — ``TRUNCATE`` + reload, ``DROP`` + ``CREATE`` + reload. Rows removed
there stay in the warehouse, and rows written back with their old cursors are never extracted,
while every run exits 0. Each load records the source table's identity in the watermark
(``source_identity``: information_schema's CREATE_TIME and AUTO_INCREMENT) and compares it with
the one recorded by the previous load:

- AUTO_INCREMENT lower than before: only TRUNCATE or a re-creation lowers it (DELETE never does);
- CREATE_TIME changed: a re-creation, or a rebuild (ALTER TABLE, OPTIMIZE), which keeps the rows.

Then the source's rows are counted (one COUNT(*), only on such a change) and compared with the
warehouse copy (its rows, or distinct keys for append tables). The table stops, before anything is
loaded, when AUTO_INCREMENT fell or the source holds fewer rows than the copy; the message names
``rebuild --resync``, which reads the table again and rebuilds the copy from that read. A rebuild
that kept every row (the count agrees) is logged and the new identity recorded. Snapshot tables
(no key or cursor) are read whole every run and need no check.

Not seen: a TRUNCATE + reload that keeps CREATE_TIME (MariaDB's TRUNCATE does) and does not lower
AUTO_INCREMENT (all ids reloaded, or no AUTO_INCREMENT column): ``validate-counts`` compares counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.core.type_rules import TableSchema

if TYPE_CHECKING:
    from s3rb_tui.engine.ops.load import TablePlan
    from s3rb_tui.engine.warehouses.base import Warehouse
    from s3rb_tui.engine.wiring.workspace import Workspace


def identity_of(schema: TableSchema) -> dict[str, Any] | None:
    if schema.created is None and schema.auto_increment is None:
        return None
    return {"created": schema.created, "auto_increment": schema.auto_increment}


def _change(old: dict[str, Any], new: dict[str, Any]) -> tuple[str | None, bool]:
    """(what changed, in words; whether it proves rows were removed)."""
    a, b = old.get("auto_increment"), new.get("auto_increment")
    if a is not None and b is not None and b < a:
        return f"its AUTO_INCREMENT fell from {a} to {b}", True
    if old.get("created") and new.get("created") and old["created"] != new["created"]:
        return f"its CREATE_TIME changed from {old['created']} to {new['created']}", False
    return None, False


def check_identity(ws: "Workspace", wh: "Warehouse", plan: "TablePlan", ctx: JobContext) -> dict[str, Any] | None:
    """The source identity to record after this load (None: unchanged, or no watermark); JobError when the
    table was truncated or re-created under the warehouse copy (module docstring)."""
    wm = ws.watermarks.get(plan.ref)
    new = identity_of(plan.schema)
    if wm is None or new is None:
        return None
    old = wm.source_identity
    change, removed = _change(old, new) if old else (None, False)
    if change is None or plan.mode == "replace" or wh.table_columns(plan.target) is None:
        return None if new == old else new  # e.g. AUTO_INCREMENT grew: recorded, so a later fall is measured from it
    keys = plan.schema.primary_key
    copy = wh.count_distinct(plan.target, keys) if plan.mode == "append" and keys else wh.count_rows(plan.target)
    with ws.open_source() as source:
        rows = source.count(plan.schema)
    if removed or rows < copy:
        raise JobError(
            f"{plan.ref} was truncated or dropped and created again in MySQL ({change}); it holds {rows:,} rows and the "
            f"warehouse copy {plan.target.full_name} {copy:,}: rows removed there would stay in the warehouse and rows "
            "written back with their old cursor values would never be extracted; nothing was loaded",
            f"read the table again and rebuild the copy from that read: s3rb-tui --run rebuild -t {plan.ref} --resync")
    ctx.log("the source table was rebuilt (ALTER TABLE or OPTIMIZE?) and still holds every row the warehouse has",
            table=plan.ref.full_name, change=change, source_rows=rows, warehouse_rows=copy)
    return new
