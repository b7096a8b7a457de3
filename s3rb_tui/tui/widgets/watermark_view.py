"""The manual's watermark display, with session and cumulative counts side by side."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from s3rb_tui.engine.state.watermarks import Watermark
from s3rb_tui.display import MISSING, count, data_timestamp, key, moment


def watermark_renderable(wm: Watermark | None, table: str, *, stable: bool = False):
    if wm is None:
        return Text(f"{table}: no watermark yet (the first backup will take the whole table)", style="dim")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Last Data Timestamp:", Text(data_timestamp(wm.last_data_timestamp)))
    head.add_row("Last Key:", Text(key(wm.last_key or None)))
    if wm.initial_scan:
        head.add_row(wm.initial_scan_label, Text(wm.initial_scan_text() or ""))
    head.add_row("Last Extraction Time:", "(hidden)" if stable and wm.last_extraction_time else moment(wm.last_extraction_time))
    head.add_row("MySQL Status:", _status(wm.mysql_status))
    head.add_row("Redshift Status:", _status(wm.redshift_status))
    head.add_row("Backup Strategy:", wm.backup_strategy or MISSING)
    if wm.manual_timestamp:
        head.add_row("Manual Timestamp:", f"{wm.manual_timestamp} (manual_cli)")
    head.add_row("Files written / loaded:", f"{wm.files_written_total:,} / {wm.files_loaded_total:,}")
    head.add_row("Committed through:", Text(wm.committed_through or MISSING))
    if wm.last_error:
        head.add_row("Last Error:", Text(wm.last_error, style="red"))

    counts = Table(title="Row Count Statistics", title_justify="left", expand=False, show_edge=True)
    counts.add_column("")
    counts.add_column("Session (latest run)", justify="right")
    counts.add_column("Cumulative (all-time)", justify="right")
    counts.add_row("MySQL Extracted", f"{count(wm.session.extracted)} rows", f"{count(wm.cumulative.extracted)} rows")
    counts.add_row("Redshift Loaded", f"{count(wm.session.loaded)} rows", f"{count(wm.cumulative.loaded)} rows")
    waiting = wm.cumulative.extracted - wm.cumulative.loaded
    counts.add_row("Waiting to load", "", f"{count(max(waiting, 0))} rows")
    title = Text(f"Watermark Status for {wm.table}", style="bold")
    return Group(title, Text(""), head, Text(""), counts)


def _status(value: str | None) -> Text:
    style = {"success": "green", "failed": "bold red", "manual": "yellow", "reset": "yellow", "pending": "cyan"}.get(value or "", "")
    return Text(value or MISSING, style=style)


class WatermarkView(Static):
    def show(self, wm: Watermark | None, table: str, stable: bool = False) -> None:
        self.update(watermark_renderable(wm, table, stable=stable))
