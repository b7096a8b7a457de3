"""Views over loaded tables: ``<table>_latest`` for appended tables (and the ``<table>_deleted``
table it excludes), and the manual's three settlement views when the delivery table is synced.

``<table>_latest`` holds the newest row per key: ROW_NUMBER over the key ordered by the cursor,
then the primary key, descending. The key is ``latest_key`` from s3rb.toml, else the primary key.

``<table>_deleted`` (primary key columns, ``deleted_at``, ``deleted_cursor``) exists once a repair
(or ``detect_deletes``) recorded a key the source deleted; without it the view is as above. The rule:
**a key's newest version is hidden when ``<table>_deleted`` holds the key and that version is not
newer than the version that was deleted** — its cursor is NULL, or not above ``deleted_cursor`` (the
newest cursor the warehouse held for the key when the delete was recorded; NULL hides every later
version too, as NULL cannot be ordered). So a key the source re-inserts comes back with its next
extracted version, whose cursor is newer. Why the cursor and not ``deleted_at`` against a load
time: appended rows carry no load or extract time, and the cursor is what already decides which
version is newest in this view. A repair batch that re-extracts a key also removes it from
``<table>_deleted`` (``history_statements``), so a re-inserted row whose cursor did not move still
comes back through repair. The exclusion is a LEFT JOIN on the keys grouped (no correlated
subquery), the same SQL on PostgreSQL, DuckDB and Redshift; ``CREATE OR REPLACE`` keeps working
as the view's columns stay the table's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s3rb_tui.engine.core.table_settings import TableConfig
import datetime as dt

from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import Target, Warehouse, deleted_table_name

LATEST_SUFFIX = "_latest"
DELETED_AT = "deleted_at"
DELETED_CURSOR = "deleted_cursor"


@dataclass
class ViewResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a view could not be made


def latest_view_name(target: Target) -> Target:
    # Keep the suffix whole within 63 bytes, the shortest identifier a warehouse keeps (PostgreSQL
    # cut a 64-byte view name to '..._lates'); the name is the same on every dialect.
    return target.sibling(target.name[: 63 - len(LATEST_SUFFIX)] + LATEST_SUFFIX)


def latest_view(target: Target, view: Target, columns: list[str], keys: tuple[str, ...], cursor: str,
                tiebreak: tuple[str, ...], replace: bool = True, deleted: Target | None = None,
                primary_key: tuple[str, ...] = ()) -> str:
    """``<table>_latest``: the newest row per key (ROW_NUMBER over the cursor, then the tie-breakers).
    ``replace``: CREATE OR REPLACE (only for an identical column set), else CREATE. ``deleted``: the
    table's ``<table>_deleted``, whose keys (``primary_key``) are hidden by the module's rule."""
    newest = (f"    SELECT {sql.cols(columns)}, ROW_NUMBER() OVER (PARTITION BY {sql.cols(keys)} ORDER BY "
              f"{sql.newest_order(cursor, tiebreak)}) AS {sql.ROW_NUMBER}\n    FROM {target.sql}\n")
    head = f"CREATE {'OR REPLACE ' if replace else ''}VIEW {view.sql} AS\n"
    if deleted is None:
        return head + f"SELECT {sql.cols(columns)} FROM (\n{newest}) t WHERE {sql.ROW_NUMBER} = 1"
    c, n, k, newest_deleted = quote_sql(cursor), '"_s3rb_n"', '"_s3rb_with_cursor"', '"_s3rb_cursor"'
    on = " AND ".join(f"d.{quote_sql(p)} = t.{quote_sql(p)}" for p in primary_key)
    return (head + f"SELECT {', '.join('t.' + quote_sql(x) for x in columns)} FROM (\n{newest}) t\n"
            f"LEFT JOIN (\n    SELECT {sql.cols(primary_key)}, COUNT(*) AS {n}, COUNT({quote_sql(DELETED_CURSOR)}) AS {k}, "
            f"MAX({quote_sql(DELETED_CURSOR)}) AS {newest_deleted}\n    FROM {deleted.sql} GROUP BY {sql.cols(primary_key)}\n) d ON {on}\n"
            f"WHERE t.{sql.ROW_NUMBER} = 1 AND (d.{n} IS NULL OR (t.{c} IS NOT NULL AND d.{k} = d.{n} AND t.{c} > d.{newest_deleted}))")


def deleted_columns(table: dict[str, str], keys: tuple[str, ...], cursor: str) -> list[tuple[str, str]]:
    """``<table>_deleted``'s columns: the keys and the cursor with the table's types (``table``:
    name -> type as the warehouse spells it), and ``deleted_at`` (UTC)."""
    return [(k, table[k]) for k in keys] + [(DELETED_AT, "TIMESTAMPTZ"), (DELETED_CURSOR, table[cursor])]


def history_statements(target: Target, stage_sql: str, table: dict[str, str], keys: tuple[str, ...], cursor: str,
                       key_match: tuple[str, ...], order: tuple[str, ...], deletes: tuple[tuple, ...],
                       now: dt.datetime) -> list[str]:
    """An append table's repair batch, staged at ``stage_sql`` (one load transaction, in order):

    1. ``<table>_deleted`` created when missing; the staged keys leave it (re-extracted: present);
    2. ``deletes`` recorded there with ``now`` and the newest cursor the table holds for each key
       (before this batch's rows: as a merge deletes before it inserts);
    3. the staged version per key replaces the versions not older than it (a tie in the cursor, or
       a cursor the source moved back, would otherwise win the latest view); older ones stay.

    ``table``: the target's columns (name -> type), in table order; names as the dialect keeps them.
    """
    deleted = deleted_table_name(target)
    pk = sql.cols(keys)
    on = " AND ".join(f"{deleted.sql}.{quote_sql(k)} = {stage_sql}.{quote_sql(k)}" for k in keys)
    when = f"CAST('{now.astimezone(dt.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')}+00' AS TIMESTAMPTZ)"
    out = [sql.create_table(deleted, deleted_columns(table, keys, cursor)),
           f"DELETE FROM {deleted.sql} USING {stage_sql} WHERE {on}"]
    out += [f"INSERT INTO {deleted.sql} ({pk}, {quote_sql(DELETED_AT)}, {quote_sql(DELETED_CURSOR)})\n"
            f"SELECT {pk}, {when}, MAX({quote_sql(cursor)}) FROM {target.sql} WHERE {where} GROUP BY {pk}"
            for where in sql.keys_where(keys, deletes)]
    return out + sql.merge_statements(target, stage_sql, list(table), keys, order, key_match, not_older_than=cursor)


def ensure_deleted_table(wh: Warehouse, target: Target, keys: tuple[str, ...], cursor: str) -> None:
    """Create ``<table>_deleted`` (empty) before a repair records deletes, so ``refresh_views`` can
    build the excluding view first and no kill between the load and the view leaves it stale."""
    table = wh.table_columns(target) or {}
    folded = {wh.fold(name): t for name, t in table.items()}
    wh.create_table(deleted_table_name(target), deleted_columns(folded, tuple(wh.fold(k) for k in keys), wh.fold(cursor)))


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
            deleted = deleted_table_name(target)
            has_deleted = wh.table_columns(deleted) is not None
            statements.append(latest_view(target, view, columns, tuple(keys), cursor, tuple(k for k in tiebreak if k not in keys),
                                          replace=same, deleted=deleted if has_deleted else None, primary_key=primary_key))
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
