"""The Textual workbench. Calls mlops_tui services; never runs SQL or trains on the UI thread.

Public API: :func:`open_workbench` (what `mlops-tui` and `mlops-tui tui` call). This module stays
light (no textual import) so the no-terminal refusal costs nothing; the app itself is in
:mod:`mlops_tui.screens.app`.
"""

from __future__ import annotations

import sys


def open_workbench(workspace: str | None) -> None:
    """Open the TUI on ``workspace`` (created if missing). Raises UserError without a terminal or
    with a store the app cannot use, before the terminal is taken."""
    from mlops_tui.errors import UserError
    from mlops_tui.workspace import Workspace

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # A script or cron job that forgot its command must not hang in a full-screen app.
        raise UserError("the workbench needs a terminal (stdin and stdout are not one here); "
                        "for scripts use a command, see `mlops-tui --help`")
    ws = Workspace.open(workspace, create=True)
    from mlops_tui.screens.app import (
        run_app,  # reads the store before taking the terminal: a bad one is one line
    )

    run_app(ws)
