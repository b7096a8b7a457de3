"""The / filter of a list: an Input that stays hidden until it is opened.

Opening it must take the keys typed right after ``/`` (an operator types fast, a terminal without
bracketed paste delivers a paste as keys). Textual forwards each key to the widget focused *when the
app reads it*, and ``Widget.focus()`` only moves focus later (``call_later``): keys already read
went to the list and bubbled to the screen's bindings — ``/ s t o`` started a sync. So ``/`` is a
priority binding (run as the app reads it, before the next key is read) and ``open`` moves the
focus synchronously (``Screen.set_focus``): every later key and a bracketed paste reach the Input.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Clear filter", show=False)]

    class Closed(Message):
        """The operator left the filter (Enter keeps the text, Esc clears it)."""

        def __init__(self, bar: "FilterBar") -> None:
            super().__init__()
            self.bar = bar

        @property
        def control(self) -> "FilterBar":
            return self.bar

    def __init__(self, placeholder: str = "/ filter", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self.display = False

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def open(self) -> None:
        """Show and focus now (not on a later tick: see the module docstring)."""
        self.display = True
        self.screen.set_focus(self)

    def action_close(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Closed(self))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self:
            self.display = bool(self.value)
            self.post_message(self.Closed(self))
