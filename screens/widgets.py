"""Widgets and small helpers shared by every screen.

Status is always shown with a symbol as well as a colour, so the app reads the same under NO_COLOR
and on 16-colour terminals. Times are rendered relative to :func:`now`, which snapshot tests freeze.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from mlops_tui.serving.sweep import sweep_jobs

# Status → symbol (see H6 split: ✓ ok/completed/pass, ✗ failed/refused, ● running, ▲ warn,
# ■ alert, ○ pending/none).
SYMBOLS: dict[str, str] = {
    "ok": "✓", "completed": "✓", "complete": "✓", "pass": "✓", "passed": "✓", "succeeded": "✓",
    "failed": "✗", "fail": "✗", "refused": "✗", "error": "✗",
    "running": "●", "started": "●",
    "warn": "▲", "warning": "▲", "pruned": "▲", "stopped": "▲", "stopping": "▲",
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
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e12:
            return f"{int(value):,}"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"
    return str(value)


def _cell_width(value: Any) -> int:
    """Terminal cells of the widest line of a cell (str or Rich Text)."""
    from rich.text import Text

    text = value if isinstance(value, Text) else Text(str(value))
    return max((Text(line).cell_len for line in text.plain.splitlines()), default=0)


class Table(DataTable):
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

    def fill(self, columns: Iterable[str], rows: Iterable[Iterable[Any]], keys: Iterable[str] | None = None) -> None:
        """Replace everything, keeping the cursor on the same row key when it still exists.

        Column widths are computed here from the cells, not left to DataTable's idle-time sizing,
        so what is drawn never depends on when the frame is taken (stable snapshots)."""
        columns = list(columns)
        rows = [list(r) for r in rows]
        keys_list = list(keys) if keys is not None else None
        if (columns, rows, keys_list) == getattr(self, "_filled", None):
            return  # a live refresh with nothing new: keep cursor, scroll and marks untouched
        selected = self.selected_key()
        self.clear(columns=True)
        self._filled = (columns, rows, keys_list)
        for i, label in enumerate(columns):
            width = max([_cell_width(label)] + [_cell_width(r[i]) for r in rows if i < len(r)])
            self.add_column(label, width=min(width, self.MAX_COLUMN_WIDTH))
        for i, row in enumerate(rows):
            self.add_row(*row, key=keys_list[i] if keys_list is not None else None)
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


class Loaded(Message):
    """A worker finished computing ``data`` for ``what``; the screen's handler updates widgets."""

    def __init__(self, what: str, data: Any) -> None:
        super().__init__()
        self.what = what
        self.data = data


def recent_jobs(ws: Any, limit: int) -> list[Any]:
    """The latest scoring jobs, newest first. When one is listed as running, jobs whose process
    died (kill -9) are failed first, as the CLI does (the sweep's own read is skipped when none runs)."""
    jobs = ws.store.jobs.list(limit=limit)
    if any(j.status == "running" for j in jobs) and sweep_jobs(ws):
        jobs = ws.store.jobs.list(limit=limit)
    return jobs


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


class RoutesWorkerErrors:
    """Mixin for screens: a worker that raises clears the loading indicators and becomes a one-line
    notification. Textual posts Worker.StateChanged to the screen (it does not bubble), so the
    routing lives here, once, for normal and modal screens alike."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            for widget in self.query("*"):  # type: ignore[attr-defined]
                if widget.loading:
                    widget.loading = False
            report_error(self.app, event.worker.error)  # type: ignore[attr-defined]


class BaseScreen(RoutesWorkerErrors, Screen):
    """Base of every main screen: Escape goes back (to the previous screen, else home)."""

    BINDINGS = [Binding("escape", "back", "Back", id="screen.back")]

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif getattr(self.app, "current_mode", "home") != "home":
            self.app.switch_mode("home")


def report_error(app: Any, exc: BaseException) -> None:
    """A service error as a notification: UserError/StoreError text as is, anything else with its type."""
    from mlops_tui.store import StoreError

    from mlops_tui.errors import UserError

    message = str(exc) if isinstance(exc, UserError | StoreError) else f"{type(exc).__name__}: {exc}"
    app.notify(message.splitlines()[0] if message else type(exc).__name__, severity="error", timeout=8)


class NavBar(Static):
    """One line naming the main screens and their keys, the current one marked: '[3 Runs]'."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def render(self) -> Any:
        from mlops_tui.screens.keymap import MAIN
        from rich.text import Text

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


