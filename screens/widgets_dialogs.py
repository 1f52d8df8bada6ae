"""Keyboard-only dialogs for the models and compare screens (promote, deploy, score, export).

Both return their answer through ``push_screen(dialog, callback)``: a dict of field values (or None
when cancelled) for :class:`FormModal`, a bool for :class:`ConfirmModal`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str = ""
    placeholder: str = ""


class FormModal(ModalScreen[dict[str, str] | None]):
    """A titled form of text inputs. Enter on the last field (or ctrl+s) submits; Escape cancels."""

    DEFAULT_CSS = """
    FormModal { align: center middle; }
    FormModal > Vertical {
        width: 72; max-width: 100%; height: auto; border: round $accent; padding: 0 1;
        background: $surface;
    }
    FormModal .form-title { text-style: bold; margin-bottom: 1; }
    FormModal .form-label { color: $text-muted; }
    FormModal .form-note { color: $text-muted; margin-top: 1; }
    FormModal Input { margin-bottom: 0; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="form.submit"),
    ]

    def __init__(self, title: str, fields: list[Field], note: str = "") -> None:
        super().__init__()
        self.form_title, self.fields, self.note = title, fields, note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.form_title, classes="form-title")
            for f in self.fields:
                yield Label(f.label, classes="form-label")
                yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.key}")
            yield Static(self.note or "Enter: next/submit · Esc: cancel", classes="form-note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        if event.input is inputs[-1]:
            self.action_submit()
        else:
            self.focus_next(Input)

    def action_submit(self) -> None:
        self.dismiss({f.key: self.query_one(f"#field-{f.key}", Input).value.strip() for f in self.fields})

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; y or Enter on "Yes" confirms, n or Escape declines."""

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

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="confirm-text")
            with Horizontal():
                yield Button(f"{self.no} (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
