"""Holdout evaluation of a model, stored with its run (issue 4 fills the details).

`record_holdout` is the one entry point tuning calls after registering a model; evaluation
details (curves, importances, slices) grow here without touching the tuning code.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightgbm as lgb
    import polars as pl

    from mlops_tui.signature import Signature
    from mlops_tui.workspace import Workspace
    from store import Evaluation, ModelVersion


def record_holdout(
    ws: Workspace,
    *,
    run_id: str | None,
    model: ModelVersion,
    booster: lgb.Booster,
    signature: Signature,
    test_df: pl.DataFrame,
    metrics: dict[str, Any],
    kind: str = "holdout",
) -> Evaluation:
    """Store the evaluation of ``model`` on ``test_df`` (raw rows incl. the target)."""
    return ws.store.runs.add_evaluation(
        eval_id=uuid.uuid4().hex[:12], run_id=run_id, model_name=model.name,
        model_version=model.version, dataset=model.dataset or "", dataset_version=model.dataset_version or 0,
        kind=kind, task=signature.task, metrics=metrics,
    )