@dataclass(frozen=True)
class FormField:
    """One input of a FormScreen; ``options`` makes it a Select (value, label) instead of an Input."""

    id: str
    label: str
    value: str = ""
    placeholder: str = ""
    options: tuple[tuple[str, str], ...] = ()


class FormScreen(RoutesWorkerErrors, ModalScreen[dict[str, str] | None]):
    """A small keyboard form: Tab/↑↓ between fields, ctrl+s submits, Escape cancels. Enter submits
    (``enter_submits``, for forms whose defaults are usually right) or moves to the next field and
    submits on the last. Dismisses with {field id: value} (strings; the caller validates them).
    Short labels sit left of their input; a long one goes above it."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > #form-box { width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface; }
    FormScreen .form-row { height: 1; margin-bottom: 1; }
    FormScreen .form-row > Label { width: 14; padding: 0 1 0 0; text-align: right; }
    FormScreen .form-row > Input, FormScreen .form-row > Select { width: 1fr; }
    FormScreen .form-long { height: auto; margin-bottom: 1; }
    FormScreen .form-long > Label { color: $text-muted; }
    FormScreen #form-help { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="form.submit"),
        Binding("down", "app.focus_next", "Next field", show=False, id="form.next"),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="form.previous"),
    ]
    SHORT_LABEL = 13

    def __init__(self, title: str, fields: list[FormField], *, help_text: str = "",
                 enter_submits: bool = True) -> None:
        super().__init__()
        self.form_title = title
        self.fields = fields
        self.help_text = help_text or ("Enter/ctrl+s submit · Esc cancel · Tab/↑↓ move" if enter_submits
                                       else "Enter: next field, submits on the last · Esc cancel")
        self.enter_submits = enter_submits

    def compose(self) -> Any:
        from textual.containers import Horizontal, Vertical, VerticalScroll
        from textual.widgets import Label, Select

        with VerticalScroll(id="form-box") as box:
            box.border_title = self.form_title
            for f in self.fields:
                short = len(f.label) <= self.SHORT_LABEL
                with (Horizontal(classes="form-row") if short else Vertical(classes="form-long")):
                    yield Label(f.label)
                    if f.options:
                        yield Select([(label, value) for value, label in f.options], value=f.value,
                                     allow_blank=False, id=f"field-{f.id}", compact=True)
                    else:
                        yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.id}", compact=True)
            yield Static(self.help_text, id="form-help")

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#field-{self.fields[0].id}").focus()

    def values(self) -> dict[str, str]:
        from textual.widgets import Select

        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#field-{f.id}")
            if isinstance(widget, Select):
                out[f.id] = "" if widget.value is Select.NULL else str(widget.value)
            else:
                out[f.id] = widget.value.strip()  # type: ignore[attr-defined]
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.enter_submits or event.input.id == f"field-{self.fields[-1].id}":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        self.dismiss(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; y (or Enter on "Yes") confirms, n or Escape declines."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 72; max-width: 100%; height: auto; border: round $warning; padding: 0 1;
        background: $surface;
    }
    ConfirmModal .confirm-text { margin-bottom: 1; }
    ConfirmModal Horizontal { height: auto; align-horizontal: right; }
    ConfirmModal Button { margin-left: 2; min-width: 10; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> Any:
        from textual.containers import Horizontal, Vertical
        from textual.widgets import Button

        with Vertical():
            yield Static(self.question, classes="confirm-text")
            with Horizontal():
                yield Button(f"{self.no} (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def on_button_pressed(self, event: Any) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(RoutesWorkerErrors, ModalScreen[None]):
    """A scrollable read-only result (diff, validation problems); Escape or q closes it."""

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > #text-box { width: 90%; height: 80%; border: round $accent; background: $surface;
        padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss_screen", "Close", id="text.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="text.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="text.up"),
    ]

    def __init__(self, title: str, body: Any) -> None:
        super().__init__()
        self.text_title = title
        self.body = body

    def compose(self) -> Any:
        from textual.containers import VerticalScroll

        with VerticalScroll(id="text-box") as box:
            box.border_title = self.text_title
            yield Static(self.body)

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

    def action_scroll(self, direction: str) -> None:
        from textual.containers import VerticalScroll

        box = self.query_one(VerticalScroll)
        box.scroll_down() if direction == "down" else box.scroll_up()
