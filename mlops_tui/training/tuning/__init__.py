"""Tuning runs: Optuna studies of LightGBM that survive SSH drops, stop, resume and end in a model.

The public API (CLI, TUI, monitoring) — nothing heavy is imported until a function runs:

* ``start(ws, TuneOptions(...), detach=...)`` validate, create the run, tune (or detach) → Run
* ``stop(ws, run_id)``, ``resume(ws, run_id, trials=None, detach=...)``, ``sweep(ws)``
* ``log_path(ws, run_id)`` the run's log file
* ``train_and_register(ws, dataset=, config=, params=, model_name=, run_id=)`` → (model, metrics,
  prepared), shared by the end of a run, `retrain` and `run reproduce`

Modules: ``space`` (search space), ``study`` (one worker's Optuna loop, trials mirrored into the
store), ``worker`` (supervisor and detached/parallel processes), ``train`` (fit, save, register),
``control`` (validation, start/stop/resume), ``sweep`` (runs and trials whose process died),
``protocol`` (split seed, folds or one validation split, workers) and ``budget`` (`--timeout`);
a study shared by several hosts (PostgreSQL): ``rdb`` (its storage), ``remote`` (`mlops-tui
worker`, the trial loop of its workers), ``coordinator`` (mirrors it into the store).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.training.tuning.control import (
    TuneOptions,
    get,
    resume,
    start,
    stop,
    validate,
)
from mlops_tui.training.tuning.sweep import sweep, sweep_run

if TYPE_CHECKING:
    from mlops_tui.workspace import Workspace


def log_path(ws: Workspace, run_id: str) -> Path:
    """runs/<run_id>/run.log: the run's worker output (what `run logs` prints)."""
    from mlops_tui.training.tuning.worker import log_path as path

    return path(ws, run_id)

def __getattr__(name: str) -> Any:
    """``train_and_register`` loads polars/numpy: import it on first use, so `run list` stays light."""
    if name == "train_and_register":
        from mlops_tui.training.tuning.train import train_and_register

        return train_and_register
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TuneOptions", "get", "log_path", "resume", "start", "stop", "sweep", "sweep_run",
           "train_and_register", "validate"]
