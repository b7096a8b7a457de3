"""SQL text shared by the dialects: table DDL, the ledger, merge, and the settlement views
(``<table>_latest`` and ``<table>_deleted``: ``sql_views``).

Every identifier goes through ``quote_sql`` (validated, double-quoted). Column types come from
``core.type_rules.warehouse_type`` (the one type table); nothing here maps types.
"""

from __future__ import annotations

from typing import Iterable

from s3rb_tui.engine.warehouses.collations import EXACT, key_expr
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses.base import LEDGER_TABLE, SEQ_COLUMN, Target, ledger_match

STAGE_TABLE = "s3rb_stage"
ROW_NUMBER = "_s3rb_rn"


def cols(names: Iterable[str]) -> str:
    return ", ".join(quote_sql(n) for n in names)


def create_table(target: Target, columns: list[tuple[str, str]], *, distkey: str | None = None,
                 sortkey: tuple[str, ...] = (), redshift: bool = False) -> str:
    body = ",\n    ".join(f"{quote_sql(name)} {type_sql}" for name, type_sql in columns)
    sql = f"CREATE TABLE IF NOT EXISTS {target.sql} (\n    {body}\n)"
    if redshift:
        if distkey:
            sql += f"\nDISTKEY({quote_sql(distkey)})"
        if sortkey:
            sql += f"\nSORTKEY({cols(sortkey)})"
    return sql


def add_column(target: Target, column: str, type_sql: str, default: str | None = None) -> str:
    """``default``: a SQL literal (``column_changes.added_column_default``) the rows already in the
    table get, as MySQL gave them."""
    return f"ALTER TABLE {target.sql} ADD COLUMN {quote_sql(column)} {type_sql}" + (f" DEFAULT {default}" if default else "")


def create_ledger(schema: str, timestamp_type: str = "TIMESTAMPTZ") -> str:
    t = Target(schema, LEDGER_TABLE)
    return (
        f"CREATE TABLE IF NOT EXISTS {t.sql} (\n"
        '    "file_key" VARCHAR(1024) NOT NULL PRIMARY KEY,\n'
        '    "table_name" VARCHAR(256) NOT NULL,\n'
        '    "rows" BIGINT NOT NULL,\n'
        f'    "loaded_at" {timestamp_type} NOT NULL,\n'
        '    "run_id" VARCHAR(64) NOT NULL\n'
        ")"
    )


def ledger_insert(schema: str, placeholder: str = "%s", many: bool = False) -> str:
    """One ledger row (``placeholder`` per value), or with ``many`` a multi-row VALUES list for
    ``psycopg2.extras.execute_values`` (one statement per batch: Redshift runs single-row INSERTs
    slowly, and a batch there holds hundreds of files)."""
    t = Target(schema, LEDGER_TABLE)
    values = placeholder if many else f"({', '.join([placeholder] * 5)})"
    return f'INSERT INTO {t.sql} ("file_key", "table_name", "rows", "loaded_at", "run_id") VALUES {values}'


def ledger_select(schema: str, placeholder: str = "%s", folded: bool = False) -> str:
    """(file key, rows, run id) of one target, oldest first, each file once: Redshift does not enforce
    the ledger's primary key, so a file listed twice (which only a load that found no ledger could
    write) is counted once."""
    t = Target(schema, LEDGER_TABLE)
    return (f'SELECT "file_key", MIN("rows"), MIN("run_id") FROM {t.sql} WHERE {ledger_match(folded, placeholder)} '
            f'GROUP BY "file_key" ORDER BY MIN("loaded_at"), "file_key"')


def newest_order(cursor: str | None, tiebreak: tuple[str, ...]) -> str:
    """ORDER BY of 'the newest version': the cursor, then the tie-breaking columns, all descending."""
    parts = ([f"{quote_sql(cursor)} DESC NULLS LAST"] if cursor else []) + [f"{quote_sql(c)} DESC" for c in tiebreak]
    return ", ".join(parts) if parts else "1"


