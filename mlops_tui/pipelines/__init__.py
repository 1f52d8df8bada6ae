"""Pipelines: the lifecycle declared in `pipeline.toml` and re-run like `dvc repro` (issue 17).

* :mod:`~mlops_tui.pipelines.spec` — the file: stages of kinds data, tune, evaluate, gate, promote,
  deploy, score; references by stage name; checked in full before anything runs.
* :mod:`~mlops_tui.pipelines.stages` — what each kind does (the existing commands).
* :mod:`~mlops_tui.pipelines.runner` — fingerprints, skipping, recording, `--when-drift`.

The API the CLI and the TUI call: ``load(ws_root, file, name)``, ``last_file(ws_root)``, ``last_status(ws, name)``, ``plan(ws, pipeline, force=)``,
``run(ws, pipeline, force=, when_drift=, on_stage=)``;
``made(outputs)`` (a stage's outputs in words), ``check_inputs(pipeline)`` refuses a run whose input files are missing (before a workspace is made).
"""

from mlops_tui.pipelines.runner import (
    PipelineResult,
    StageResult,
    check_inputs,
    last_file,
    last_status,
    load,
    made,
    plan,
    run,
)

__all__ = ["PipelineResult", "StageResult", "check_inputs", "last_file", "last_status", "load", "made", "plan", "run"]
