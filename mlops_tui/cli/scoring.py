"""`deploy` and `score`: batch-scoring deployments (see ../shared/CLI.md). Thin: parse, call, emit."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, out, workspace


def deploy(
    model_ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name (created or repointed).")],
    force: Annotated[bool, typer.Option("--force", help="Deploy even if the validation gate refuses (recorded).")] = False,
    output_dir: Annotated[str | None, typer.Option("--output-dir", help="Default folder for this deployment's outputs.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Point a batch-scoring deployment at a model version (validation gate checked; exit 3 if refused).

    Example: mlops-tui deploy credit@production --name credit-nightly
    """
    from mlops_tui import registry

    ws = workspace()
    dep = registry.deploy(ws, model_ref, name, force=force, output_dir=output_dir)
    payload = {"deployment": dep.name, "model": dep.model_name, "version": dep.model_version,
               "forced": dep.forced, "gate": dep.gate, "output_dir": str(registry.deployment_output_dir(ws, dep))}
    emit(payload, as_json, lambda: out.print(
        f"deployment {dep.name} → {dep.model_name}:{dep.model_version}"
        + (" [bold red](forced past the gate)[/]" if dep.forced else "")))


def register(app: typer.Typer) -> None:
    app.command()(deploy)
