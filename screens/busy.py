"""A line saying what runs in the background of a screen and for how long, hidden when nothing does."""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.timer import Timer


class BusyRow(Horizontal):
    """'● evaluating credit:1 on default… 4 s' beside an indeterminate bar, the seconds ticking:
    an evaluation of 10,000 rows said only '● evaluating …' in the Detail pane for as long as it
    took, and nothing at all once another version was selected. Its styles are in app.tcss
    (BusyRow, BusyRow.active)."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.doing = ""
        self.since = 0.0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("")
        yield ProgressBar(show_eta=False, show_percentage=False)

    def start(self, doing: str) -> None:
        """Say ``doing``; the clock runs from the first start to :meth:`stop`, so the steps of one
        action (a deploy's load, compile, check) share it."""
        if self._timer is None:
            self.since = monotonic()
            self._timer = self.set_interval(1.0, self._show)
            self.query_one(ProgressBar).update(total=None)
            self.add_class("active")
        self.doing = doing
        self._show()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.remove_class("active")

    def _show(self) -> None:
        self.query_one(Label).update(f"● {self.doing}… {monotonic() - self.since:.0f} s")
