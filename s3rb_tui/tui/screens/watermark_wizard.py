"""Guided watermark reset & set: choose → timestamp (validated as you type) → preview → confirm
→ apply (recorded as manual_cli) → offer the follow-up ``--redshift-only`` load.

The preview is the engine's plan (engine/ops/watermark_changes.py); applying writes exactly that plan with
compare-and-swap, so a watermark that moved meanwhile is never overwritten.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ContentSwitcher, Input, Label, RadioButton, RadioSet, Static

from s3rb_tui.display import count, data_timestamp, size
from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.tui.messages import Loaded


def validate_timestamp(text: str) -> str | None:
    """None when ``text`` is a timestamp ``watermark set --timestamp`` accepts (the engine's one
    rule, engine/core/timestamps.parse_timestamp), else what is wrong and how to write it."""
    from s3rb_tui.engine.core.errors import UsageError
    from s3rb_tui.engine.core.timestamps import parse_timestamp

    if not text.strip():
        return "enter a timestamp like 2025-08-09 20:00:01"
    try:
        parse_timestamp(text)
    except UsageError as e:  # the engine's hint names --timestamp: here it is this field
        return f"{e.message}: use YYYY-MM-DD HH:MM:SS"
    return None


class WatermarkWizard(ModalScreen[dict | None]):
    """Dismisses with ``{"applied": bool, "load": bool, "plan": WatermarkPlan}`` or None."""

    BINDINGS = [Binding("escape", "close", "Cancel", id="wizard.cancel")]

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table
        self.plan = None
        self.operation = "set"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wizard"):
            yield Label(f"Watermark: reset or set — {self.table}", classes="dialog-title")
            with ContentSwitcher(initial="step-choose", id="steps"):
                with Vertical(id="step-choose"):
                    yield Static("1/4  What do you want to do?")
                    with RadioSet(id="operation"):
                        yield RadioButton("Set a start timestamp (recorded as manual_cli)", value=True, id="op-set")
                        yield RadioButton("Reset (fresh start: the next backup takes the whole table)", id="op-reset")
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Cancel", id="cancel-1")
                        yield Button("Next", id="next-1", variant="primary")
                with Vertical(id="step-timestamp"):
                    yield Static("2/4  Extraction restarts after this source timestamp (UTC, the cursor column's value):")
                    yield Input(placeholder="YYYY-MM-DD HH:MM:SS", id="timestamp")
                    yield Static("enter a timestamp like 2025-08-09 20:00:01", id="timestamp-problem", classes="problem")
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Cancel", id="cancel-2")
                        yield Button("Preview", id="next-2", variant="primary", disabled=True)
                with Vertical(id="step-preview"):
                    yield Static("3/4  Preview", classes="step-title")
                    yield Static("computing the plan…", id="preview", markup=False)
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Cancel", id="cancel-3", variant="primary")
                        yield Button("Apply", id="apply", variant="error", disabled=True)
                with Vertical(id="step-done"):
                    yield Static("", id="done", markup=False)
                    with Horizontal(classes="dialog-buttons"):
                        yield Button("Not now", id="close", variant="primary")
                        yield Button("Run --redshift-only load now", id="load", variant="success")

    def on_mount(self) -> None:
        self.query_one("#operation", RadioSet).focus()

    def _step(self, name: str) -> None:
        self.query_one("#steps", ContentSwitcher).current = name

    # --- step 1 ---------------------------------------------------------------------------
    @on(Button.Pressed, "#next-1")
    def _chosen(self) -> None:
        self.operation = "reset" if self.query_one("#op-reset", RadioButton).value else "set"
        if self.operation == "set":
            self._step("step-timestamp")
            self.query_one("#timestamp", Input).focus()
        else:
            self._preview()

    # --- step 2 ---------------------------------------------------------------------------
    @on(Input.Changed, "#timestamp")
    def _validate(self, event: Input.Changed) -> None:
        problem = validate_timestamp(event.value)
        self.query_one("#timestamp-problem", Static).update(problem or "✓ valid")
        self.query_one("#timestamp-problem", Static).set_class(problem is None, "ok")
        self.query_one("#next-2", Button).disabled = problem is not None

    @on(Input.Submitted, "#timestamp")
    @on(Button.Pressed, "#next-2")
    def _timestamp_done(self) -> None:
        if validate_timestamp(self.query_one("#timestamp", Input).value) is None:
            self._preview()

    # --- step 3 ---------------------------------------------------------------------------
    def _preview(self) -> None:
        self._step("step-preview")
        self.query_one("#apply", Button).disabled = True
        self.query_one("#cancel-3", Button).focus()
        self.query_one("#preview", Static).update("computing the plan…")
        self._compute_plan(self.operation, self.query_one("#timestamp", Input).value.strip())

    @work(thread=True, exclusive=True, group="wizard", exit_on_error=False)
    def _compute_plan(self, operation: str, timestamp: str) -> None:
        from s3rb_tui.engine.ops import watermark_changes

        ws = self.app.workspace
        try:
            ref = ws.table_ref(self.table)
            plan = watermark_changes.plan_set(ws, ref, timestamp) if operation == "set" else watermark_changes.plan_reset(ws, ref)
        except Exception as e:
            self.post_message(Loaded("plan", None, e))
            return
        self.post_message(Loaded("plan", plan))

    def _apply(self, plan) -> None:
        """Through the app's one job runner: the change is listed on Jobs and writes to the log."""
        ws = self.app.workspace

        def job(ctx):
            from s3rb_tui.engine.ops import watermark_changes

            return watermark_changes.run_plan(ws, plan, ctx)

        title = f"watermark {plan.operation} {plan.table}" + (f" {plan.timestamp}" if plan.operation == "set" else "")
        if self.app.start_job("watermark", title, [plan.table.full_name], job, on_end=self._ended) is None:
            self.dismiss(None)

    def _ended(self, job) -> None:
        if not self.is_attached:
            return
        if job.status == JobStatus.SUCCESS:
            self._applied()
        else:  # the runner showed the error
            self.query_one("#preview", Static).update(f"Could not apply: {job.error or job.status}")

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.error is not None:
            self.app.show_error(f"watermark {message.what} failed", message.error)
            self.query_one("#preview", Static).update(f"Could not {'compute the plan' if message.what == 'plan' else 'apply'}: {message.error}")
            return
        if message.what == "plan":
            self.plan = message.data
            self.query_one("#preview", Static).update(describe_plan(message.data))
            self.query_one("#apply", Button).disabled = False
            self.query_one("#cancel-3", Button).focus()

    def _applied(self) -> None:
        p = self.plan
        text = (
            f"4/4  Applied: {p.table}\nwatermark set to {p.timestamp} (manual_cli)."
            if p.operation == "set"
            else f"4/4  Applied: {p.table}\nwatermark reset; the next backup is a full one."
        )
        files = (p.files_to_load if p.files_to_load is not None else p.files_after) if p.operation == "set" else 0
        if p.operation == "set" and files:
            text += f"\n\nA --redshift-only load would now pick up {files} file(s). Run it?"
        elif p.operation == "set":
            text += "\n\nNo committed file after it is waiting to load: a --redshift-only load would load nothing."
        self.query_one("#done", Static).update(text)
        # offered only when it would load something
        self.query_one("#load", Button).display = bool(files) and not self.app.readonly
        self._step("step-done")
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#apply")
    def _confirm_apply(self) -> None:
        if self.plan is not None:
            self.query_one("#apply", Button).disabled = True
            self._apply(self.plan)

    @on(Button.Pressed, "#load")
    def _load(self) -> None:
        self.dismiss({"applied": True, "load": True, "plan": self.plan})

    @on(Button.Pressed, "#close")
    def _close_done(self) -> None:
        self.dismiss({"applied": True, "load": False, "plan": self.plan})

    @on(Button.Pressed, "#cancel-1, #cancel-2, #cancel-3")
    def action_close(self) -> None:
        applied = self.query_one("#steps", ContentSwitcher).current == "step-done"
        self.dismiss({"applied": applied, "load": False, "plan": self.plan} if applied else None)


