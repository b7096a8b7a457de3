"""The console's list: a DataTable that filters, sorts, groups and marks rows, and whose selection
follows a row's key through every re-render.

Screens hand it whole rows (``set_rows``) and read the selection by key (``selected_key``, the
``ListTable.Selected`` message); they never index rows by position. Invariants:

- a re-render (new data, filter, sort) keeps the row the operator had selected when it is still
  shown, and announces a selection only when the selected key really changed: the highlight
  events DataTable posts while it is cleared and refilled are answered from the cursor's position
  when they are handled, so a stale "row 0" never moves the screen to another table;
- column widths are measured here from the rows; ``update_rows`` with the same keys in the same
  order only rewrites cells, and re-renders when a value outgrew its column (a count that grows
  while a job runs is never cut);
- group header rows (``group`` set on rows) are not selections: ``selected_key`` is None on them,
  marking one marks its whole group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

GROUP_PREFIX = "\x00group:"
MARK = "● "
NO_MARK = "  "


@dataclass(frozen=True)
class ListColumn:
    key: str
    label: str
    width: int | None = None  # None: as wide as the widest cell
    #: with a ``wrap_column``: at most this wide, longer cells wrap (a long path in Config)
    max_width: int | None = None
    #: the wrap column is never narrower than this (None: 16)
    min_width: int | None = None
    #: the wrap column leaves no room for it: a trailing column (after the wrap column) scrolls
    #: into view when the screen is narrow, and the wrap column is then only as wide as its
    #: widest cell (up to ``max_width``), so its cells do not fold while the screen has room for them
    trailing: bool = False


@dataclass
class ListRow:
    key: str
    cells: tuple[Any, ...]
    #: per column, what the column sorts by (default: the cell's plain text)
    sort_values: tuple[Any, ...] | None = None
    #: what the / filter matches (default: every cell's plain text)
    search_text: str | None = None
    group: str | None = None
    #: plain-text view of the cells, computed once
    _plain: tuple[str, ...] = field(default=(), repr=False)

    def plain(self) -> tuple[str, ...]:
        if not self._plain:
            self._plain = tuple(c.plain if isinstance(c, Text) else str(c) for c in self.cells)
        return self._plain

    def sort_value(self, column: int) -> Any:
        if self.sort_values is not None and column < len(self.sort_values):
            return self.sort_values[column]
        plain = self.plain()
        return plain[column].lower() if column < len(plain) else ""

    def matches(self, words: list[str]) -> bool:
        text = (self.search_text if self.search_text is not None else " ".join(self.plain())).lower()
        return all(w in text for w in words)


def _sort_key(value: Any) -> tuple:
    """None last, numbers before text, so mixed columns never raise."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, str(value))


