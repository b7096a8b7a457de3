"""Guarded clean of a tree node: the engine's plan first (files, bytes, loaded / not loaded), focus
on Cancel, the table name typed to confirm above 100 files or when any planned file is not yet
loaded, then exactly the planned keys deleted with a progress bar. An age filter narrows the plan
to files older than an age, as ``s3clean clean --older-than`` does (the engine's parse_duration)."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static

from s3rb_tui.display import moment, size
from s3rb_tui.tui.messages import Loaded
from s3rb_tui.tui.screens.dialogs import TYPE_TO_CONFIRM_ABOVE


def needs_typed_confirmation(plan) -> bool:
    """Above 100 files, or when any planned file is (or may be) not loaded yet."""
    return len(plan.files) > TYPE_TO_CONFIRM_ABOVE or plan.unloaded > 0 or not plan.status_known


def scope_pattern(table_prefix: str, prefix: str) -> str | None:
    """The engine's --pattern for a tree node: None for the whole table, else the path below it."""
    relative = prefix[len(table_prefix):] if prefix.startswith(table_prefix) else prefix
    if not relative:
        return None
    return relative + "*" if relative.endswith("/") else relative


def make_plan(ws, table: str, prefix: str, include_unloaded: bool, older_than=None, now=None):
    from s3rb_tui.engine.ops.clean import plan_clean
    from s3rb_tui.engine.state.ledger import loaded_file_keys
    from s3rb_tui.engine.stores.layout import table_prefix

    ref = ws.table_ref(table)
    pattern = scope_pattern(table_prefix(ws.incremental_path, ref), prefix)
    return plan_clean(
        ws.store, ws.incremental_path, ref, pattern=pattern, include_unloaded=include_unloaded, loaded_keys=loaded_file_keys(ws, ref),
        older_than=older_than, now=now,
    )


