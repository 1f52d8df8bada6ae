"""Moving between screens: the base of every main screen (Escape goes back) and the nav bar."""

from __future__ import annotations

from typing import Any

from mlops_tui.screens.messages import RoutesWorkerErrors
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static


class BaseScreen(RoutesWorkerErrors, Screen):
    """Base of every main screen: Escape goes back (to the previous screen, else home)."""

    BINDINGS = [Binding("escape", "back", "Back", id="screen.back")]

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif getattr(self.app, "current_mode", "home") != "home":
            self.app.switch_mode("home")


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
