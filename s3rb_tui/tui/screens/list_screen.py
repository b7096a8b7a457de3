"""A screen built around one list: ``/`` filters it, ``o`` sorts it by the next column (a click on
a column's header sorts by that column, a second click reverses), Esc clears the filter.

Subclasses compose a ``FilterBar`` (id ``list-filter``) and name their list (``LIST_ID``); a ``ListTable`` is filtered and sorted here, any other list (the Files tree)
overrides ``apply_filter``. ``/`` is a priority binding: see widgets/filter_bar.py for why.
"""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widget import Widget

from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.list_table import ListTable


class ListScreen(ConsoleScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="list.filter", priority=True),
        Binding("o", "sort", "Sort", id="list.sort", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="list.clear_filter", show=False),
    ]
    #: False for lists without columns (the Files tree): no Sort action
    SORTABLE = True
    #: the id of the screen's list (the one / filters and o sorts)
    LIST_ID = ""

    def list_widget(self) -> Widget:
        return self.query_one(f"#{self.LIST_ID}")

    def filter_bar(self) -> FilterBar:
        return self.query_one("#list-filter", FilterBar)

    @classmethod
    def action_available(cls, app, action: str) -> bool:
        if action == "sort" and not cls.SORTABLE:
            return False
        return super().action_available(app, action)

    def action_filter(self) -> None:
        bar = self.filter_bar()
        if bar.has_focus:  # a "/" typed into the filter itself (a path, a pattern)
            bar.insert_text_at_cursor("/")
            return
        bar.open()

    def action_clear_filter(self) -> None:
        bar = self.filter_bar()
        if bar.value or bar.is_open:
            bar.action_close()

    def action_sort(self) -> None:
        widget = self.list_widget()
        if isinstance(widget, ListTable):
            widget.sort_next()
            self.notify(f"sorted by {widget.sort_description}", timeout=2)

    def apply_filter(self, text: str) -> None:
        widget = self.list_widget()
        if isinstance(widget, ListTable):
            widget.set_filter(text)

    @on(FilterBar.Changed, "#list-filter")
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        self.apply_filter(event.value)

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self.apply_filter(event.bar.value)
        self.set_focus(self.list_widget())
