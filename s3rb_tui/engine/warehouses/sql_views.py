"""Views over loaded tables: ``<table>_latest`` for appended tables, and the manual's three
settlement views when the delivery table is synced.

``<table>_latest`` holds the newest row per key: ROW_NUMBER over the key ordered by the cursor,
then the primary key, descending. The key is ``latest_key`` from s3rb.toml, else the primary key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s3rb_tui.engine.core.table_settings import TableConfig
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import Target, Warehouse

LATEST_SUFFIX = "_latest"


@dataclass
class ViewResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a view could not be made


def latest_view_name(target: Target) -> Target:
    # Keep the suffix whole within 63 bytes, the shortest identifier a warehouse keeps (PostgreSQL
    # cut a 64-byte view name to '..._lates'); the name is the same on every dialect.
    return target.sibling(target.name[: 63 - len(LATEST_SUFFIX)] + LATEST_SUFFIX)


def refresh_views(wh: Warehouse, target: Target, cfg: TableConfig, mode: str, cursor: str | None,
                  primary_key: tuple[str, ...], source_table: str) -> ViewResult:
    """(Re)create the views of one target table after a load. Columns are the table's current ones."""
    out = ViewResult()
    table = wh.table_columns(target) or {}
    columns = list(table)
    folded = {wh.fold(c) for c in columns}
    statements: list[str] = []
    tiebreak = tuple(k for k in primary_key if k != cursor)
    if mode == "append":
        keys = cfg.latest_key or primary_key
        view = latest_view_name(target)
        if not keys or not cursor:
            out.skipped.append(f"{view.full_name}: needs a key (latest_key or a primary key) and a cursor column")
        elif not all(wh.fold(k) in folded for k in keys + (cursor,)):
            out.skipped.append(f"{view.full_name}: key or cursor column missing from the table")
        else:
            # "CREATE VIEW": OR REPLACE only works when the new query yields the identical columns
            # (names and types); after a column was added or altered, drop and create it instead
            # (one transaction with the rest). An unchanged view is replaced: views built on it stay.
            same = wh.table_columns(view) == table
            if not same:
                statements.append(f"DROP VIEW IF EXISTS {view.sql}")
            statements.append(sql.latest_view(target, view, columns, tuple(keys), cursor, tuple(k for k in tiebreak if k not in keys),
                                              replace=same))
            out.created.append(view.full_name)
    if source_table == sql.SETTLEMENT_TABLE:
        status = cfg.status_column or "latest_status"
        needed = (sql.SETTLEMENT_KEY, "partner_id", status)
        if not cursor:
            out.skipped.append("settlement views: the table has no cursor column")
        elif not all(wh.fold(c) in folded for c in needed + (cursor,)):
            out.skipped.append(f"settlement views: need columns {', '.join(needed)} and {cursor}")
        else:
            statements.extend(sql.settlement_views(target, columns, cursor, status, tiebreak))
            out.created.extend(target.sibling(v).full_name for v in sql.SETTLEMENT_VIEWS)
    if statements:
        wh.execute_ddl(statements)
    return out
