"""``info``: the backup strategies and when to use each (works without any configuration)."""

from __future__ import annotations

from s3rb_tui.commands import report

STRATEGIES = {
    "sequential": {
        "summary": "one table at a time",
        "best_for": "small to medium number of tables; critical data consistency; large single tables",
        "characteristics": [
            "processes one table at a time",
            "maximum reliability and error isolation",
            "lower resource usage (one MySQL connection)",
            "slower for many tables",
        ],
        "use_when": "data consistency is critical or resources are limited (the recommended default)",
    },
    "inter-table": {
        "summary": "several tables at once (BACKUP_MAX_WORKERS threads, one connection each)",
        "best_for": "many small to medium tables, good I/O capacity",
        "characteristics": [
            "processes multiple tables simultaneously",
            "faster overall completion time",
            "higher memory and connection usage",
        ],
        "use_when": "several tables need backup together and the database can take parallel connections",
    },
}

GUIDE = [
    ("Small-Medium", "1", "sequential", "Single claim table"),
    ("Small-Medium", "2-10", "inter-table", "Multiple settlement tables"),
    ("Large", "1", "sequential", "Delivery detail table"),
    ("Mixed", "Mixed", "sequential (safe)", "Production environments"),
]


def run(args, app) -> int:
    if app.json:
        app.print_json({"strategies": STRATEGIES if not args.strategy else {args.strategy: STRATEGIES[args.strategy]},
                        "guide": [dict(zip(("table_size", "tables", "strategy", "example"), g)) for g in GUIDE]})
        return 0
    names = [args.strategy] if args.strategy else list(STRATEGIES)
    for name in names:
        s = STRATEGIES[name]
        app.out(f"{name}: {s['summary']}")
        app.out(f"  best for: {s['best_for']}")
        for c in s["characteristics"]:
            app.out(f"  - {c}")
        app.out(f"  use when: {s['use_when']}")
        app.out("")
    if not args.strategy:
        app.out("Strategy selection guide:")
        app.out(report.table(GUIDE, ("table size", "tables", "strategy", "example")))
        app.out("")
        app.out("For most use cases use `sequential`. Run `s3rb-tui --run info --strategy NAME` for one strategy.")
    return 0
