"""The `mlops-tui` console script.

Bare `mlops-tui` (optionally with `--workspace DIR` / `--debug`) opens the workbench without
building the command line: Typer and the ~25 command modules cost ~150 ms that the TUI's first
frame would otherwise wait for. Anything else goes to :mod:`mlops_tui.cli`.
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


def _bare(args: list[str]) -> tuple[str | None, bool] | None:
    """(workspace, debug) when ``args`` only choose a workspace / debug, else None."""
    workspace, debug = None, False
    it = iter(args)
    for arg in it:
        if arg in ("--workspace", "-w"):
            workspace = next(it, None)
            if workspace is None:
                return None  # let the CLI say what is missing
        elif arg.startswith("--workspace="):
            workspace = arg.partition("=")[2]
        elif arg == "--debug":
            debug = True
        else:
            return None
    return workspace, debug


def main() -> None:
    bare = _bare(sys.argv[1:])
    if bare is None:
        from mlops_tui.cli import main as cli_main

        cli_main()
        return
    workspace, debug = bare
    from mlops_tui.errors import UserError
    from mlops_tui.store import StoreError

    try:
        open_workbench(workspace)
    except (UserError, StoreError) as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
