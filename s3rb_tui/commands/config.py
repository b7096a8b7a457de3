"""``config``: every setting with secrets masked, where it came from, and what is wrong."""

from __future__ import annotations

from s3rb_tui.commands import report
from s3rb_tui.engine.warehouses.redshift_sql import config_notes
from s3rb_tui.settings import VARS_BY_NAME


def datetime_zone_text(settings) -> str:
    """Where the run's bound for DATETIME/DATE cursors is computed (engine/cursors/bounds.py)."""
    zone = settings.str("DB_DATETIME_ZONE")
    where = f"in {zone}" if zone else "in the server's own time zone (@@global.time_zone)"
    return f"DATETIME and DATE cursors are taken to be written {where}: each run's bound is computed there (DB_DATETIME_ZONE)"


def run(args, app) -> int:
    s = app.settings
    problems = list(s.problems)
    try:
        configs = app.workspace.table_configs
    except Exception as e:
        problems.append(str(e))
        configs = {}
    notes = config_notes(s)
    if app.json:
        app.print_json({
            "env_file": str(s.env_file) if s.env_file else None,
            "settings": [{"name": n, "value": v, "source": src, "secret": VARS_BY_NAME[n].secret} for n, v, src in s.masked()],
            "table_settings": {k: v.__dict__ for k, v in configs.items()},
            "problems": problems,
            "warnings": list(s.warnings),
            "notes": notes,
            "datetime_zone": datetime_zone_text(s),
            "valid": not problems,
        })
    else:
        app.out(f"settings read from: {s.env_file or '(no .env file; environment and defaults)'}")
        app.out(report.table([(n, v, src) for n, v, src in s.masked()], ("variable", "value", "from")))
        app.out(datetime_zone_text(s))
        if configs:
            app.out(f"per-table settings ({s.str('S3RB_CONFIG')}): {', '.join(sorted(configs))}")
        for w in s.warnings:
            app.out(f"warning: {w}")
        for n in notes:
            app.out(f"note: {n}")
        if problems:
            app.out("problems:")
            for p in problems:
                app.out(f"  - {p}")
        else:
            app.out("configuration OK")
    return 2 if problems else 0
