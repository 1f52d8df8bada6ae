"""Helpers for the monitoring tests: a registered dataset version + a real LightGBM model on it.

Built from the stored pieces (Parquet snapshot → store.datasets → signature.encode → lgb.train
→ modelfile.save_model → store.models.register) so drift can be tested without the tuning code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from tests.scoring_helpers import SAMPLE, signature_for, train_register

FIRST_HALF = ["Jan", "Feb", "March", "April", "May", "June"]


def bikeshare() -> pl.DataFrame:
    return pl.read_csv(SAMPLE / "bikeshare.csv")


def register_dataset(ws, df: pl.DataFrame, name: str, target: str, task: str):
    """Write ``df`` as a content-addressed snapshot and register it as the next version of ``name``."""
    folder = ws.artifacts / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp.parquet"
    df.write_parquet(tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    path = folder / f"{digest[:16]}.parquet"
    tmp.replace(path)
    schema = [{"name": c, "dtype": str(t), "nullable": True} for c, t in df.schema.items()]
    dv, _ = ws.store.datasets.add_version(name=name, hash=digest, path=ws.relpath(path), source=str(path),
                                          rows=df.height, columns=df.width, target=target, task=task,
                                          schema=schema, profile={})
    return dv


def bike_model(ws, train: pl.DataFrame, *, name: str = "bikes", rounds: int = 20):
    """A regression model on ``train`` (registered as dataset `bike`), categorical month/weather."""
    dv = register_dataset(ws, train, "bike", "bikers", "regression")
    sig = signature_for(train, "bikers", "regression", categorical=("mnth", "weathersit"), exclude=("date",))
    model = train_register(ws, train, sig, name=name, rounds=rounds, dataset="bike",
                           metrics={"primary_metric": "rmse", "rmse": 60.0})
    assert model.dataset_version == dv.version == 1
    return model


def write_csv(df: pl.DataFrame, path: Path) -> Path:
    df.write_csv(path)
    return path
