"""What every console screen shares: help text, read-only gating, background reads."""

from __future__ import annotations

from typing import Any, Callable

from textual.screen import Screen
from textual.worker import get_current_worker

from s3rb_tui.tui.messages import Loaded


class ConsoleScreen(Screen):
    #: shown by the help screen (?, F1) above the screen's key list
    HELP = ""

    @classmethod
    def action_available(cls, app, action: str) -> bool:
        """Whether ``action`` of this screen is offered at all (footer, help, palette): the one
        place --readonly hides state-changing actions, asked for screens not yet opened too."""
        return bool(app.check_action(action, ()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides the key (Textual: None would show it disabled) and stops the action
        return self.action_available(self.app, action)

    def share_selection(self, table: str | None) -> None:
        """Make ``table`` the console's selected table (Dashboard, Tables, Watermarks and Files open
        on it) — only from the screen the operator is on: a screen re-rendered in the background
        (the dashboard's poll) must never move the selection the operator made elsewhere."""
        if table and self.is_current:
            self.app.selected_table = table

    def on_screen_resume(self) -> None:
        from s3rb_tui.tui.widgets.nav import NavBar

        for bar in self.query(NavBar):
            bar.render_bar()

    def load(self, what: str, fn: Callable[[], Any], group: str | None = None) -> None:
        """Run ``fn`` (blocking engine reads) in a thread; the result arrives as ``Loaded``.

        Exclusive per group (``what`` unless given): a newer read of the same thing cancels the
        older one, whose result is then dropped, so a slow earlier read can never overwrite what
        a later one showed (the detail of the table selected before, an older listing)."""
        self.run_worker(lambda: self._load(what, fn), name=what, group=f"load:{group or what}", exclusive=True,
                        thread=True, exit_on_error=False)

    def _load(self, what: str, fn: Callable[[], Any]) -> None:
        worker = get_current_worker()
        try:
            data = fn()
        except Exception as e:  # shown on the UI thread; the app keeps running
            if not worker.is_cancelled:
                self.post_message(Loaded(what, None, e))
            return
        if not worker.is_cancelled:
            self.post_message(Loaded(what, data))

    def on_loaded(self, message: Loaded) -> None:
        if message.error is not None:
            self.app.show_error(f"could not read {message.what}", message.error)
            self.loaded_failed(message.what, message.error)
            return
        self.loaded(message.what, message.data)

    def loaded(self, what: str, data: Any) -> None:
        """Apply a background read's result (UI thread)."""

    def loaded_failed(self, what: str, error: BaseException) -> None:
        """A background read failed (already notified)."""
