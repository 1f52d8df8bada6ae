"""`init` and `tui`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, out, table, workspace

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
# name → (file, target); see sample_data/README.md for sources and licences.
SAMPLES = {
    "bikeshare": ("bikeshare.csv", "bikers"),
    "penguins": ("penguins.csv", "species"),
    "default": ("default.csv", "default"),
}


def init(
    sample: Annotated[bool, typer.Option("--sample", help="Register the bundled sample datasets.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create the workspace (store, artifacts, config).

    Example: mlops-tui init --sample
    """
    from mlops_tui import datasets

    ws = workspace(create=True)
    added = []
    if sample:
        for name, (file, target) in SAMPLES.items():
            version, new = datasets.add(ws, str(SAMPLE_DIR / file), name=name, target=target,
                                        description=f"bundled sample ({file})")
            added.append({"name": version.name, "version": version.version, "rows": version.rows,
                          "target": version.target, "new": new})
    emit({"workspace": str(ws.root), "datasets": added}, as_json, lambda: (
        out.print(f"workspace ready at {ws.root}"),
        added and out.print(table(None, ["dataset", "version", "rows", "target", "new"],
                                  [list(d.values()) for d in added])),
    ))


def tui() -> None:
    """Open the workbench (also what `mlops-tui` with no command does).

    Example: mlops-tui --workspace ~/projects/churn/.mlops tui
    """
    import sys

    from mlops_tui.errors import UserError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # A script or cron job that forgot its command must not hang in a full-screen app.
        raise UserError("the workbench needs a terminal (stdin and stdout are not one here); "
                        "for scripts use a command, see `mlops-tui --help`")
    ws = workspace(create=True)
    from screens.app import run_app  # reads the store before taking the terminal: a bad one is one line

    run_app(ws)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(tui)
