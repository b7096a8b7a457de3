"""Help for the screen the operator was on: what it shows, and every key (from its Bindings)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from s3rb_tui.tui.palette import bindings_of


def _key_table(title: str, node, app) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    for b in bindings_of(type(node)):
        name = b.action.split("(", 1)[0]
        if not b.description or not node.check_action(name, ()) or not app.check_action(name, ()):
            continue
        keys = " / ".join(app.get_key_display(Binding(k.strip(), b.action)) for k in b.key.split(","))
        t.add_row(keys, b.description)
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, for_screen) -> None:
        super().__init__()
        self.for_screen = for_screen

    def compose(self) -> ComposeResult:
        s = self.for_screen
        name = s.__class__.__name__.replace("Screen", "")
        with VerticalScroll(classes="dialog help"):
            yield Static(Text(f"Help — {name}", style="bold"))
            yield Static(getattr(s, "HELP", "") or "", classes="help-text")
            yield Static(_key_table(f"{name} keys", s, self.app))
            yield Static(_key_table("Everywhere", self.app, self.app))
            yield Static(
                "ctrl+p opens the command palette: every action of every screen, named with its screen, "
                "searchable. Esc closes dialogs. "
                "The mouse works for buttons, tables and the tree." + ("\nRead-only console: state-changing actions are hidden." if self.app.readonly else ""),
                classes="note",
            )

    def action_dismiss(self) -> None:
        self.dismiss()
