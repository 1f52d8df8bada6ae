"""`deploy` and `score`: batch-scoring deployments (see the README's CLI contract). Thin: parse, call, emit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from mlops_tui.cli._common import JsonFlag, emit, err, out, styled, workspace

EngineOption = Annotated[str | None, typer.Option(
    "--engine", help="local (LightGBM) or compiled (native code, checked against LightGBM; needs the "
                     "'compiled' extra). Default: the deployment's engine, else [deploy] engine in config.toml.")]


@contextmanager
def stages() -> Iterator[Callable[[str], None]]:
    """Long steps (compiling a model) on stderr: a spinner with the elapsed time at a terminal,
    otherwise one line per step (so logs of scripts and cron show where the time went)."""
    if not err.is_terminal:
        yield lambda text: err.print(f"{text} ...", markup=False, soft_wrap=True)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                   transient=True)
    task = bar.add_task("", total=None)
    with bar:
        yield lambda text: bar.update(task, description=text)


def engine_text(engine: str, info: dict[str, Any] | None) -> str:
    """`compiled (lleaves, compiled in 12.3 s; max abs diff 0 on 4,000 rows)` for people."""
    if not info:
        return engine
    check = info.get("check", {})
    how = "cached" if info.get("cached") else f"compiled in {info.get('compile_seconds', 0):.1f} s"
    return (f"{engine} ({info.get('backend', '')}, {how}; max abs diff {check.get('max_abs_diff', 0):.3g} "
            f"vs LightGBM on {check.get('rows', 0):,} rows)")


def deploy(
    model_ref: Annotated[str, typer.Argument(metavar="MODEL_REF", help="NAME, NAME:VERSION or NAME@ALIAS.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Deployment name (created or repointed).")],
    force: Annotated[bool, typer.Option("--force", help="Deploy even if the validation gate refuses (recorded).")] = False,
    output_dir: Annotated[str | None, typer.Option("--output-dir", help="Default folder for this deployment's outputs.")] = None,
    engine: EngineOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Point a batch-scoring deployment at a model version.

    The validation gate is checked (exit 3 if refused).

    With --engine compiled the model is compiled to native code once (cached in the workspace by its
    sha256) and checked against LightGBM on its training rows; exit 1 if it differs by more than 1e-9.

    Example: mlops-tui deploy credit@production --name credit-nightly --engine compiled
    """
    from mlops_tui.registry import models as registry
    from mlops_tui.registry.gate import shared_failures, within_noise

    ws = workspace()
    with stages() as stage:
        dep = registry.deploy(ws, model_ref, name, force=force, output_dir=output_dir, engine=engine, stage=stage)
    info = dep.engine_info or {}
    payload = {"deployment": dep.name, "model": dep.model_name, "version": dep.model_version,
               "forced": dep.forced, "gate": dep.gate, "output_dir": str(registry.deployment_output_dir(ws, dep)),
               "engine": dep.engine, "max_abs_diff": info.get("check", {}).get("max_abs_diff"),
               "engine_info": dep.engine_info}
    emit(payload, as_json, lambda: out.print(styled(
        f"deployment {dep.name} → {dep.model_name}:{dep.model_version}, engine {engine_text(dep.engine, info)}",
        (" (forced past the gate)", "bold red") if dep.forced else ""), soft_wrap=True))
    if shared := shared_failures((dep.gate or {}).get("checks", {})):
        err.print(f"note: {dep.model_name}:{dep.model_version} passed the gate although {'; '.join(shared)}",
                  markup=False, soft_wrap=True)
    for phrase in within_noise((dep.gate or {}).get("checks", {})):
        err.print(f"warning: {dep.model_name}:{dep.model_version} passed the gate's no-skill check: {phrase}",
                  markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(score)


def score(
    target: Annotated[str, typer.Argument(metavar="DEP_OR_MODEL_REF", help="A deployment name, or a model NAME, NAME:VERSION, NAME@ALIAS.")],
    inputs: Annotated[list[str], typer.Argument(metavar="INPUT", help="CSV or Parquet files, or globs (quote them).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output file: .parquet, or .csv for CSV "
                                               "(or a folder); default: the deployment's output folder.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1000, help="Rows per batch.")] = 100_000,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="local (LightGBM), compiled (the deployment's compiled model), or dask: partitions "
                         "scored on a Dask cluster into a folder of part files. Default: the deployment's "
                         "engine (local for a model).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="With --engine dask: the scheduler "
                                                  "(tcp://HOST:8786); default a cluster on this machine.")] = None,
    partition_rows: Annotated[int | None, typer.Option("--partition-rows", min=1000, help="With --engine dask: "
                                                       "rows of a Parquet input per task (a CSV file is one).")] = None,
    keep: Annotated[list[str] | None, typer.Option(
        "--keep", help="Input column(s) to carry into the output, e.g. --keep pid,order_id; a deployment "
                       "remembers them for later jobs (--keep '' forgets them).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score files with a deployment or model.

    Streaming, schema-checked, atomic Parquet or CSV output.

    Exit 0 on success, 1 on failure with the reason (the job is recorded either way); never prompts.
    The job records the engine that scored it; a compiled model not cached yet is compiled first.

    Example: mlops-tui score credit-nightly 'incoming/*.csv' --keep order_id --output scores/today.parquet --json

    Example: mlops-tui score credit-nightly 'big/*.parquet' --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from mlops_tui.cli._common import err
    from mlops_tui.serving import scoring

    ws = workspace()
    kept = None if keep is None else [c.strip() for k in keep for c in k.split(",") if c.strip()]
    progress = None

    def stage(text: str) -> None:
        err.print(f"{text} ...", markup=False, soft_wrap=True)

    if err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=err, transient=True)
        task = bar.add_task("rows", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        with bar:
            job = scoring.score(ws, target, inputs, output, keep=kept, progress=progress, chunk_size=batch_size,
                                engine=engine, scheduler=scheduler, partition_rows=partition_rows, stage=stage)
    else:
        job = scoring.score(ws, target, inputs, output, keep=kept, chunk_size=batch_size, engine=engine, scheduler=scheduler,
                            partition_rows=partition_rows, stage=stage)
    out_path = ws.abspath(job.output) if job.output and not job.output.startswith("/") else job.output
    payload = {
        "job_id": job.job_id, "status": job.status, "rows": job.rows_out, "output": str(out_path),
        "model": job.model_name, "version": job.model_version, "deployment": job.deployment,
        "seconds": job.seconds, "rows_per_s": job.rows_per_s, "unseen": job.unseen, "warnings": job.warnings,
        "inputs": job.inputs, "drift_status": job.drift_status, "prediction_drift": job.prediction_drift,
        "kept": list(job.kept), "engine": job.engine, **({"scheduler": job.cluster["scheduler"], "workers": job.cluster["workers"]}
                                 if job.cluster else {}),
    }

    def render() -> None:
        out.print(f"scored {job.rows_out:,} rows with {job.model_name}:{job.model_version} ({job.engine}) in "
                  f"{job.seconds:.2f} s ({job.rows_per_s or 0:,.0f} rows/s) → {out_path}  [job {job.job_id}]")
        if job.kept:
            out.print(f"kept input columns: {', '.join(job.kept)}", markup=False)
        if job.cluster:
            hosts = sorted({w["host"] for w in job.cluster["workers"]})
            out.print(f"on Dask ({job.cluster['scheduler']}): {len(job.cluster['workers'])} worker(s) on "
                      f"{', '.join(hosts)}")
        for col, n in job.unseen.items():
            if any(w.startswith(scoring.all_unseen_prefix(col)) for w in job.warnings):
                continue  # every value unseen: its warning below says so, with the values the model learnt
            err.print(f"note: {n:,} value(s) of {col!r} were never seen in training; scored as missing",
                      markup=False, soft_wrap=True)
        for w in job.warnings:
            err.print(f"warning: {w}", markup=False, soft_wrap=True)

    emit(payload, as_json, render)
