"""What one table's verify compares, and the entry point ``verify_tables``.

``plan_verify`` discovers the source table, picks the warehouse relation by the table's load mode
(merge and replace: the table; append: its ``<table>_latest`` view), the compared columns (every
column both sides have, or ``--columns``, or none with ``--keys-only``), the watermark's bound
and ``--since``, and builds both sides' queries. Bad input is a UsageError (exit 2) before any
segment is read: no primary key, an unknown column, a table never loaded, a source verify cannot
read.

The source side is MySQL/MariaDB's (``sources/mysql_checksum.py``) or, for the demo, SQLite's
(``sources/sqlite_checksum.py``, through the functions each SQLite connection registers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from s3rb_tui.engine.core.checksum import CanonicalSQL, Field, canonical_kind
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.sources.keyset import KeyRules, Keyset, mysql_keyset, mysql_param
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.core.table_settings import resolve_mode
from s3rb_tui.engine.warehouses.targets import target_for
from s3rb_tui.engine.ops.verify import TableVerdict, Verifier, VerifyOptions, VerifyProgress
from s3rb_tui.engine.ops.verify_sides import Queries, Side
from s3rb_tui.engine.warehouses.sql_views import latest_view_name
from s3rb_tui.engine.warehouses.base import Target, Warehouse

if TYPE_CHECKING:
    from s3rb_tui.engine.core.events import TableResult
    from s3rb_tui.engine.core.jobs import CancelToken, JobContext
    from s3rb_tui.engine.wiring.workspace import Workspace


def canonical_for(dialect: str) -> CanonicalSQL:
    if dialect == "duckdb":
        from s3rb_tui.engine.warehouses.checksum_duckdb import DuckDBCanonical

        return DuckDBCanonical()
    if dialect == "redshift":
        from s3rb_tui.engine.warehouses.checksum_redshift import RedshiftCanonical

        return RedshiftCanonical()
    from s3rb_tui.engine.warehouses.checksum_postgres import PostgresCanonical

    return PostgresCanonical()


def _queries_for(wh: Warehouse, owner: bool) -> Queries:
    if wh.dialect == "duckdb":
        from s3rb_tui.engine.warehouses.checksum_duckdb import DuckDBQueries

        return DuckDBQueries(wh, owner=owner)
    from s3rb_tui.engine.warehouses.checksum_postgres import PostgresQueries

    return PostgresQueries(wh)


@dataclass(frozen=True)
class SourceSpelling:
    """How the source side is spelled: its canonical text, key expressions, FROM, side-kind selects
    and the parameter of a bound (``--since``, the watermark)."""

    canon: CanonicalSQL
    keyset: Keyset
    relation: str
    raw_select: Callable[[Field], str] | None
    param: Callable[[Any, Any], Any]


def source_spelling(ws: "Workspace", schema: TableSchema, target_dialect: str) -> SourceSpelling:
    if ws.settings.str("DB_DIALECT") == "sqlite":
        from s3rb_tui.engine.core.table_names import quote_sql
        from s3rb_tui.engine.sources.sqlite import sqlite_keyset
        from s3rb_tui.engine.sources.sqlite_checksum import SQLiteCanonical

        keys = sqlite_keyset(schema)
        return SourceSpelling(SQLiteCanonical(target_dialect), keys, quote_sql(schema.ref.name), None, keys.rules.param)
    from s3rb_tui.engine.sources.mysql_checksum import MySQLCanonical

    return SourceSpelling(MySQLCanonical(target_dialect), mysql_keyset(schema), schema.ref.mysql(),
                          lambda f: f.column.rule.select_expr(f.column), mysql_param)


def _source_queries(ws: "Workspace") -> Queries:
    if ws.settings.str("DB_DIALECT") == "sqlite":
        from s3rb_tui.engine.sources.sqlite_checksum import SQLiteQueries

        return SQLiteQueries(ws.open_source())
    from s3rb_tui.engine.sources.mysql_checksum import MySQLQueries

    return MySQLQueries(ws.open_source())


@dataclass
class VerifyPlan:
    ref: TableRef
    schema: TableSchema
    mode: str
    relation: Target
    source: Side
    warehouse: Side
    late: tuple[str, list[Any]] | None
    notes: list[str]


def plan_verify(ws: "Workspace", ref: TableRef, options: VerifyOptions, wh: Warehouse) -> VerifyPlan:
    cfg = ws.table_config(ref)
    with ws.open_source() as source:
        schema = source.discover(ref, cfg.cursor_column, cfg.key_columns)
    if schema.is_view:
        raise UsageError(f"{ref} is a view; verify compares base tables", "name the table the view reads")
    if not schema.primary_key:
        raise UsageError(f"{ref} has no primary key: verify compares rows by key",
                         f'add a primary key, or name one: key_columns = [...] under [tables."{ref}"] in s3rb.toml')
    mode = resolve_mode(cfg, schema)
    target = target_for(ws, ref)
    relation = latest_view_name(target) if mode == "append" else target
    if mode == "append" and cfg.latest_key and tuple(cfg.latest_key) != schema.primary_key:
        raise UsageError(f"{ref} is appended with latest_key {list(cfg.latest_key)}, not its primary key: its _latest view "
                         "holds one row per latest_key, which no source row matches", "verify compares by the primary key")
    columns = wh.table_columns(relation)
    if columns is None:
        raise UsageError(f"{ref} has no warehouse {'view' if mode == 'append' else 'table'} {relation.full_name} yet",
                         f"run `s3rb-tui --run sync -t {ref}` first")
    present = {wh.fold(c) for c in columns}
    notes: list[str] = []
    if options.columns is not None:
        unknown = [c for c in options.columns if c not in schema.column_names]
        if unknown:
            raise UsageError(f"--columns: {', '.join(unknown)} not a column of {ref}", f"its columns: {', '.join(schema.column_names)}")
        wanted = [c for c in schema.column_names if c in options.columns]
    else:
        wanted = [] if options.keys_only else schema.column_names
    absent = [c for c in wanted if wh.fold(c) not in present]
    if absent:
        notes.append(f"not in the warehouse, not compared: {', '.join(absent)}")
    missing_keys = [k for k in schema.primary_key if wh.fold(k) not in present]
    if missing_keys:
        raise UsageError(f"{relation.full_name} has no column {', '.join(missing_keys)} (the key of {ref})", "rebuild the table")
    dialect = wh.dialect
    key_fields = [Field(schema.column(k), canonical_kind(schema.column(k), dialect)) for k in schema.primary_key]
    value_fields = [Field(schema.column(c), canonical_kind(schema.column(c), dialect)) for c in wanted
                    if c not in schema.primary_key and c not in absent]
    fields = key_fields + value_fields

    src = source_spelling(ws, schema, dialect)
    source_where, late, wh_where = _filters(ws, ref, schema, mode, options, wh, src)
    src_side = Side("source", src.canon, src.keyset, src.relation, schema, fields, key_fields,
                    where=source_where, late=late, raw_select=src.raw_select)
    canon = canonical_for(dialect)
    wh_keys = Keyset(schema, KeyRules(canon.quote, canon.placeholder, mysql_param))
    wh_side = Side("warehouse", canon, wh_keys, relation.sql if dialect != "redshift" else Target(relation.schema, relation.name.lower()).sql,
                   schema, fields, key_fields, where=wh_where)
    return VerifyPlan(ref, schema, mode, relation, src_side, wh_side, late, notes)


def _filters(ws: "Workspace", ref: TableRef, schema: TableSchema, mode: str, options: VerifyOptions, wh: Warehouse,
             src: SourceSpelling):
    """(source filter, source "past the watermark" clause, warehouse filter)."""
    from s3rb_tui.engine.core.timestamps import parse_timestamp

    cursor = schema.column(schema.cursor_column) if schema.cursor_column else None
    src_parts: list[tuple[str, list[Any]]] = []
    wh_where = None
    late = None
    if options.since is not None:
        if cursor is None:
            raise UsageError(f"--since needs a cursor column; {ref} has none", "leave out --since to verify the whole table")
        since = parse_timestamp(options.since).strftime("%Y-%m-%d %H:%M:%S.%f")
        src_parts.append((f"{src.keyset.ref(cursor.name)} >= {src.canon.placeholder}", [since]))
        canon = canonical_for(wh.dialect)
        wh_where = (f"{canon.quote(wh.fold(cursor.name))} >= {canon.placeholder}", [since])
    wm = ws.watermarks.get(ref)
    if cursor is not None and schema.incremental and mode != "replace" and wm is not None and wm.last_data_timestamp is not None:
        ref_sql = src.keyset.ref(cursor.name)
        bound = src.param(cursor, wm.last_data_timestamp)
        mark = src.canon.placeholder
        src_parts.append((f"({ref_sql} IS NULL OR {ref_sql} <= {mark})", [bound]))
        late = (f"{ref_sql} > {mark}", [bound])
    source_where = None
    if src_parts:
        source_where = (" AND ".join(p for p, _ in src_parts), [v for _, vs in src_parts for v in vs])
    return source_where, late, wh_where


def verify_table(ws: "Workspace", ref: TableRef, options: VerifyOptions | None = None,
                 progress: Callable[[VerifyProgress], None] | None = None, cancel: "CancelToken | None" = None) -> TableVerdict:
    """Verify one table (module docstring): its TableVerdict."""
    options = options or VerifyOptions()
    shared = ws.open_warehouse(reading=True)
    try:
        plan = plan_verify(ws, ref, options, shared)
        verdict = TableVerdict(ref.full_name, plan.relation.full_name, plan.mode, plan.source.compared, notes=plan.notes)

        def wh_open() -> Queries:
            if shared.dialect == "duckdb":  # one database, one cursor per worker
                return _queries_for(shared, owner=False)
            return _queries_for(ws.open_warehouse(reading=True), owner=True)

        openers: dict[str, Callable[[], Queries]] = {"source": lambda: _source_queries(ws), "warehouse": wh_open}
        return Verifier(plan.source, plan.warehouse, openers, verdict, options, late=plan.late, progress=progress, cancel=cancel).run()
    finally:
        shared.close()


def verify_tables(ws: "Workspace", refs: list[TableRef], options: VerifyOptions | None = None,
                  progress: Callable[[VerifyProgress], None] | None = None, cancel: "CancelToken | None" = None) -> list[TableVerdict]:
    return [verify_table(ws, ref, options, progress, cancel) for ref in refs]


def verdict_lines(v: TableVerdict) -> list[str]:
    """The result grouped by kind, with the keys and the columns that differ (the console's job log)."""
    out = [f"{v.table}: {'equal' if v.equal else 'DIFFERENT'} — source {v.source_rows:,} rows, {v.relation} {v.warehouse_rows:,}, "
           f"not yet synced {v.not_yet_synced:,}, {v.segments} segments, {v.seconds:.1f} s"]
    for kind, label in (("missing_in_warehouse", "missing in the warehouse"), ("extra_in_warehouse", "extra in the warehouse (deleted at the source)"),
                        ("different", "different")):
        keys = getattr(v, kind)
        if v.counts[kind]:
            listed = "; ".join(", ".join(str(x) for x in k) for k in keys)
            more = v.counts[kind] - len(keys)
            out.append(f"{label} ({v.counts[kind]:,}): {listed}" + (f" … and {more:,} more" if more > 0 else ""))
    if v.different_columns:
        out.append("columns that differ: " + ", ".join(f"{c} ({n:,})" for c, n in v.different_columns.most_common()))
    out.extend(f"note: {n}" for n in v.notes)
    return out


def verdict_result(v: TableVerdict, table: str | None = None) -> "TableResult":
    """A verdict as a table's result (a job's, a run record's): the rows checked; failed when
    anything differs, the counts by kind as its error and the repair command as its hint."""
    from s3rb_tui.engine.core.events import JobStatus, TableResult

    result = TableResult(table=table or v.table, rows=v.source_rows, seconds=round(v.seconds, 3), details={"verify": v.to_json()})
    if v.equal:
        result.status = JobStatus.SUCCESS
    else:
        result.status = JobStatus.FAILED
        result.error = (f"{v.counts['missing_in_warehouse']:,} missing, {v.counts['extra_in_warehouse']:,} extra, "
                        f"{v.counts['different']:,} different in the warehouse")
        result.hint = f"s3rb-tui --run repair -t {v.table} (plan first, asks before it changes anything)"
    return result


def run_verify(ws: "Workspace", refs: list[TableRef], ctx: "JobContext", options: VerifyOptions | None = None) -> list["TableResult"]:
    """Verify as a job (the console's): segment progress events, the result as log lines grouped by
    kind, one TableResult per table (``verdict_result``)."""
    import time

    from s3rb_tui.engine.core.errors import S3rbError
    from s3rb_tui.engine.core.events import JobStatus, TableResult

    results = []
    for ref in refs:
        name = ref.full_name
        result = TableResult(table=name)
        started = time.monotonic()

        def progress(p: VerifyProgress, name: str = name) -> None:
            ctx.progress(name, rows=p.rows_checked, files=p.segments_done, total=None, phase="verify",
                         segments_done=p.segments_done, segments_total=p.segments_total)

        try:
            v = verify_table(ws, ref, options, progress=progress, cancel=ctx.cancel)
        except S3rbError as e:
            result.status, result.error, result.hint = JobStatus.FAILED, e.message, e.hint
        else:
            for line in verdict_lines(v):
                ctx.log(line, table=name, level="info" if v.equal else "warning")
            result = verdict_result(v, name)
        result.seconds = round(time.monotonic() - started, 3)
        ctx.table_done(result)
        results.append(result)
    return results
