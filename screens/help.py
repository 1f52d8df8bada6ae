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
    "TextPane": "scrolling text (run outcome, model detail)",
    "HomeScreen": "Home", "DatasetsScreen": "Datasets", "PreviewTable": "Datasets: preview",
    "RunsScreen": "Runs", "RunDetailScreen": "Run detail", "CompareScreen": "Compare runs",
    "ModelsScreen": "Models", "MonitoringScreen": "Monitoring", "SqlScreen": "SQL",
    "PipelinesScreen": "Pipelines", "FormScreen": "form dialogs", "ConfirmModal": "yes/no questions",
    "TextScreen": "text views (logs, results)",
}


class HelpScreen(BaseScreen):
    """Lists the catalogue from screens.keymap, so it can never disagree with the real bindings."""

    BINDINGS = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Keys by screen. Remap any of them by id in the workspace's config.toml, e.g.\n"
            '[keys]  "app.quit" = "ctrl+q".  Esc goes back; ctrl+p opens the command palette.',
            id="help-intro", markup=False,
        )
        yield Table(id="help-table")
        yield Footer()

    def on_mount(self) -> None:
        keymap: dict[str, Any] = getattr(self.app, "_keymap", {})
        rows, keys = [], []
        for entry in catalogue():
            if entry.scope == "HelpScreen":
                continue
            scope = SCOPES.get(entry.scope, entry.scope.removesuffix("Screen"))
            desc = entry.binding.description or entry.binding.action
            rows.append((scope, keys_for(entry, keymap), desc, entry.id or "-"))
            keys.append(f"{entry.scope}/{entry.id}/{entry.binding.key}")
        table = self.query_one(Table)
        table.fill(["screen", "key", "action", "id"], rows, keys)
        table.focus()
