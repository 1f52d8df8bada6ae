"""How a worker's failure reaches the user.

Workers compute off the UI thread and post a message of their screen (each screen declares its own,
e.g. ``DatasetsScreen.ListLoaded``, handled by ``on_datasets_screen_list_loaded``); the handler
updates widgets. A worker that raises becomes a one-line error notification
(:class:`RoutesWorkerErrors`).
"""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen
from textual.worker import Worker, WorkerState


class RoutesWorkerErrors:
    """Mixin for screens: a worker that raises clears the loading indicators and becomes a one-line
    notification. Textual posts Worker.StateChanged to the screen (it does not bubble), so the
    routing lives here, once, for normal and modal screens alike."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        assert isinstance(self, Screen), "RoutesWorkerErrors mixes into screens only"
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            for widget in self.query("*"):
                if widget.loading:
                    widget.loading = False
            report_error(self.app, event.worker.error)


def report_error(app: App[object], exc: BaseException) -> None:
    """A service error as a notification: UserError/StoreError text as is, anything else with its type."""
    from mlops_tui.store import StoreError

    from mlops_tui.errors import UserError

    message = str(exc) if isinstance(exc, UserError | StoreError) else f"{type(exc).__name__}: {exc}"
    app.notify(message.splitlines()[0] if message else type(exc).__name__, severity="error", timeout=8)
