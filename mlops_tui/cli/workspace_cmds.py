"""`init` and `tui`."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import STATE, JsonFlag, emit, out, table, workspace


def init(
    sample: Annotated[bool, typer.Option("--sample", help="Register the bundled sample datasets.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create the workspace (store, artifacts, config).

    Example: mlops-tui init --sample
    """
    from mlops_tui.data import datasets
    from mlops_tui.sample_data import SAMPLES, sample_path

    ws = workspace(create=True)
    added = []
    if sample:
        for name, (file, target) in SAMPLES.items():
            version, new = datasets.add(ws, str(sample_path(file)), name=name, target=target,
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
    from mlops_tui.screens import open_workbench

    open_workbench(STATE.workspace)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(tui)
