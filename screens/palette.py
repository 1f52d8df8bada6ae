"""Command palette provider: every action of every screen, by name or by the words a user types.

An action of the current screen runs there; one of another main screen first switches to it.
A command is found by a fuzzy match of its name, key and id ('datasets: reg'), and first when every
word typed starts a word of its name or its binding's tooltip ('register file', 'add dataset': the
binding says only "Register").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from mlops_tui.screens.keymap import MAIN, Entry, catalogue, keys_for
from textual.command import DiscoveryHit, Hit, Hits, Provider


class Command(NamedTuple):
    label: str                  # 'Datasets: Register'
    run: Callable[[], Any]
    help: str                   # the binding's tooltip, key and id
    fuzzy: str                  # what a fuzzy query is matched against: label, key, id
    words: list[str]            # the words of the label and tooltip, for a query of whole words


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
                if not self.screen.check_action(b.action.split("(")[0], ()):
                    continue  # not offered here now (x with no pipeline.toml): chosen, it did nothing
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
            keys = f"key {key}  ·  {entry.id}"
            yield Command(label, run, f"{b.tooltip}  ·  {keys}" if b.tooltip else keys, f"{label} {keys}",
                          words_of(f"{label} {b.tooltip}"))

    async def discover(self) -> Hits:
        for c in self._commands:
            yield DiscoveryHit(c.label, c.run, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        typed = words_of(query)
        for label, run, help_text, fuzzy, words in self._commands:
            # Fuzzy on the short text only: Textual's matcher tries every way the letters fit, which
            # grows fast with the length of the text.
            score = matcher.match(fuzzy)
            if typed and all(any(w.startswith(t) for w in words) for t in typed):
                # Every word typed starts a word of it: above any fuzzy hit (at most 6 per letter);
                # words of its name above words of its tooltip.
                named = words_of(label)
                score = 6 * len(query) + sum(any(w.startswith(t) for w in named) for t in typed)
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, help=help_text)


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower case: 'Add a dataset file (CSV)' → add, a, dataset, file, csv."""
    return re.findall(r"[a-z0-9]+", text.lower())


async def _switch_then(app: Any, mode: str, action: str) -> None:
    """Open main screen ``mode`` and run ``action`` there once the screen has read its data: 'Models:
    Score' from another screen opened the form before the registry was read, its deployment blank,
    and 'Datasets: New run' said 'no dataset selected' beside a list of datasets. (Bounded: a store
    that another process holds answers late, and the action then runs on what there is.)"""
    import asyncio

    await app.switch_mode(mode)
    screen = app.screen
    for _ in range(100):
        if not hasattr(screen, "ready") or screen.ready():
            break
        await asyncio.sleep(0.05)
    await screen.run_action(action)


__all__ = ["ActionsProvider", "Entry"]
