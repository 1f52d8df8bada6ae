"""Filling a table with column widths measured here, not on the table's next idle.

DataTable measures auto-width columns lazily (on idle). When a screen refills a table twice in
quick succession (a list, then its verdicts; a selection moving), that measurement was sometimes
skipped and columns stayed as narrow as their headers ("■ aler"). Measuring the cells up front
makes the widths exact and the snapshots stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text

from screens.widgets import Table

MAX_WIDTH = 60


def _width(value: Any) -> int:
    text = value if isinstance(value, Text) else Text(str(value))
    return max((Text(line).cell_len for line in text.plain.splitlines()), default=0)


def fill_sized(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
               keys: Iterable[str] | None = None) -> None:
    """Replace the table's content; each column as wide as its widest cell (capped), cursor kept."""
    rows = [list(r) for r in rows]
    keys_list = list(keys) if keys is not None else None
    selected = table.selected_key()
    widths = [max([_width(c), *(_width(r[i]) for r in rows if i < len(r))]) for i, c in enumerate(columns)]
    table.clear(columns=True)
    for label, width in zip(columns, widths, strict=True):
        table.add_column(label, width=min(width, MAX_WIDTH))
    for i, row in enumerate(rows):
        table.add_row(*row, key=keys_list[i] if keys_list is not None else None)
    if selected is not None and keys_list and selected in keys_list:
        table.move_cursor(row=keys_list.index(selected), animate=False)
