"""The small dialogs every screen shares: a keyboard form, a yes/no question, a scrollable text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui.screens.messages import RoutesWorkerErrors
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Static

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mlops_tui.screens.app import Workbench
    from rich.text import Text
    from textual import getters
    from textual.app import ComposeResult
    from textual.widgets import Button


@dataclass(frozen=True)
class FormField:
    """One input of a FormScreen; ``options`` makes it a Select (value, label) instead of an Input.
    A ``required`` field left blank keeps the form open and says so (it closed, and nothing happened)."""

    id: str
    label: str
    value: str = ""
    placeholder: str = ""
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False


def form_int(values: dict[str, str], key: str, minimum: int) -> int | None:
    """The whole number in form field ``key`` (None when blank); ValueError naming the field when it
    is not one or is below ``minimum`` (the caller shows it and keeps the form's answer unused)."""
    raw = values[key]
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{key}: {raw!r} is not a whole number") from None
    if n < minimum:
        raise ValueError(f"{key}: must be at least {minimum}")
    return n


SUBMIT_HINT = "ctrl+s submit · Esc cancel"

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z-]*)")


def field_named(fields: Sequence[FormField], message: str, values: Mapping[str, str] | None = None) -> str | None:
    """The id of the field a refusal is about, to put the cursor on it: the first of the fields'
    flags the message names ('give --trials or --timeout' → trials), else the field whose label
    it says first ("x.csv: target 'nope' is not a column" → target; "x.csv: no such file" → source,
    labelled File), once quoted values and the typed ``values`` (a path holding 'target') are left
    out. None when it names none (the caller keeps the focus where it was)."""
    ids = {f.id.replace("_", "-"): f.id for f in fields}
    for flag in _FLAG.findall(message):
        if flag in ids:
            return ids[flag]
    text = _QUOTED.sub(" ", message)
    for value in sorted((v for v in (values or {}).values() if len(v) >= 3), key=len, reverse=True):
        text = text.replace(value, " ")
    found = []
    for f in fields:
        label = f.label.split(" (")[0].lower()
        if m := re.search(rf"\b{re.escape(label)}\b", text.lower()):
            found.append((m.start(), -len(label), f.id))
    return min(found)[2] if found else None


class FormScreen(RoutesWorkerErrors, ModalScreen[dict[str, str] | None]):
    """A small keyboard form: Tab/↑↓ between fields, ctrl+s submits, Escape cancels. Enter submits
    (``enter_submits``, for forms whose defaults are usually right) or moves to the next field and
    submits on the last. Dismisses with {field id: value} (strings; the caller validates them).
    Short labels sit left of their input; a long one goes above it."""

    if TYPE_CHECKING:  # for the type checker, ``self.app`` is the Workbench (forms act on its ``ws``)
        app = getters.app(Workbench)

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="form.submit"),
        Binding("down", "app.focus_next", "Next field", show=False, id="form.next"),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="form.previous"),
    ]
    SHORT_LABEL = 13

    def __init__(self, title: str, fields: list[FormField], *, help_text: str = "",
                 enter_submits: bool = True, focus: str | None = None) -> None:
        """``focus``: the id of the field to start on (the one a refusal named), else the first."""
        super().__init__()
        self.form_title = title
        self.fields = fields
        self.start_on = focus
        # The flag of each short-labelled field ('--time-column' → 'Time column'; 'Timeout (s)' says
        # 'Timeout'): an error of the domain names its field, not the CLI flag.
        self.words = {f"--{f.id.replace('_', '-')}": f.label.split(" (")[0]
                      for f in fields if len(f.label) <= self.SHORT_LABEL}
        self.help_text = help_text or ("Enter submits · Tab/↑↓ move between fields" if enter_submits
                                       else "Enter: next field, submits on the last · Tab/↑↓ move")
        self.enter_submits = enter_submits

    def compose(self) -> ComposeResult:
        from textual.containers import Horizontal, Vertical, VerticalScroll
        from textual.widgets import Label, Select

        with VerticalScroll(id="form-box") as box:
            box.border_title = self.form_title
            # On the border, so always on screen: at 80x24 a long form (launch) scrolls, and its
            # help line below the fields was out of sight, with no footer to say how to submit.
            box.border_subtitle = SUBMIT_HINT
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
            self.query_one(f"#field-{self.start_on or self.fields[0].id}").focus()

    def focus_named(self, message: str) -> None:
        """Put the cursor on the field ``message`` (a refusal) is about, if it names one."""
        named = field_named(self.fields, message, self.values())
        if named is not None:
            self.query_one(f"#field-{named}").focus()

    def field_words(self) -> Mapping[str, str]:
        return {**self.words, **self.FIELD_WORDS}

    def values(self) -> dict[str, str]:
        from textual.widgets import Select

        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#field-{f.id}")
            if isinstance(widget, Select):
                out[f.id] = "" if widget.value is Select.NULL else str(widget.value)
            elif isinstance(widget, Input):
                out[f.id] = widget.value.strip()
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.enter_submits or event.input.id == f"field-{self.fields[-1].id}":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        values = self.values()
        blank = next((f for f in self.fields if f.required and not values[f.id]), None)
        if blank is not None:
            self.notify(f"{blank.label.split(' (')[0]}: required", severity="warning")
            self.query_one(f"#field-{blank.id}").focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; y (or Enter on "Yes") confirms, n or Escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        from textual.containers import Horizontal, Vertical
        from textual.widgets import Button

        with Vertical():
            yield Static(self.question, classes="confirm-text")
            with Horizontal():
                yield Button(f"{self.no} (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(RoutesWorkerErrors, ModalScreen[None]):
    """A scrollable read-only result (diff, validation problems, a log); Escape or q closes it.
    ``at_end`` opens it scrolled to the bottom, where a log's newest lines are."""

    BINDINGS = [
        Binding("escape,q", "dismiss_screen", "Close", id="text.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="text.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="text.up"),
    ]

    def __init__(self, title: str, body: str | Text, *, at_end: bool = False) -> None:
        super().__init__()
        self.text_title = title
        self.body = body
        self.at_end = at_end

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        with VerticalScroll(id="text-box") as box:
            box.border_title = self.text_title
            box.border_subtitle = "Esc close · j/k scroll"  # a dialog has no footer to say so
            yield Static(self.body)

    def on_mount(self) -> None:
        if self.at_end:
            from textual.containers import VerticalScroll

            self.call_after_refresh(self.query_one(VerticalScroll).scroll_end, animate=False)

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

    def action_scroll(self, direction: str) -> None:
        from textual.containers import VerticalScroll

        box = self.query_one(VerticalScroll)
        box.scroll_down() if direction == "down" else box.scroll_up()