def key_literal(value) -> str:
    """A key value of a repair batch as an SQL literal: whole numbers as they are, text quoted."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"repair deletes keys of whole numbers and text only, not {value!r}")
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def keys_where(keys: tuple[str, ...], values: Iterable[tuple], per_statement: int = 500, qualifier: str = "") -> list[str]:
    """WHERE conditions matching exactly these key values, ``per_statement`` keys each."""
    ors = ["(" + " AND ".join(f"{qualifier}{quote_sql(k)} = {key_literal(v)}" for k, v in zip(keys, key)) + ")" for key in values]
    return [" OR ".join(ors[i:i + per_statement]) for i in range(0, len(ors), per_statement)]


def delete_keys_statements(target: Target, keys: tuple[str, ...], values: Iterable[tuple], per_statement: int = 500) -> list[str]:
    """DELETE of exactly these keys (a repair batch's rows deleted at the source), in statements of
    ``per_statement`` keys."""
    return [f"DELETE FROM {target.sql} WHERE " + where for where in keys_where(keys, values, per_statement)]


def merge_statements(target: Target, stage_sql: str, columns: list[str], keys: tuple[str, ...],
                     order: tuple[str, ...] = (SEQ_COLUMN,), key_match: tuple[str, ...] = (),
                     deletes: tuple[tuple, ...] = (), not_older_than: str | None = None) -> list[str]:
    """Delete the target rows whose key is staged, then insert the version extracted last per key.

    ``not_older_than`` (a cursor column; an append table's repair batch, ``sql_views``): only the
    target rows of a staged key whose cursor is not older than the staged version's (or NULL, which
    cannot be ordered) are deleted; older versions stay as the table's history.

    Extracted last = the highest ``order`` (descending, in that order): the stage's load sequence,
    which every dialect numbers by the file's place in the committed history and then by the row's
    place in the file. Never the cursor: an application that moves a cursor backwards (or writes two
    versions in one cursor second) still gets the version read last, which is the source's current
    one. Redshift cannot number rows inside one COPY; its ``order`` is documented with it.

    Keys are matched as MySQL matches them (``key_match``, from ``collations.key_matching``: case
    and trailing spaces of text keys); missing entries compare exactly.
    """
    match = tuple(key_match) + (EXACT,) * (len(keys) - len(key_match))
    on = " AND ".join(f"{key_expr(f'{target.sql}.{quote_sql(k)}', m)} = {key_expr(f'{stage_sql}.{quote_sql(k)}', m)}"
                      for k, m in zip(keys, match))
    partition = ", ".join(key_expr(quote_sql(k), m) for k, m in zip(keys, match))
    by = ", ".join(f"{quote_sql(c)} DESC" for c in order) or "1"
    if not_older_than:
        t, s = f"{target.sql}.{quote_sql(not_older_than)}", f"{stage_sql}.{quote_sql(not_older_than)}"
        on += f" AND ({t} >= {s} OR {t} IS NULL OR {s} IS NULL)"
    return delete_keys_statements(target, keys, deletes) + [
        f"DELETE FROM {target.sql} USING {stage_sql} WHERE {on}",
        f"INSERT INTO {target.sql} ({cols(columns)})\n"
        f"SELECT {cols(columns)} FROM (\n"
        f"    SELECT {cols(columns)}, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {by}) AS {ROW_NUMBER}\n"
        f"    FROM {stage_sql}\n"
        f") s WHERE {ROW_NUMBER} = 1",
    ]


SETTLEMENT_TABLE = "settlement_normal_delivery_detail"
SETTLEMENT_KEY = "ant_parcel_no"
SETTLEMENT_VIEWS = ("settlement_latest_delivery_status", "settlement_partner_latest_status", "settlement_status_summary")


def settlement_views(target: Target, columns: list[str], cursor: str, status: str, tiebreak: tuple[str, ...]) -> list[str]:
    """The manual's three views over the delivery table (parcel deduplication).

    1. ``settlement_latest_delivery_status``: every column of the newest row per ``ant_parcel_no``,
       plus ``latest_status`` (the status column) and ``last_status_update_at`` (the cursor).
    2. ``settlement_partner_latest_status``: partner, parcel, latest status and its time.
    3. ``settlement_status_summary``: parcels and partners per latest status.
    """
    latest, partner, summary = (target.sibling(v) for v in SETTLEMENT_VIEWS)
    extra = []
    if "latest_status" not in columns:
        extra.append(f'{quote_sql(status)} AS "latest_status"')
    if "last_status_update_at" not in columns:
        extra.append(f'{quote_sql(cursor)} AS "last_status_update_at"')
    select = ", ".join([cols(columns)] + extra)
    order = newest_order(cursor, tiebreak)
    # Dropped and recreated together: a column added to the table lands before the two aliases,
    # which CREATE OR REPLACE VIEW refuses (it may only append columns).
    return [
        f"DROP VIEW IF EXISTS {summary.sql}",
        f"DROP VIEW IF EXISTS {partner.sql}",
        f"DROP VIEW IF EXISTS {latest.sql}",
        f"CREATE VIEW {latest.sql} AS\n"
        f"SELECT {select} FROM (\n"
        f"    SELECT {cols(columns)}, ROW_NUMBER() OVER (PARTITION BY {quote_sql(SETTLEMENT_KEY)} ORDER BY {order}) AS {ROW_NUMBER}\n"
        f"    FROM {target.sql}\n"
        f") t WHERE {ROW_NUMBER} = 1",
        f"CREATE VIEW {partner.sql} AS\n"
        f'SELECT "partner_id", {quote_sql(SETTLEMENT_KEY)}, "latest_status", "last_status_update_at"\n'
        f"FROM {latest.sql}",
        f"CREATE VIEW {summary.sql} AS\n"
        f'SELECT "latest_status", COUNT(*) AS "parcel_count", COUNT(DISTINCT "partner_id") AS "partner_count",\n'
        f'       MAX("last_status_update_at") AS "last_status_update_at"\n'
        f'FROM {latest.sql}\nGROUP BY "latest_status"',
    ]
