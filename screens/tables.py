"""The one table widget every screen uses: vim keys, stable widths, cursor kept across refreshes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.errors import MarkupError
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable


def as_cell(value: Any) -> Any:
    """A cell that shows exactly its text. DataTable reads a str cell as Rich markup, and cells hold
    users' names and values: 'price[usd]' would lose '[usd]', ':b:' become an emoji, '[/]' crash
    the screen. Such a string becomes Text; every other str stays a str (what tests and screens
    read back), and styled cells are Text already."""
    if not isinstance(value, str):
        return value
    try:
        unchanged = Text.from_markup(value).plain == value
    except MarkupError:
        unchanged = False
    return value if unchanged else Text(value)


def _lines(value: Any) -> list[str]:
    """The lines of a cell (str or Rich Text)."""
    return (value.plain if isinstance(value, Text) else str(value)).splitlines()


def _cell_width(value: Any) -> int:
    """Terminal cells of the widest line of a cell (str or Rich Text)."""
    return max((Text(line).cell_len for line in _lines(value)), default=0)


class Table(DataTable[Any]):
    """A DataTable that also moves with j/k/g/G (vim keys) and selects rows by cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "scroll_top", "Top", show=False, id="table.top"),
        Binding("G", "scroll_bottom", "Bottom", show=False, id="table.bottom"),
    ]

    MAX_COLUMN_WIDTH = 60

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(*args, **kwargs)
        self._filled: tuple[list[str], list[list[Any]], list[str] | None] | None = None

    def fill(self, columns: Iterable[str], rows: Iterable[Iterable[Any]], keys: Iterable[str] | None = None,
             *, tall: bool = False) -> None:
        """Replace everything, keeping the cursor on the same row key when it still exists.
        ``tall``: a row is as tall as its cell of most lines (a version's aliases, one a line);
        otherwise a row is one line (a user's text with newlines, in a preview, stays on one).

        Column widths are computed here from the cells, not left to DataTable's idle-time sizing,
        so what is drawn never depends on when the frame is taken (stable snapshots)."""
        labels = list(columns)
        cells = [list(r) for r in rows]
        keys_list = list(keys) if keys is not None else None
        if (labels, cells, keys_list) == self._filled:
            return  # a live refresh with nothing new: keep cursor, scroll and marks untouched
        selected = self.selected_key()
        self.clear(columns=True)
        self._filled = (labels, cells, keys_list)
        for i, label in enumerate(labels):
            width = max([_cell_width(label)] + [_cell_width(r[i]) for r in cells if i < len(r)])
            self.add_column(as_cell(label), width=min(width, self.MAX_COLUMN_WIDTH))
        for i, row in enumerate(cells):
            height = max([1] + [len(_lines(c)) for c in row]) if tall else 1
            self.add_row(*map(as_cell, row), key=keys_list[i] if keys_list is not None else None, height=height)
        if selected is not None and keys_list and selected in keys_list:
            self.move_cursor(row=keys_list.index(selected), animate=False)

    def clear(self, columns: bool = False) -> Table:
        self._filled = None  # anything not drawn by fill() makes the next fill() redraw
        return super().clear(columns)

    def update_cell(self, *args: Any, **kwargs: Any) -> None:
        self._filled = None
        super().update_cell(*args, **kwargs)

    def selected_key(self) -> str | None:
        """Key of the row under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # cursor outside after a refresh  # noqa: BLE001
            return None
        return key.value


class TextPane(VerticalScroll):
    """A pane of text longer than the screen (a run's outcome, its importances): it takes the focus
    when its tab is shown (nav.show_tab) and j/k scroll it, as they move a table, besides the
    arrows and the page keys."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="pane.down"),
        Binding("k", "scroll_up", "Up", show=False, id="pane.up"),
    ]
