"""The catalogue of every key binding (for `?` help and the command palette) and the user keymap.

Bindings live on their screens (a screen is a module); this module only finds them, so adding a
binding to a screen makes it appear in the help and the palette with no second list to maintain.
Users remap by binding id in the workspace's config.toml:

    [keys]
    "app.quit" = "ctrl+q"
    "runs.launch" = "N"
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding

# Main screens, by mode name: imported lazily so start-up pays only for the home screen.
MAIN: dict[str, str] = {
    "home": "mlops_tui.screens.home:HomeScreen",
    "datasets": "mlops_tui.screens.datasets:DatasetsScreen",
    "runs": "mlops_tui.screens.runs:RunsScreen",
    "models": "mlops_tui.screens.models:ModelsScreen",
    "monitoring": "mlops_tui.screens.monitoring:MonitoringScreen",
    "sql": "mlops_tui.screens.sql:SqlScreen",
    "pipelines": "mlops_tui.screens.pipelines:PipelinesScreen",
}
# Modules whose screens and widgets declare bindings (main screens first, then sub-screens).
MODULES = ("mlops_tui.screens.app", "mlops_tui.screens.nav", "mlops_tui.screens.tables", "mlops_tui.screens.modals", "mlops_tui.screens.home", "mlops_tui.screens.datasets", "mlops_tui.screens.runs", "mlops_tui.screens.run_detail",
           "mlops_tui.screens.compare", "mlops_tui.screens.models", "mlops_tui.screens.monitoring", "mlops_tui.screens.sql", "mlops_tui.screens.pipelines", "mlops_tui.screens.help")


@dataclass(frozen=True)
class Entry:
    scope: str          # class name that owns the binding, e.g. "RunsScreen"
    module: str
    binding: Binding

    @property
    def id(self) -> str:
        return self.binding.id or ""


def load(target: str) -> type:
    """'pkg.mod:Class' → the class (raises ImportError/AttributeError when missing)."""
    module, _, name = target.partition(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def catalogue() -> list[Entry]:
    """Every binding declared by a screen or widget in screens/, in module order."""
    entries: list[Entry] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or "BINDINGS" not in cls.__dict__:
                continue
            for item in cls.__dict__["BINDINGS"]:
                binding = item if isinstance(item, Binding) else Binding(*item)
                entries.append(Entry(cls.__name__, name, binding))
    return entries


def user_keymap(config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The [keys] table as a keymap, plus warnings for ids no binding has (typos)."""
    raw = config.get("keys") or {}
    keymap = {str(k): str(v) for k, v in raw.items() if isinstance(v, str) and v.strip()}
    if not keymap:  # the catalogue imports every screen module: only pay for it when remapping
        return {}, []
    known = {e.id for e in catalogue() if e.id}
    warnings = [f"config [keys]: no binding has id {k!r}" for k in keymap if k not in known]
    return keymap, warnings


def keys_for(entry: Entry, keymap: dict[str, str]) -> str:
    """The key(s) that trigger a binding now, after remapping, as the user would type them."""
    keys = keymap.get(entry.id, entry.binding.key)
    return ",".join(_display(k) for k in keys.split(","))


def _display(key: str) -> str:
    key = key.strip()
    return {"question_mark": "?", "space": "space", "escape": "esc", "enter": "enter"}.get(key, key)
