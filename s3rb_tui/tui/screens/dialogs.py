"""Modal confirmations. Focus always starts on Cancel; risky ones ask to type a word first."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

#: the one threshold of the guarded actions (clean, repair): above this many files or rows changed,
#: the operator types the table name to confirm
TYPE_TO_CONFIRM_ABOVE = 100


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no with Cancel focused. With ``type_to_confirm``, Confirm stays disabled until the
    operator has typed that exact text."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        confirm_label: str = "Confirm",
        cancel_label: str = "Cancel",
        type_to_confirm: str | None = None,
        danger: bool = True,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.type_to_confirm = type_to_confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            if self.type_to_confirm:
                yield Label(f"Type {self.type_to_confirm} to confirm:")
                yield Input(placeholder=self.type_to_confirm, id="confirm-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.cancel_label, id="cancel", variant="primary")
                yield Button(
                    self.confirm_label,
                    id="confirm",
                    variant="error" if self.danger else "success",
                    disabled=bool(self.type_to_confirm),
                )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#confirm-text")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value.strip() != self.type_to_confirm

    @on(Input.Submitted, "#confirm-text")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.type_to_confirm:
            self.dismiss(True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class InfoDialog(ModalScreen[None]):
    """A read-only report (text computed by a worker beforehand) with one Close button."""

    BINDINGS = [Binding("escape", "close", "Close", id="info.close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
