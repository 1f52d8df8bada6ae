"""Drift of a scoring job against the model's training data, computed while scoring.

Interface used by scoring (issue 5); the statistics are issue 7's. The scorer creates one
tracker per job, feeds it every batch it already has in memory (no second pass over the data),
and asks for the results at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlops_tui.workspace import Workspace
    from store import DriftResult, ModelVersion


class DriftTracker:
    def __init__(self, ws: Workspace, model: ModelVersion) -> None:
        self.ws = ws
        self.model = model

    def update(self, features: pl.DataFrame, predictions: np.ndarray) -> None:
        """One batch: the encoded feature frame (signature order) and the model's raw output."""

    def finish(self, job_id: str) -> tuple[str, float | None, list[DriftResult], dict[str, Any]]:
        """(job status ok|warn|alert, prediction drift, per-feature results, summary)."""
        return "ok", None, [], {}
