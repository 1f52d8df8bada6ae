"""Reading stored evaluations: which one is a run's or a model's holdout, and its details file.

Kept apart from :mod:`mlops_tui.evaluation.evaluate` (which scores models and needs polars, numpy and
scikit-learn) so `run compare`, the gate and the TUI read evaluations without importing any of
them. :mod:`mlops_tui.evaluation.evaluate` re-exports everything here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mlops_tui.store import Evaluation, ModelVersion
    from mlops_tui.workspace import Workspace

# Keys of an evaluation's metrics that describe it rather than measure the model.
META_KEYS = {"primary_metric", "threshold", "threshold_for", "best_f1_threshold", "holdout_rows", "holdout_hash"}

Details = dict[str, Any]
"""An evaluation's details file as stored (curves, importances, slices: :mod:`mlops_tui.evaluation.details`);
its parts depend on the task and on what could be measured, and old files stay readable."""


def load_details(ws: Workspace, ev: Evaluation) -> Details | None:
    return read_details(ws, ev.details_path)


def read_details(ws: Workspace, details_path: str | None) -> Details | None:
    """The details file at ``details_path`` (relative to the workspace); None if absent or unreadable."""
    if not details_path:
        return None
    try:
        return cast("Details", json.loads(ws.abspath(details_path).read_text()))
    except (OSError, json.JSONDecodeError):
        return None


def holdout_evaluations(evaluations: list[Evaluation]) -> dict[str, Evaluation]:
    """The latest holdout evaluation per run id."""
    out: dict[str, Evaluation] = {}
    for ev in evaluations:  # the store returns them oldest first
        if ev.run_id and ev.kind == "holdout":
            out[ev.run_id] = ev
    return out


def holdout_of_run(ws: Workspace, run_id: str) -> Evaluation | None:
    return holdout_evaluations(ws.store.runs.evaluations(run_id=run_id, kind="holdout")).get(run_id)


def holdout_of_model(ws: Workspace, model: ModelVersion) -> Evaluation | None:
    evs = ws.store.runs.evaluations(model_name=model.name, model_version=model.version, kind="holdout")
    return evs[-1] if evs else None


def details_for_run(ws: Workspace, run_id: str) -> Details | None:
    """The details (curves, importances, slices) of a run's holdout evaluation, if any."""
    ev = holdout_of_run(ws, run_id)
    return load_details(ws, ev) if ev else None
