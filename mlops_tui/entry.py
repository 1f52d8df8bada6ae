"""The `mlops-tui` console script.

Bare `mlops-tui` (optionally with `--workspace DIR` / `--debug`) opens the workbench without
building the command line: Typer and the ~25 command modules cost ~150 ms that the TUI's first
frame would otherwise wait for. Anything else goes to :mod:`mlops_tui.cli`. Both open the workbench
through :func:`mlops_tui.screens.open_workbench`.
"""

from __future__ import annotations

import sys


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


# True once main() runs: this process IS the command, so its start is when the user's wait began
# (`tune --timeout` counts from there; see training/tuning/budget.process_start).
LAUNCHED_AS_COMMAND = False


def main() -> None:
    from mlops_tui.processes import exit_without_last_collection

    try:
        _main()
    finally:
        exit_without_last_collection()


def _main() -> None:
    global LAUNCHED_AS_COMMAND
    LAUNCHED_AS_COMMAND = True
    bare = _bare(sys.argv[1:])
    if bare is None:
        from mlops_tui.cli import main as cli_main

        cli_main()
        return
    workspace, debug = bare
    from mlops_tui.errors import UserError
    from mlops_tui.screens import open_workbench
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
