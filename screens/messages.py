"""How a worker's failure reaches the user.

Workers compute off the UI thread and post a message of their screen (each screen declares its own,
e.g. ``DatasetsScreen.ListLoaded``, handled by ``on_datasets_screen_list_loaded``); the handler
updates widgets. A worker that raises becomes a one-line error notification
(:class:`RoutesWorkerErrors`).

The domain's messages are written for the CLI and name its flags ("give --trials or --timeout");
a screen translates them into its own words (:func:`in_form_words`, from its ``FIELD_WORDS``),
so a dialog names the field to fill in, not a flag the user never typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from textual.app import App
from textual.screen import Screen
from textual.worker import Worker, WorkerState

# A flag as a message names it: '--trials', with the verb before it and a metavar after it
# ('pass --target COLUMN', 'use --engine local').
FLAG = re.compile(r"(?:\b(give|pass|use) )?(?<![\w-])--([a-z][a-z-]*)(?: [A-Z][A-Z_]*\b)?")
VERBS = {"give": "fill in {}", "pass": "fill in {}", "use": "set {} to"}


def in_form_words(message: str, words: Mapping[str, str]) -> str:
    """``message`` with the CLI flags ``words`` knows said as the screen's fields: ``words`` maps a
    flag ('--trials') to its field ('Trials'), or a whole phrase to its rewording (the longest
    first). 'give --trials or --timeout' → 'fill in Trials or Timeout', 'pass --target COLUMN' →
    'fill in Target', 'use --engine local' → 'set Engine to local'. Flags it does not know stay."""
    for phrase in sorted((w for w in words if not w.startswith("--")), key=len, reverse=True):
        message = message.replace(phrase, words[phrase])

    def field(m: re.Match[str]) -> str:
        verb, flag = m.group(1), m.group(2)
        name = words.get(f"--{flag}")
        if name is None:
            return m.group(0)
        return VERBS[verb].format(name) if verb else name

    return FLAG.sub(field, message)


class RoutesWorkerErrors:
    """Mixin for screens: a worker that raises clears the loading indicators and becomes a one-line
    notification, in the screen's words (``FIELD_WORDS``, see :func:`in_form_words`). Textual posts
    Worker.StateChanged to the screen (it does not bubble), so the routing lives here, once, for
    normal and modal screens alike."""

    FIELD_WORDS: ClassVar[Mapping[str, str]] = {}

    def field_words(self) -> Mapping[str, str]:
        return self.FIELD_WORDS

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        assert isinstance(self, Screen), "RoutesWorkerErrors mixes into screens only"
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            for widget in self.query("*"):
                if widget.loading:
                    widget.loading = False
            report_error(self.app, event.worker.error, self.field_words())


def report_error(app: App[object], exc: BaseException, words: Mapping[str, str] | None = None) -> None:
    """A service error as a notification: UserError/StoreError text as is (its flags in ``words``
    said as the screen's fields), anything else with its type."""
    from mlops_tui.store import StoreError

    from mlops_tui.errors import UserError

    message = str(exc) if isinstance(exc, UserError | StoreError) else f"{type(exc).__name__}: {exc}"
    message = in_form_words(message, words or {})
    app.notify(message.splitlines()[0] if message else type(exc).__name__, severity="error", timeout=8)
