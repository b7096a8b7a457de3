"""A detail view: named values (a key, an error, a timestamp) the operator can copy, and text
below them (a job's log lines), all wrapped so nothing is cut.

``c`` (or Enter) copies the highlighted value to the terminal's clipboard with Textual's
``copy_to_clipboard`` (an OSC 52 sequence: it works over SSH, in tmux with ``set-clipboard on``,
and in most terminals; macOS Terminal ignores it).
"""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable


class DetailDialog(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="detail.close"),
        Binding("c", "copy", "Copy value", id="detail.copy"),
    ]

    def __init__(self, title: str, fields: Iterable[tuple[str, str]], lines: Iterable[Text | str] = (), lines_title: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = [(name, "" if value is None else str(value)) for name, value in fields]
        self.lines = list(lines)
        self.lines_title = lines_title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Label(self.title_text, classes="dialog-title")
            yield ListTable((ListColumn("name", "Field"), ListColumn("value", "Value")), id="detail-fields")
            yield Static("c copies the highlighted value (OSC 52: the terminal's clipboard)", classes="note")
            with VerticalScroll(id="detail-lines"):
                if self.lines_title:
                    yield Static(Text(self.lines_title, style="bold"))
                for line in self.lines:
                    yield Static(line if isinstance(line, Text) else Text(line), markup=False, classes="detail-line")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        table = self.query_one("#detail-fields", ListTable)
        # values wrap in the dialog: the table shows each one on one line, whole in the copy
        table.set_rows([ListRow(str(i), (Text(name, style="bold"), Text(value)), search_text=name) for i, (name, value) in enumerate(self.fields)])
        table.focus()
        self.query_one("#detail-lines").display = bool(self.lines or self.lines_title)

    def selected_value(self) -> tuple[str, str] | None:
        key = self.query_one("#detail-fields", ListTable).selected_key
        return self.fields[int(key)] if key is not None else None

    def action_copy(self) -> None:
        picked = self.selected_value()
        if picked is None:
            return
        name, value = picked
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {name} ({len(value)} characters) to the clipboard", timeout=3)

    def on_data_table_row_selected(self) -> None:
        self.action_copy()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
