"""The workbench App: main screens as modes switched by number keys, help, palette, keymap.

Main screens are imported lazily by module path (screens.keymap.MAIN), so the first frame pays only
for the home screen.
Nothing here imports lightgbm, sklearn, optuna or scipy: services that need them are imported inside
workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops_tui.screens.keymap import MAIN, load, user_keymap
from mlops_tui.screens.palette import ActionsProvider
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

if TYPE_CHECKING:
    from mlops_tui.screens.home import Snapshot

    from mlops_tui.workspace import Workspace


class Workbench(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlops-tui"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        Binding("1", "main('home')", "Home", show=False, id="app.home"),
        Binding("2", "main('datasets')", "Datasets", show=False, id="app.datasets"),
        Binding("3", "main('runs')", "Runs", show=False, id="app.runs"),
        Binding("4", "main('models')", "Models", show=False, id="app.models"),
        Binding("5", "main('monitoring')", "Monitoring", show=False, id="app.monitoring"),
        Binding("6", "main('sql')", "SQL", show=False, id="app.sql"),
        Binding("7", "main('pipelines')", "Pipelines", show=False, id="app.pipelines"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, ws: Workspace, *, start: str = "home", home: Snapshot | None = None,
                 busy: str | None = None) -> None:
        super().__init__()
        self.ws = ws
        self._start = start
        self.preloaded_home = home  # the home screen's data, read before the app started (or None)
        self.busy = busy  # why that read could not happen: the home screen says so while it waits
        for mode in MAIN:
            self.add_mode(mode, self._factory(mode))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification prints its text as it is: messages carry user text (names, paths,
        values), and Textual would read '[/]' or '[b]' in them as markup (or fail on it)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @staticmethod
    def _factory(mode: str) -> Callable[[], Screen[None]]:
        def make() -> Screen[None]:
            screen: Screen[None] = load(MAIN[mode])()
            return screen
        return make

    def on_mount(self) -> None:
        try:
            keymap, warnings = user_keymap(self.ws.config)
        except Exception as exc:  # noqa: BLE001 - a bad config.toml still opens the app
            keymap, warnings = {}, [str(exc).splitlines()[0]]
        if keymap:
            self.set_keymap(keymap)
        for warning in warnings:
            self.notify(warning, severity="warning")
        self.switch_mode(self._start)

    async def action_main(self, mode: str) -> None:
        if mode not in MAIN:
            return
        if self.current_mode == mode and len(self.screen_stack) > 1:
            # pressing the key of the screen you are in goes back to its top level
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        await self.switch_mode(mode)

    def action_help(self) -> None:
        from mlops_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(type(self.screen).__name__))


STARTUP_WAIT_S = 1.0


def build_app(ws: Workspace) -> Workbench:
    """The workbench with its home screen's data already read: the first frame shows it, and a
    store the app cannot use (newer schema, corrupt) fails here, before the terminal is taken.

    A store another process holds (a long write, a DuckDB shell) is waited for STARTUP_WAIT_S
    only: after that the app starts anyway and the home screen says what it is waiting for,
    instead of a blank terminal for the whole store timeout (60 s)."""
    from mlops_tui.screens.home import read_home
    from mlops_tui.store import StoreBusyError, session

    try:
        with session(ws.store_path, timeout=STARTUP_WAIT_S):
            return Workbench(ws, home=read_home(ws))
    except StoreBusyError:
        return Workbench(ws, busy=f"Waiting for the store: another process holds {ws.store_path.name} "
                                  "(a tuning run, a CLI call or a DuckDB shell); the data shows as soon as it lets go.")


def run_app(ws: Workspace) -> None:
    """Entry point used by `mlops-tui tui` (and bare `mlops-tui`)."""
    build_app(ws).run()