class CleanDialog(ModalScreen[Any]):
    """Dismisses with the engine's execution result, or None when nothing was deleted."""

    BINDINGS = [Binding("escape", "close", "Cancel", id="clean.cancel")]

    def __init__(self, table: str, prefix: str, label: str) -> None:
        super().__init__()
        self.table = table
        self.prefix = prefix
        self.label = label
        self.plan = None
        self._deleting = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog clean"):
            yield Label(f"Clean {self.table}", classes="dialog-title")
            yield Static(f"Scope: {self.label}", markup=False)
            yield Checkbox("Also delete files not yet loaded into the warehouse", id="include-unloaded")
            with Horizontal(classes="older-than"):
                yield Label("Only files older than ")
                yield Input(placeholder="any age (e.g. 7d, 24h, 30m)", id="older-than")
            yield Static("", id="older-than-problem", classes="problem")
            yield Static("planning…", id="plan", markup=False)
            yield Label(f"Type {self.table} to confirm:", id="confirm-label")
            yield Input(placeholder=self.table, id="confirm-text")
            yield ProgressBar(id="delete-progress", show_eta=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Delete", id="delete", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#delete-progress").display = False
        self._show_typing(False)
        self.query_one("#cancel", Button).focus()
        self._plan(False)

    def _show_typing(self, on_: bool) -> None:
        self.query_one("#confirm-label").display = on_
        self.query_one("#confirm-text").display = on_

    def _older_than(self):
        """(timedelta or None, problem or None) from the age field (empty: any age)."""
        from s3rb_tui.engine.core.durations import parse_duration
        from s3rb_tui.engine.core.errors import UsageError

        text = self.query_one("#older-than", Input).value.strip()
        if not text:
            return None, None
        try:
            return parse_duration(text, "age"), None
        except UsageError as e:
            return None, f"{e.message}: {e.hint}" if e.hint else e.message

    @on(Checkbox.Changed, "#include-unloaded")
    @on(Input.Changed, "#older-than")
    def _criteria_changed(self) -> None:
        older_than, problem = self._older_than()
        self.query_one("#older-than-problem", Static).update(problem or "")
        self.plan = None
        self.query_one("#delete", Button).disabled = True
        if problem:
            self.query_one("#plan", Static).update("fix the age to plan")
            return
        self.query_one("#plan", Static).update("planning…")
        self._plan(self.query_one("#include-unloaded", Checkbox).value, older_than)

    @work(thread=True, exclusive=True, group="clean-plan", exit_on_error=False)
    def _plan(self, include_unloaded: bool, older_than=None) -> None:
        try:
            plan = make_plan(self.app.workspace, self.table, self.prefix, include_unloaded, older_than, self.app.now())
        except Exception as e:
            self.post_message(Loaded("plan", None, e))
            return
        self.post_message(Loaded("plan", plan))

    def _describe(self, plan) -> str:
        lines = [
            f"Will delete {len(plan.keys):,} file(s), {size(plan.bytes)}"
            + (f", last written before {moment(plan.criteria['cutoff'])}" if plan.criteria.get("cutoff") else "") + ":",
        ]
        if plan.status_known:
            lines.append(f"  loaded into the warehouse:  {plan.loaded:,}")
            lines.append(f"  NOT loaded yet:             {plan.unloaded:,}")
        else:
            lines.append("  loaded or not: unknown (no warehouse in use)")
        if plan.skipped_unloaded:
            lines.append(
                f"Kept (not loaded yet): {plan.skipped_unloaded:,} file(s), {size(plan.skipped_unloaded_bytes)}"
                " — tick the box above to include them"
            )
        for held in plan.locked.values():
            lines.append(f"Kept (the table is locked by {held.holder}): {held.files:,} file(s), {size(held.bytes)}"
                         " — plan again when that run has finished")
        if plan.keys:
            lines.append("")
            for key in plan.keys[:3]:
                lines.append(f"  {key}")
            if len(plan.keys) > 3:
                lines.append(f"  … and {len(plan.keys) - 3:,} more")
        else:
            lines.append("Nothing to delete.")
        return "\n".join(lines)

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.error is not None:
            self.app.show_error(f"clean {message.what} failed", message.error)
            self.query_one("#plan", Static).update(f"Could not {'plan' if message.what == 'plan' else 'delete'}: {message.error}")
            self._deleting = False
            return
        if message.what == "plan":
            self.plan = message.data
            self.query_one("#plan", Static).update(self._describe(self.plan))
            typing = bool(self.plan.keys) and needs_typed_confirmation(self.plan)
            self._show_typing(typing)
            self.query_one("#confirm-text", Input).value = ""
            self.query_one("#delete", Button).disabled = not self.plan.keys or typing

    @on(Input.Changed, "#confirm-text")
    def _typed(self, event: Input.Changed) -> None:
        if self.plan is not None and self.plan.keys:
            self.query_one("#delete", Button).disabled = event.value.strip() != self.table

    @on(Button.Pressed, "#delete")
    def _delete(self) -> None:
        plan = self.plan
        if plan is None or not plan.keys or self._deleting:
            return
        if needs_typed_confirmation(plan) and self.query_one("#confirm-text", Input).value.strip() != self.table:
            return
        self._deleting = True
        for w in ("#delete", "#include-unloaded", "#confirm-text", "#older-than"):
            self.query_one(w).disabled = True
        bar = self.query_one("#delete-progress", ProgressBar)
        bar.display = True
        bar.update(total=len(plan.keys), progress=0)
        store = self.app.workspace.store

        def job(ctx):
            from s3rb_tui.engine.ops.clean import run_clean

            return run_clean(store, plan, ctx)

        # the app's one job runner: the clean is listed on Jobs and writes to the log
        started = self.app.start_job("clean", f"clean {self.label}", [self.table], job, on_event=self._progressed, on_end=self._ended)
        if started is None:  # read-only: refused (and said so)
            self.dismiss(None)

    def _progressed(self, job) -> None:
        """The job's progress on the dialog's bar (UI thread)."""
        if self.is_attached:
            self.query_one("#delete-progress", ProgressBar).update(progress=job.table(self.table).files)

    def _ended(self, job) -> None:
        """The clean job ended (UI thread): say what it deleted, close with its result."""
        result = job.results[0] if job.results else None
        if result is None:  # the job raised before the clean reported (the runner said why)
            self._deleting = False
            if self.is_attached:
                self.query_one("#plan", Static).update(f"Could not delete: {job.error}")
            return
        details = result.details
        if details.get("errors"):
            first = details["errors"][0]
            self.app.notify(f"{len(details['errors'])} file(s) could not be deleted: {first['key']}: {first['code']} {first['message']}",
                            title="clean", severity="error", timeout=15)
        self.app.notify(f"{self.table}: deleted {details.get('deleted', 0):,} of {details.get('planned', 0):,} file(s), "
                        f"freed {size(details.get('bytes_freed', 0))}", title="clean")
        if self.is_attached:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        if self._deleting:
            self.notify("deletion in progress; it finishes the planned keys", severity="warning")
            return
        self.dismiss(None)
