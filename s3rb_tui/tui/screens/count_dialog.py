"""Set a table's cumulative row counts (absolute replaces, additive adds), planned then confirmed.

One number sets BOTH cumulative totals, MySQL extracted and Redshift loaded (engine/ops/counts.py
set_count), as the manual's ``watermark-count set-count`` does; the dialog says so and shows both
before and after. Enter in the number field applies, as the Apply button does."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.tui.messages import Loaded


class SetCountDialog(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "close", "Cancel", id="count.cancel")]

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Set count — {self.table}", classes="dialog-title")
            yield Static("Sets both cumulative totals to this number: MySQL extracted and Redshift loaded "
                         "(the latest session's counts are kept).", classes="dialog-body", markup=False)
            yield Input(placeholder="rows, e.g. 5000000", id="count", type="integer")
            with RadioSet(id="mode"):
                yield RadioButton("absolute (replace the cumulative totals)", value=True, id="mode-absolute")
                yield RadioButton("additive (add to them)", id="mode-additive")
            yield Static("", id="count-preview", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Apply", id="apply", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#count", Input).focus()
        self._current = None
        self._read()

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        ws = self.app.workspace
        try:
            self.post_message(Loaded("current", ws.watermarks.get(ws.table_ref(self.table))))
        except Exception as e:
            self.post_message(Loaded("current", None, e))

    def _value(self) -> tuple[int | None, str]:
        mode = "additive" if self.query_one("#mode-additive", RadioButton).value else "absolute"
        text = self.query_one("#count", Input).value.strip()
        try:
            n = int(text)
        except ValueError:
            return None, mode
        return (n if n >= 0 else None), mode

    @on(Input.Changed)
    @on(RadioSet.Changed)
    def _update(self) -> None:
        n, mode = self._value()
        preview = self.query_one("#count-preview", Static)
        self.query_one("#apply", Button).disabled = n is None or self._current is None
        if n is None:
            preview.update("enter a whole number of rows (0 or more)")
            return
        if self._current is None:
            preview.update("this table has no watermark yet; run a backup first")
            return
        new = self._current.with_counts(n, mode)
        c = self._current.cumulative
        preview.update(
            f"Cumulative extracted: {c.extracted:,} → {new.cumulative.extracted:,}\n"
            f"Cumulative loaded:    {c.loaded:,} → {new.cumulative.loaded:,}"
        )

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.error is not None:
            self.app.show_error(f"set-count: {message.what}", message.error)
            return
        if message.what == "current":
            self._current = message.data
            self._update()

    @on(Input.Submitted, "#count")
    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        n, mode = self._value()
        if n is not None and self._current is not None and not self.query_one("#apply", Button).disabled:
            self.query_one("#apply", Button).disabled = True
            self._write(n, mode)

    def _write(self, n: int, mode: str) -> None:
        """Through the app's one job runner: the change is listed on Jobs and writes to the log."""
        ws, table = self.app.workspace, self.table

        def job(ctx):
            from s3rb_tui.engine.ops.counts import run_set_count

            return run_set_count(ws, ws.table_ref(table), n, mode, ctx)

        if self.app.start_job("set-count", f"set-count {table} ({mode} {n:,})", [table], job, on_end=self._ended) is None:
            self.dismiss(False)

    def _ended(self, job) -> None:
        if not self.is_attached:
            return
        if job.status == JobStatus.SUCCESS:
            self.notify(f"{self.table}: cumulative counts set", title="set-count")
            self.dismiss(True)
        else:  # the runner showed the error; the operator may change the number and try again
            self.query_one("#count-preview", Static).update(f"not applied: {job.error or job.status}")
            self.query_one("#apply", Button).disabled = False

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(False)
