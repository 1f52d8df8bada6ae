"""`pipeline run` and `pipeline status`: the declared lifecycle in pipeline.toml (see the README's
Pipelines section and CLI contract). Thin: parse, call ``mlops_tui.pipelines``, print a table or JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlops_tui.cli._common import GROUPS, STATE, JsonFlag, emit, err, out, table, workspace
from mlops_tui.errors import PolicyRefused, UserError

NameArg = Annotated[str | None, typer.Argument(metavar="NAME", help="The pipeline [default: the file's only one].")]
FileOption = Annotated[str | None, typer.Option(
    "--file", "-f", help="The pipeline file [default: ./pipeline.toml, else <workspace>/pipeline.toml].")]

STYLE = {"ran": "green", "fresh": "green", "skipped": "dim", "refused": "bold red", "failed": "bold red",
         "stale": "yellow", "not run": "dim"}


def _render(res: Any, title: str) -> None:
    from rich.text import Text

    from mlops_tui.pipelines import made

    rows = [[s.name, s.kind, Text(s.status, style=STYLE.get(s.status, "")), s.reason,
             "" if s.seconds is None else f"{s.seconds:.2f} s", made(s.outputs), s.last or "—"]
            for s in res.stages]
    columns = ["stage", "kind", "status", "reason", "time", "outputs", "last run"]
    if res.run_id is not None:  # a run: its own stages, not their last outcome
        columns, rows = columns[:-1], [r[:-1] for r in rows]
    t = table(title, columns, [])
    for r in rows:
        t.add_row(*r)
    out.print(t)


def _load(name: str | None, file: str | None) -> Any:
    from mlops_tui import pipelines
    from mlops_tui.workspace import resolve_root

    return pipelines.load(resolve_root(STATE.workspace), file, name)


def _plan(pipeline: Any, force: str | None = None) -> Any:
    """Each stage fresh or stale (`pipeline status`, `--dry-run`). Before the first `pipeline run`
    makes the workspace, the stages are judged against an empty one in a temporary folder (each
    'never run'), so a new project gets its plan, as from `dvc status`, and nothing is written."""
    import tempfile

    from mlops_tui import pipelines
    from mlops_tui.workspace import Workspace, resolve_root

    if Workspace(resolve_root(STATE.workspace)).store_path.exists():
        return pipelines.plan(workspace(), pipeline, force=force)
    with tempfile.TemporaryDirectory(prefix="mlops-tui-plan-") as empty:
        return pipelines.plan(Workspace.open(empty, create=True), pipeline, force=force)


def run(
    name: NameArg = None,
    file: FileOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would run and why; change nothing.")] = False,
    force: Annotated[str | None, typer.Option("--force", help="Run this stage even if nothing changed.")] = None,
    when_drift: Annotated[str | None, typer.Option(
        "--when-drift", help="Run only if this deployment's monitoring is in alert or its live metric "
                             "dropped past the gate (for cron); otherwise every stage is skipped.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a pipeline's stages in order.

    A stage whose inputs did not change since its last success is skipped.

    Exit 0 when every stage ran or was skipped (also every stage, status skipped, when the pipeline is
    already running: cron started it again before its last run ended), 3 when a gate refused (nothing
    after it runs), 1 when a stage failed (one line naming it).

    Example: mlops-tui pipeline run penguins --force train
    """
    from mlops_tui import pipelines

    pipeline = _load(name, file)
    if dry_run:
        res = _plan(pipeline, force)
        payload = {**res.to_json(), "dry_run": True}
        emit(payload, as_json, lambda: _render(res, f"pipeline {pipeline.name} (dry run: stale stages would run)"))
        return

    def progress(stage: Any) -> None:
        if stage.status == "running":
            err.print(f"{pipeline.name}: {stage.name} ({stage.kind}) running: {stage.reason} ...",
                      markup=False, soft_wrap=True)
        elif stage.status == "ran":  # a skipped stage warned when it ran
            for warning in stage.outputs.get("warnings", []):
                err.print(f"warning: {pipeline.name}: {stage.name}: {warning}", markup=False, soft_wrap=True)

    if when_drift is None:  # a missing input is the file's problem: nothing written, not even a workspace
        pipelines.check_inputs(pipeline)
    res = pipelines.run(workspace(create=True), pipeline, force=force, when_drift=when_drift, on_stage=progress)
    emit(res.to_json(), as_json, lambda: _render(res, f"pipeline {pipeline.name} run {res.run_id}: {res.status}"))
    stopped = next((s for s in res.stages if s.status in ("refused", "failed")), None)
    if stopped is not None and stopped.status == "refused":
        raise PolicyRefused(f"pipeline {pipeline.name}: stage {stopped.name} refused: {stopped.reason}")
    if stopped is not None:
        raise UserError(f"pipeline {pipeline.name}: stage {stopped.name} ({stopped.kind}) failed: {stopped.reason}")


def status(
    name: NameArg = None,
    file: FileOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Each stage fresh or stale, and why; runs nothing.

    Why: which input changed; and each stage's last outcome.

    Example: mlops-tui pipeline status penguins --json
    """
    pipeline = _load(name, file)
    res = _plan(pipeline)
    emit(res.to_json(), as_json, lambda: _render(res, f"pipeline {pipeline.name} ({pipeline.file})"))


def register(app: typer.Typer) -> None:
    group = GROUPS["pipeline"]
    group.command("run")(run)
    group.command("status")(status)
