"""Plain-text rendering shared by headless commands (no Rich: this path stays Textual-free)."""

from __future__ import annotations

from typing import Any

from s3rb_tui import display
from s3rb_tui.engine.core.events import TableResult

table = display.table_text
size = display.size


def job_summary(title: str, results: list[TableResult], seconds: float) -> str:
    ok = sum(1 for r in results if r.ok)
    failed = len(results) - ok
    head = f"{title} finished in {display.duration(seconds)}: {ok} table(s) ok, {failed} failed"
    rows = [
        (r.table, r.status, display.count(r.rows), r.files, size(r.bytes), display.duration(r.seconds), display.rate(r.rows_per_s))
        for r in results
    ]
    out = [head, table(rows, ("table", "result", "rows", "files", "size", "time", "rate"))]
    paths = sorted({r.details["extract_path"] for r in results if r.details.get("extract_path")})
    if paths:
        out.append(f"  extraction: {', '.join(paths)}")
    for r in results:
        for w in r.warnings:
            out.append(f"  warning {r.table}: {w}")
        if r.error:
            out.append(f"  error {r.table}: {r.error}" + (f" — {r.hint}" if r.hint else ""))
    return "\n".join(out)


def job_json(command: str, results: list[TableResult], seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "command": command,
        "success": all(r.ok for r in results),
        "duration_seconds": round(seconds, 3),
        "successful_tables": [r.table for r in results if r.ok],
        "failed_tables": [r.table for r in results if not r.ok],
        "tables": [r.to_json() for r in results],
        **extra,
    }