def describe_plan(plan: Any) -> str:
    cur = plan.current
    lines = []
    if plan.operation == "set":
        lines.append(f"Set {plan.table} to start after {plan.timestamp} (backup strategy manual_cli).")
    else:
        lines.append(f"Reset {plan.table}: extraction position and counts start afresh.")
    lines.append(
        "Now: "
        + (f"last data timestamp {data_timestamp(cur.last_data_timestamp)}, cumulative {cur.cumulative.extracted:,} extracted / {cur.cumulative.loaded:,} loaded" if cur else "no watermark yet")
    )
    lines.append("")
    if plan.operation == "set":
        rows = "unknown (source not reachable)" if plan.source_rows_after is None else f"{count(plan.source_rows_after)}"
        lines.append(f"Source rows after it:        {rows}")
        lines.append(f"Store files written after it: {plan.files_after} ({size(plan.bytes_after)})")
        to_load = "unknown (warehouse not reachable)" if plan.files_to_load is None else str(plan.files_to_load)
        lines.append(f"--redshift-only would load:   {to_load} file(s)")
    else:
        lines.append(f"Committed files kept in the store: {plan.files_after} ({size(plan.bytes_after)})")
    for note in plan.notes:
        lines.append(f"• {note}")
    return "\n".join(lines)
