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


SMALL_SPACE = "num_boost_round = 40\nearly_stopping_rounds = 10\n"


def add_dataset(ws, df: pl.DataFrame, folder: Path, name: str = "bike", target: str = "bikers"):
    """Register ``df`` the way `dataset add` does (through a CSV file)."""
    from mlops_tui.data import datasets

    path = folder / f"{name}-{df.height}-{abs(hash(tuple(df.columns))) % 10_000}.csv"
    df.write_csv(path)
    dv, _ = datasets.add(ws, str(path), name=name, target=target)
    return dv


def tune_small(ws, dataset_ref: str, folder: Path, *, name: str = "bikes", trials: int = 2, seed: int = 0):
    """A real tuning run (few trials, few rounds) ending in a registered model; returns the Run."""
    from mlops_tui.training import tuning

    space = folder / "space.toml"
    space.write_text(SMALL_SPACE)
    return tuning.start(ws, tuning.TuneOptions(dataset=dataset_ref, trials=trials, space_file=str(space),
                                               name=name, seed=seed), detach=False)


def with_ids(df: pl.DataFrame, start: int = 0) -> pl.DataFrame:
    """Add a `ride_id` column so scoring output and feedback labels can be joined."""
    return df.with_row_index("ride_id", offset=start).with_columns(pl.col("ride_id").cast(pl.Int64))


def invoke(capsys, root: Path, *args: str):
    """`mlops-tui --workspace ROOT ARGS...` in this process (like the `cli` fixture, any workspace)."""
    from tests.conftest import run_cli

    return run_cli(capsys, root, *args)
