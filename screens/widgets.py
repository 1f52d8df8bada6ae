"""Widgets and small helpers shared by every screen.

Status is always shown with a symbol as well as a colour, so the app reads the same under NO_COLOR
and on 16-colour terminals. Times are rendered relative to :func:`now`, which snapshot tests freeze.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

# Status → symbol (see H6 split: ✓ ok/completed/pass, ✗ failed/refused, ● running, ▲ warn,
# ■ alert, ○ pending/none).
SYMBOLS: dict[str, str] = {
    "ok": "✓", "completed": "✓", "complete": "✓", "pass": "✓", "passed": "✓", "succeeded": "✓",
    "failed": "✗", "fail": "✗", "refused": "✗", "error": "✗",
    "running": "●", "started": "●",
    "warn": "▲", "warning": "▲", "pruned": "▲", "stopped": "▲",
    "alert": "■",
    "pending": "○", "queued": "○", "none": "○",
}
STYLES: dict[str, str] = {"✓": "green", "✗": "red", "●": "cyan", "▲": "yellow", "■": "bold red", "○": "dim"}


def symbol(status: str | None) -> str:
    return SYMBOLS.get((status or "none").lower(), "○")


def status_text(status: str | None) -> Any:
    """'✓ completed' as a styled rich Text (the symbol carries the meaning, the colour is a bonus)."""
    from rich.text import Text

    sym = symbol(status)
    return Text(f"{sym} {(status or '-').lower()}", style=STYLES.get(sym, ""))


def now() -> datetime:
    """The current time in UTC; snapshot tests replace this to freeze relative times."""
    return datetime.now(UTC)


def ago(when: datetime | None) -> str:
    """'12s', '5m', '3h', '2d' before now (store timestamps are naive UTC)."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = max(0.0, (now() - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return f"{int(secs)}s ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table cell: short, stable, '-' for missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"
    return str(value)


class Table(DataTable):
    """A DataTable that also moves with j/k/g/G (vim keys) and selects rows by cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "scroll_top", "Top", show=False, id="table.top"),
        Binding("G", "scroll_bottom", "Bottom", show=False, id="table.bottom"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(*args, **kwargs)

    def fill(self, columns: Iterable[str], rows: Iterable[Iterable[Any]], keys: Iterable[str] | None = None) -> None:
        """Replace everything, keeping the cursor on the same row key when it still exists."""
        selected = self.selected_key()
        self.clear(columns=True)
        self.add_columns(*columns)
        keys_list = list(keys) if keys is not None else None
        for i, row in enumerate(rows):
            self.add_row(*row, key=keys_list[i] if keys_list is not None else None)
        if selected is not None and keys_list and selected in keys_list:
            self.move_cursor(row=keys_list.index(selected), animate=False)

    def selected_key(self) -> str | None:
        """Key of the row under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # cursor outside after a refresh  # noqa: BLE001
            return None
        return key.value


class LabeledInput(Static):
    """`label: [input]` on one line; the input gets the id passed in."""

    DEFAULT_CSS = """
    LabeledInput { layout: horizontal; height: 3; }
    LabeledInput > Static { width: 16; padding: 1 1 0 0; text-align: right; }
    LabeledInput > Input { width: 1fr; }
    """

    def __init__(self, label: str, value: str = "", *, input_id: str, placeholder: str = "") -> None:
        super().__init__()
        self._label = label
        self._input = Input(value=value, placeholder=placeholder, id=input_id)

    def compose(self) -> Any:
        yield Static(self._label)
        yield self._input


class Loaded(Message):
    """A worker finished computing ``data`` for ``what``; the screen's handler updates widgets."""

    def __init__(self, what: str, data: Any) -> None:
        super().__init__()
        self.what = what
        self.data = data


def import_service(module: str) -> Any:
    """Import an mlops_tui service lazily (inside a worker); a missing one says 'not available yet'."""
    import importlib

    from mlops_tui.errors import UserError

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"{module} is not available yet ({exc})") from exc


def sparkline(values: list[float], width: int = 20) -> str:
    """A unicode block sparkline of a histogram (fits in a table cell; colour-free)."""
    if not values:
        return ""
    blocks = " ▁▂▃▄▅▆▇█"
    if len(values) > width:  # merge neighbouring bins
        step = len(values) / width
        values = [sum(values[int(i * step):int((i + 1) * step)]) for i in range(width)]
    top = max(values) or 1
    return "".join(blocks[min(8, math.ceil(v / top * 8))] if v > 0 else blocks[0] for v in values)


def call_safely(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a service call; store.StoreError becomes a UserError so the app shows one line."""
    from mlops_tui.errors import UserError
    from store import StoreError

    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        raise UserError(str(exc)) from exc


class BaseScreen(Screen):
    """Base of every screen: Escape goes back, worker failures become one-line notifications.

    Workers only compute and post messages; when one raises, Textual posts Worker.StateChanged to
    the screen (it does not bubble), so the routing lives here, once.
    """

    BINDINGS = [Binding("escape", "back", "Back", id="screen.back")]

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif getattr(self.app, "current_mode", "home") != "home":
            self.app.switch_mode("home")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            for widget in self.query("*"):
                if widget.loading:
                    widget.loading = False
            report_error(self.app, event.worker.error)


def report_error(app: Any, exc: BaseException) -> None:
    """A service error as a notification: UserError/StoreError text as is, anything else with its type."""
    from mlops_tui.errors import UserError
    from store import StoreError

    message = str(exc) if isinstance(exc, UserError | StoreError) else f"{type(exc).__name__}: {exc}"
    app.notify(message.splitlines()[0] if message else type(exc).__name__, severity="error", timeout=8)


class NavBar(Static):
    """One line naming the main screens and their keys, the current one marked: '[3 Runs]'."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def render(self) -> Any:
        from rich.text import Text

        from screens.keymap import MAIN

        app: Any = self.app
        keymap = getattr(app, "_keymap", {})
        default = {"home": "1", "datasets": "2", "runs": "3", "models": "4", "monitoring": "5", "sql": "6"}
        text = Text()
        for mode in MAIN:
            key = keymap.get(f"app.{mode}", default[mode]).split(",")[0]
            label = f"{key} {mode.title() if mode != 'sql' else 'SQL'}"
            if mode == self.current:
                text.append(f"[{label}]", style="bold reverse")
            else:
                text.append(f" {label} ")
            text.append(" ")
        text.append(" ? help  ^p palette", style="dim")
        return text
