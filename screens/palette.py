"""Command palette provider: every action of every screen, by name.

An action of the current screen runs there; one of another main screen first switches to it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from mlops_tui.screens.keymap import MAIN, Entry, catalogue, keys_for
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ActionsProvider(Provider):
    async def startup(self) -> None:
        self._commands = list(self._build())

    def _build(self) -> Any:
        app: Any = self.app
        keymap = getattr(app, "_keymap", {})
        screen_cls = type(self.screen).__name__
        main_cls = {target.partition(":")[2]: mode for mode, target in MAIN.items()}
        seen: set[str] = set()
        for entry in catalogue():
            b = entry.binding
            if not b.description or entry.id in seen:
                continue
            key = keys_for(entry, keymap)
            if entry.scope == screen_cls:
                run: Callable[[], Any] = partial(self.screen.run_action, b.action)
                label = f"{b.description}"
            elif entry.scope == "Workbench":
                run = partial(app.run_action, b.action)
                label = f"{b.description}"
            elif entry.scope in main_cls:
                run = partial(_switch_then, app, main_cls[entry.scope], b.action)
                label = f"{main_cls[entry.scope].title()}: {b.description}"
            else:
                continue
            seen.add(entry.id)
            yield label, run, f"key {key}  ·  {entry.id}"

    async def discover(self) -> Hits:
        for label, run, help_text in self._commands:
            yield DiscoveryHit(label, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, run, help_text in self._commands:
            score = matcher.match(f"{label} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, help=help_text)


async def _switch_then(app: Any, mode: str, action: str) -> None:
    await app.switch_mode(mode)
    await app.screen.run_action(action)


__all__ = ["ActionsProvider", "Entry"]
