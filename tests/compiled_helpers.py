"""Tiny real models for the compiled engine and export tests: one per task, each with a categorical
feature and missing values, trained on a registered dataset (the engine checks itself against it).

Compiling costs ~0.1 s per small tree with lleaves, so the models keep to a few rounds of 7 leaves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from tests.scoring_helpers import SAMPLE, signature_for, train_register

TASKS = ("binary", "multiclass", "regression")
# task -> (file, target, categorical columns, rows kept)
_DATA = {
    "binary": ("default.csv", "default", ("student",), 3000),
    "multiclass": ("penguins.csv", "species", ("island", "sex"), 344),
    "regression": ("bikeshare.csv", "bikers", ("mnth", "weathersit"), 3000),
}


def holes(frame: pl.DataFrame, *, seed: int, share: float, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """``frame`` with about ``share`` of the cells of every column but ``keep`` set missing."""
    rng = np.random.default_rng(seed)
    return frame.with_columns(
        pl.when(pl.Series(rng.random(frame.height) < share)).then(None).otherwise(pl.col(c)).alias(c)
        for c in frame.columns if c not in keep)


def task_frame(task: str) -> tuple[pl.DataFrame, str, tuple[str, ...]]:
    name, target, cats, rows = _DATA[task]
    frame = pl.read_csv(SAMPLE / name, null_values="NA").head(rows)
    if task == "regression":
        frame = frame.drop("date")
    keep = (target, "customer_id")
    return holes(frame, seed=1, share=0.1, keep=keep), target, cats


def tiny_model(ws, tmp_path: Path, task: str, *, rounds: int = 4, name: str | None = None):
    """Register the task's data (with holes) as a dataset and train a tiny model on it."""
    from mlops_tui.data import datasets

    frame, target, cats = task_frame(task)
    name = name or task
    csv = tmp_path / f"{name}.csv"
    frame.write_csv(csv)
    datasets.add(ws, str(csv), name=name, target=target)
    sig = signature_for(frame, target, task, categorical=cats,
                        id_columns=("customer_id",) if "customer_id" in frame.columns else ())
    model = train_register(ws, frame, sig, name=name, rounds=rounds, dataset=name, num_leaves=7)
    return model, frame