class ListTable(DataTable):
    """See the module docstring. ``columns_spec`` fixes the columns; ``markable`` adds marks."""

    class Selected(Message):
        """The selected row's key changed (None: nothing, or a group header, is selected)."""

        def __init__(self, table: "ListTable", key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "ListTable":
            return self.table

    def __init__(
        self,
        columns: Iterable[ListColumn],
        *,
        markable: bool = False,
        wrap_column: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        zebra_stripes: bool = False,
        cursor_type: str = "row",
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type=cursor_type, zebra_stripes=zebra_stripes)
        self.columns_spec: list[ListColumn] = list(columns)
        self.markable = markable
        #: this column takes the width the others leave and its cells wrap (rows grow), so a long
        #: text (a setting's meaning) is shown whole instead of cut at the screen's edge
        self.wrap_column = wrap_column
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._rows: list[ListRow] = []
        self._shown: list[str] = []  # keys in display order (group rows included)
        self._announced: str | None = None
        self._group_rows: dict[str, list[str]] = {}
        self._ready = False  # rows given before the widget is mounted are drawn on mount

    # --- data -----------------------------------------------------------------------------
    @property
    def all_rows(self) -> list[ListRow]:
        return list(self._rows)

    @property
    def shown_keys(self) -> list[str]:
        """Keys of the data rows shown, in display order (group headers left out)."""
        return [k for k in self._shown if not k.startswith(GROUP_PREFIX)]

    @property
    def shown_groups(self) -> list[str]:
        """The group headers shown, in display order."""
        return [k[len(GROUP_PREFIX):] for k in self._shown if k.startswith(GROUP_PREFIX)]

    def set_rows(self, rows: Iterable[ListRow], *, select: str | None = None) -> None:
        """Replace every row; keep the selection (or select ``select`` when it is shown)."""
        self._rows = list(rows)
        known = {r.key for r in self._rows}
        self.marked &= known
        self._render(select)

    def update_rows(self, rows: Iterable[ListRow]) -> None:
        """New values for the rows: cells are rewritten in place when the rows shown stay the same
        (no flicker, no scroll jump), else the list is re-rendered."""
        new = list(rows)
        old_keys = [r.key for r in self._rows]
        self._rows = new
        if [r.key for r in new] != old_keys or self.sort_column is not None or self.filter_text:
            self._render(None)
            return
        if not self._ready:
            return
        if self._widths(self._ordered()) != [c.width for c in self.columns.values()]:
            self._render(None)  # a value outgrew its column (a count while a job runs): never cut it
            return
        by_key = {r.key: r for r in new}
        for key in self.shown_keys:
            row = by_key[key]
            for column, value in zip(self.columns, self._cells(row)):
                self.update_cell(key, column, value)

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._render(None)

    def sort_by(self, column: int | None, reverse: bool | None = None) -> None:
        if column is None or column >= len(self.columns_spec):
            self.sort_column, self.sort_reverse = None, False
        else:
            if reverse is None:
                reverse = not self.sort_reverse if column == self.sort_column else False
            self.sort_column, self.sort_reverse = column, reverse
        self._render(None)

    def sort_next(self) -> None:
        """The next column (ascending), after the last one the original order."""
        nxt = 0 if self.sort_column is None else self.sort_column + 1
        self.sort_by(nxt if nxt < len(self.columns_spec) else None, False)

    @property
    def sort_description(self) -> str:
        if self.sort_column is None:
            return "unsorted"
        return f"{self.columns_spec[self.sort_column].label} {'descending' if self.sort_reverse else 'ascending'}"

    # --- selection and marks -----------------------------------------------------------------
    @property
    def selected_key(self) -> str | None:
        key = self._cursor_key()
        return None if key is None or key.startswith(GROUP_PREFIX) else key

    @property
    def selected_group(self) -> str | None:
        key = self._cursor_key()
        if key is not None and key.startswith(GROUP_PREFIX):
            return key[len(GROUP_PREFIX):]
        row = self._row(key) if key else None
        return row.group if row else None

    def select(self, key: str | None) -> bool:
        """Move the cursor to ``key``'s row; False when it is not shown."""
        if key not in self._shown:
            return False
        self.move_cursor(row=self._shown.index(key))
        self._announce()
        return True

    def toggle_mark(self) -> None:
        """Mark or unmark the selected row, or every row of the selected group header."""
        key = self._cursor_key()
        if key is None:
            return
        if key.startswith(GROUP_PREFIX):
            members = self._group_rows.get(key[len(GROUP_PREFIX):], [])
            if all(k in self.marked for k in members):
                self.marked.difference_update(members)
            else:
                self.marked.update(members)
        else:
            self.marked.symmetric_difference_update({key})
        self._render(None)

    def marked_keys(self) -> list[str]:
        """Marked rows in their data order."""
        return [r.key for r in self._rows if r.key in self.marked]

    # --- rendering --------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._ready = True
        self._render(None)

    def _row(self, key: str | None) -> ListRow | None:
        return next((r for r in self._rows if r.key == key), None)

    def _cursor_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._shown) and self.row_count:
            return self._shown[self.cursor_row]
        return None

    def _labels(self) -> list[Text]:
        out = []
        for i, c in enumerate(self.columns_spec):
            label = c.label
            if i == self.sort_column:
                label += " ▼" if self.sort_reverse else " ▲"
            out.append(Text(label))
        return out

    def _cells(self, row: ListRow) -> tuple:
        cells = list(row.cells)
        if self.markable and cells:
            first = cells[0] if isinstance(cells[0], Text) else Text(str(cells[0]))
            mark = Text(MARK, style="bold green") if row.key in self.marked else Text(NO_MARK)
            cells[0] = mark + first
        return tuple(cells)

    def _ordered(self) -> list[ListRow]:
        words = self.filter_text.lower().split()
        rows = [r for r in self._rows if r.matches(words)] if words else list(self._rows)
        if self.sort_column is not None:
            col = self.sort_column
            rows.sort(key=lambda r: _sort_key(r.sort_value(col)), reverse=self.sort_reverse)
        return rows

    def _render(self, select: str | None) -> None:
        if not self._ready:
            return
        candidates = (select, self._cursor_key(), self._announced)
        rows = self._ordered()
        self.clear(columns=True)
        widths = self._widths(rows)
        for spec, label, width in zip(self.columns_spec, self._labels(), widths):
            self.add_column(label, width=width, key=spec.key)
        height = None if self.wrap_column else 1
        self._shown = []
        self._group_rows = {}
        groups: dict[str | None, list[ListRow]] = {}
        for r in rows:
            groups.setdefault(r.group, []).append(r)
        grouped = len(groups) > 1 or None not in groups
        for group in sorted(groups, key=lambda g: (g is None, g or "")):
            members = groups[group]
            if grouped and group is not None:
                key = GROUP_PREFIX + group
                self._group_rows[group] = [m.key for m in members]
                header = Text(f"▾ {group}", style="bold") + Text(f"  {len(members)}", style="dim")
                if self.markable:
                    marked = sum(m.key in self.marked for m in members)
                    header = Text(MARK if marked == len(members) else NO_MARK, style="bold green") + header
                self.add_row(header, *([""] * (len(self.columns_spec) - 1)), key=key, height=1)
                self._shown.append(key)
            for r in members:
                self.add_row(*self._cells(r), key=r.key, height=height)
                self._shown.append(r.key)
        if self._shown:
            want = next((k for k in candidates if k is not None and k in self._shown), None)
            if want is not None:
                index = self._shown.index(want)
            else:
                index = next((i for i, k in enumerate(self._shown) if not k.startswith(GROUP_PREFIX)), 0)
            self.move_cursor(row=index)
        self._announce()

    def _widths(self, rows: list[ListRow]) -> list[int | None]:
        """Every column's width, measured here from the rows (the label, with room for the sort
        mark, and the widest cell): DataTable's own auto width waits for an idle moment of the
        widget, and a list re-rendered in the background could be drawn cut until then."""
        widths: list[int | None] = []
        mark = len(MARK) if self.markable else 0
        for i, c in enumerate(self.columns_spec):
            cells = [cell_len(r.plain()[i]) for r in rows if i < len(r.plain())]
            label = cell_len(c.label) + (2 if i == self.sort_column else 0)  # " ▲" when sorted by it
            natural = max([label] + [w + (mark if i == 0 else 0) for w in cells])
            if i == 0 and self._group_rows_for(rows):
                natural = max(natural, max(cell_len(f"▾ {g}  {n}") + mark for g, n in self._group_rows_for(rows).items()))
            widths.append(c.width or (min(natural, c.max_width) if c.max_width and self.wrap_column else natural))
        if not self.wrap_column or not self.size.width:
            return widths
        wrap = next(i for i, c in enumerate(self.columns_spec) if c.key == self.wrap_column)
        used = sum(w + 2 * self.cell_padding for i, w in enumerate(widths) if i != wrap and w and not self.columns_spec[i].trailing)
        scrollbar = 2
        room = self.size.width - used - 2 * self.cell_padding - scrollbar
        if any(c.trailing for c in self.columns_spec):
            room = min(room, widths[wrap] or room)  # the trailing columns get what its widest cell leaves
        widths[wrap] = max(room, self.columns_spec[wrap].min_width or 16)
        return widths

    @staticmethod
    def _group_rows_for(rows: list[ListRow]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in rows:
            if r.group is not None:
                counts[r.group] = counts.get(r.group, 0) + 1
        return counts

    def on_resize(self) -> None:
        if self.wrap_column:
            self._render(None)

    def _announce(self) -> None:
        key = self.selected_key
        if key != self._announced:
            self._announced = key
            self.post_message(self.Selected(self, key))

    # --- events ---------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # answered from where the cursor is now, not from the event's (possibly stale) row
        if event.data_table is self:
            self._announce()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table is self:
            event.stop()
            self.sort_by(event.column_index)
