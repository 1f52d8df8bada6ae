"""`?`: every key binding of the app, grouped by screen, with the ids used to remap them."""

from __future__ import annotations

from typing import Any

from mlops_tui.screens.keymap import catalogue, keys_for
from mlops_tui.screens.nav import BaseScreen
from mlops_tui.screens.tables import Table
from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

# Where a binding works, as a person names it (the classes' names meant nothing to a user:
# 'ConfirmModal', 'Form', 'Text', 'RunDetail'). A scope missing here fails tests/tui/test_new_user.py.
SCOPES = {
    "Workbench": "everywhere", "BaseScreen": "every screen", "Table": "tables and lists",
    "TextPane": "scrolling text panes",  # a run's outcome, a model's detail (short: at 80 columns the ids showed cut)
    "HomeScreen": "Home", "DatasetsScreen": "Datasets", "PreviewTable": "Datasets: preview",
    "RunsScreen": "Runs", "RunDetailScreen": "Run detail", "CompareScreen": "Compare runs",
    "ModelsScreen": "Models", "MonitoringScreen": "Monitoring", "SqlScreen": "SQL",
    "PipelinesScreen": "Pipelines", "FormScreen": "form dialogs", "ConfirmModal": "yes/no questions",
    "TextScreen": "text views (logs, results)",
}


class HelpScreen(BaseScreen):
    """Lists the catalogue from screens.keymap, so it can never disagree with the real bindings.
    The keys of the screen it was opened from come first (``origin``, its class name): they were
    somewhere below the app's and the tables' 20 rows, past the bottom of an 80x24 terminal."""

    BINDINGS = []

    def __init__(self, origin: str = "") -> None:
        super().__init__()
        self.origin = origin

    def compose(self) -> ComposeResult:
        yield Header()
        here = SCOPES.get(self.origin)
        # Two lines at 80 columns (four, once it named the screen, pushed the keys down)
        yield Static(
            (f"Keys of {here} first, then of every screen" if here else "Keys by screen")
            + " · Esc back · ctrl+p palette\n"
            'Remap by id in the workspace\'s config.toml: [keys] "app.quit" = "ctrl+q"',
            id="help-intro", markup=False,
        )
        yield Table(id="help-table")
        yield Footer()

    def on_mount(self) -> None:
        keymap: dict[str, Any] = getattr(self.app, "_keymap", {})
        here = SCOPES.get(self.origin, "")
        mine: list[tuple[tuple[str, str, str, str], str]] = []
        rest: list[tuple[tuple[str, str, str, str], str]] = []
        for entry in catalogue():
            if entry.scope == "HelpScreen":
                continue
            scope = SCOPES.get(entry.scope, entry.scope.removesuffix("Screen"))
            desc = entry.binding.description or entry.binding.action
            row = (scope, keys_for(entry, keymap), desc, entry.id or "-")
            # this screen's own keys and its parts' ('Datasets: preview') first
            ours = bool(here) and (scope == here or scope.startswith(f"{here}: "))
            (mine if ours else rest).append((row, f"{entry.scope}/{entry.id}/{entry.binding.key}"))
        rows, keys = [r for r, _ in mine + rest], [k for _, k in mine + rest]
        table = self.query_one(Table)
        table.fill(["screen", "key", "action", "id"], rows, keys)
        table.focus()
