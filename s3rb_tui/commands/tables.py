"""``tables``: every schema the user may read, with its base tables and views (``-t``/``--all``:
only what they select, e.g. to check a glob before putting it in cron)."""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.wiring.catalog import SchemaTables, configured_schemas, readable_schemas


def run(args, app) -> int:
    app.require_valid_settings()
    selected = app.tables() if (args.tables or args.all_tables) else None
    with app.workspace.open_source() as source:
        wanted = None if selected is None else {t.schema for t in selected}
        schemas = readable_schemas(source, only=wanted)
    if selected is not None:
        chosen = set(selected)
        schemas = [SchemaTables(s.schema, tuple(t for t in s.tables if t.ref in chosen)) for s in schemas]
    covered = configured_schemas(app.settings)
    if app.json:
        app.print_json({"schemas": [{
            "schema": s.schema,
            "in_all": s.schema in covered,
            "tables": [{"table": t.ref.full_name, "view": t.is_view, "estimated_rows": t.estimated_rows,
                        "estimated_bytes": t.estimated_bytes} for t in s.tables],
        } for s in schemas]})
        return 0
    for s in schemas:
        views = sum(1 for t in s.tables if t.is_view)
        mark = "  (--all)" if s.schema in covered else ""
        app.out(f"{s.schema}: {len(s.tables) - views} base table(s), {views} view(s){mark}")
        rows = [(t.ref.name, "view" if t.is_view else "table", display.count(t.estimated_rows), display.size(t.estimated_bytes))
                for t in s.tables]
        if rows:
            app.out(report.table(rows, ("table", "kind", "rows (estimate)", "size (estimate)")))
        app.out("")
    if not schemas:
        app.out("no schema to show (the user may read none, or the selection matched none)")
    app.out("--all takes the base tables of: " + (", ".join(covered) if covered else "nothing (set DB_SCHEMAS or DB_DATABASE)"))
    return 0
