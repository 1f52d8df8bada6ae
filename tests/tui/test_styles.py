"""One place for styles: every rule of the workbench is in screens/app.tcss.

Textual ranks a widget's DEFAULT_CSS below the app's CSS whatever its specificity, so a screen rule
kept in DEFAULT_CSS silently loses to an app-wide one (a pane's 'height: auto' under `.pane`'s 1fr):
what is written there is not what is drawn. In app.tcss the more specific rule wins, as it reads.
"""

from __future__ import annotations

import ast

from tests.tui.conftest import ROOT


def test_no_screen_module_declares_default_css():
    found = []
    for path in sorted((ROOT / "screens").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DEFAULT_CSS" for t in node.targets):
                found.append(f"screens/{path.name}:{node.lineno}")
    assert found == [], "move these rules into screens/app.tcss, prefixed by the screen's class name"
