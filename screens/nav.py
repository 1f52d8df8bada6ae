"""Moving between screens: the base of every main screen (Escape goes back) and the nav bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_tui.screens.messages import RoutesWorkerErrors
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

if TYPE_CHECKING:
    from mlops_tui.screens.app import Workbench
    from textual import getters
    from textual.widgets import TabbedContent


class BaseScreen(RoutesWorkerErrors, Screen[None]):
    """Base of every main screen: Escape goes back (to the previous screen, else home)."""

    if TYPE_CHECKING:  # for the type checker, ``self.app`` is the Workbench (with its ``ws``)
        app = getters.app(Workbench)

    BINDINGS = [Binding("escape", "back", "Back", id="screen.back")]

    def still_loading(self, group: str) -> bool:
        """Whether a worker of ``group`` is still at work. A timer's refresh skips its turn then:
        while another process holds the store, a screen keeps one read waiting for it, not one
        more thread per tick (which all ran back to back once the store was free)."""
        return any(w.group == group and not w.is_finished for w in self.workers)

    def ready(self) -> bool:
        """Whether the screen has read what its actions act on: none of its tables is still loading
        (a main screen marks its list loading until its first read). The palette waits for it
        before running an action of a screen it has just opened."""
        from textual.widgets import DataTable

        return not any(t.loading for t in self.query(DataTable))

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif self.app.current_mode != "home":
            self.app.switch_mode("home")


def show_tab(tabs: TabbedContent, tab: str) -> None:
    """Show pane ``tab`` and give it the keys: the focus goes to its first focusable widget (its
    table, its scrolling text), or to the tab strip when it has none (a plot: the arrows go to the
    next tab). Showing the pane alone left the focus where it was: on the run detail, the hidden
    Trials table took j/k and the arrows, and a run's Outcome, longer than the screen, could not be
    scrolled from the keyboard; on compare, the tab strip kept them and the slices' rows could not
    be walked."""
    tabs.active = tab
    strip = tabs.query_one("ContentTabs")
    target = next((w for w in tabs.get_pane(tab).query("*") if w.can_focus and not w.disabled), None)
    if target is None:
        strip.focus()
    elif not target.loading:
        target.focus()
    else:  # a table still reading its rows takes no focus: the strip has it until they are in
        strip.focus()
        pending = True

        def loaded(loading: bool) -> None:
            nonlocal pending
            if pending and not loading:
                pending = False
                if tabs.active == tab and tabs.screen.focused is strip:  # unless the user moved on
                    target.focus()

        tabs.screen.watch(target, "loading", loaded, init=False)


class NavBar(Static):
    """One line naming the main screens and their keys, the current one marked: '[3 Runs]'."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def render(self) -> Any:
        from mlops_tui.screens.keymap import MAIN
        from rich.text import Text

        keymap = getattr(self.app, "_keymap", {})
        default = {"home": "1", "datasets": "2", "runs": "3", "models": "4", "monitoring": "5", "sql": "6",
                   "pipelines": "7"}
        text = Text()
        for mode in MAIN:
            key = keymap.get(f"app.{mode}", default[mode]).split(",")[0]
            label = f"{key} {mode.title() if mode != 'sql' else 'SQL'}"
            if mode == self.current:
                text.append(f"[{label}]", style="bold reverse")
            else:
                text.append(f" {label} ")
            text.append(" ")
        hint = " ? help  ^p palette"
        if text.cell_len + len(hint) <= self.size.width:  # on a narrow terminal the screens come first
            text.append(hint, style="dim")
        return text
