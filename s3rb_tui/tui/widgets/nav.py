"""The one-line screen bar under the header: 1..6 with the current screen highlighted (clickable)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $boost; padding: 0 1; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        self.render_bar()  # and again whenever jobs start or end (ConsoleApp._on_jobs_changed)

    def render_bar(self) -> None:
        from s3rb_tui.tui.modes import SCREEN_KEYS

        t = Text()
        for key, mode, label in SCREEN_KEYS:
            style = "bold reverse" if mode == self.current else ""
            t.append(f" {key} {label} ", style=style)
            t.append(" ")
        running = len(self.app.running_jobs())
        if running:
            t.append(f" ● {running} job{'s' if running > 1 else ''} running", style="bold yellow")
        if self.app.readonly:
            t.append(" read-only", style="bold magenta")
        self.update(t)

    def on_click(self, event) -> None:
        from s3rb_tui.tui.modes import SCREEN_KEYS

        x = event.x - 1
        pos = 0
        for key, mode, label in SCREEN_KEYS:
            width = len(f" {key} {label} ") + 1
            if pos <= x < pos + width:
                self.app.action_show(mode)
                return
            pos += width
