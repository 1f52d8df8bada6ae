"""Helpers for the registry and scoring tests: real LightGBM models on real or generated data.

Models are built the way `mlops-tui tune` builds them (signature.encode → lgb.train →
modelfile.save_model → store.models.register) without waiting for the tuning code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def signature_for(df: pl.DataFrame, target: str, task: str, *, categorical: tuple[str, ...] = (),
                  exclude: tuple[str, ...] = (), id_columns: tuple[str, ...] = ()):
    from mlops_tui.training.signature import Feature, Signature, categories_of

    feats = []
    for name in df.columns:
        if name == target or name in exclude or name in id_columns:
            continue
        if name in categorical:
            feats.append(Feature(name, "categorical", name, str(df.schema[name]),
                                 categories_of(df[name].to_list())))
        else:
            feats.append(Feature(name, "numeric", name, str(df.schema[name])))
    classes = categories_of(df[target].to_list()) if task != "regression" else ()
    return Signature(task, target, tuple(feats), classes, id_columns)


def train_register(ws, df: pl.DataFrame, sig, *, name: str, rounds: int = 10,
                   metrics: dict[str, Any] | None = None, dataset: str | None = None,
                   seed: int = 0, num_leaves: int = 15):
    """Train a small booster on ``df`` with ``sig``, save it and register it; returns the ModelVersion."""
    import lightgbm as lgb

    from mlops_tui.training.modelfile import save_model
    from mlops_tui.training.signature import encode

    X, _ = encode(df, sig)
    y_raw = df[sig.target]
    params: dict[str, Any] = {"verbose": -1, "seed": seed, "num_leaves": num_leaves, "num_threads": 1}
    if sig.task == "regression":
        y = y_raw.cast(pl.Float64).to_numpy()
        params["objective"] = "regression"
    else:
        lookup = {c: i for i, c in enumerate(sig.classes)}
        y = np.array([lookup[str(v)] for v in y_raw.to_list()])
        if sig.task == "binary":
            params["objective"] = "binary"
        else:
            params.update(objective="multiclass", num_class=len(sig.classes))
    ds = lgb.Dataset(X.to_numpy(), label=y, feature_name=sig.feature_names,
                     categorical_feature=sig.categorical_names or "auto", free_raw_data=True)
    booster = lgb.train(params, ds, num_boost_round=rounds)
    path, digest = save_model(booster, {"signature": sig.to_json(), "task": sig.task},
                              ws.artifacts / "models")
    metrics = {"primary_metric": "score", "score": 0.8, **(metrics or {})}
    return ws.store.models.register(name=name, path=ws.relpath(path), sha256=digest, task=sig.task,
                                    signature=sig.to_json(), dataset=dataset,
                                    dataset_version=1 if dataset else None, metrics=metrics)


def default_df() -> pl.DataFrame:
    return pl.read_csv(SAMPLE / "default.csv")


def credit_model(ws, *, name: str = "credit", rounds: int = 10, metrics: dict[str, Any] | None = None):
    """Binary classifier on sample_data/default.csv: categorical `student`, id `customer_id`."""
    df = default_df()
    sig = signature_for(df, "default", "binary", categorical=("student",), id_columns=("customer_id",))
    return train_register(ws, df, sig, name=name, rounds=rounds, metrics=metrics, dataset="default")


def penguins_model(ws, *, name: str = "penguins", rounds: int = 5):
    df = pl.read_csv(SAMPLE / "penguins.csv")
    sig = signature_for(df, "species", "multiclass", categorical=("island", "sex"))
    return train_register(ws, df, sig, name=name, rounds=rounds, dataset="penguins")


def synthetic(n: int, n_features: int = 10, seed: int = 0) -> pl.DataFrame:
    """A numeric regression table with an `id` column (for memory, kill and speed tests)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    y = X @ rng.standard_normal(n_features) + 0.1 * rng.standard_normal(n)
    cols = {"id": np.arange(n, dtype=np.int64)}
    cols.update({f"f{i}": X[:, i] for i in range(n_features)})
    cols["y"] = y
    return pl.DataFrame(cols)


def write_synthetic_parquet(path: Path, n: int, n_features: int = 10, chunk: int = 500_000) -> Path:
    """Write ``n`` generated rows in chunks (the writer never holds more than one chunk)."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for start in range(0, n, chunk):
            part = synthetic(min(chunk, n - start), n_features, seed=start)
            part = part.with_columns(pl.col("id") + start)
            table = part.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=100_000)
    finally:
        if writer is not None:
            writer.close()
    return path


def synthetic_model(ws, *, name: str = "synth", n_features: int = 10, rounds: int = 20,
                    n_train: int = 5000, num_leaves: int = 15):
    df = synthetic(n_train, n_features)
    sig = signature_for(df, "y", "regression", id_columns=("id",))
    return train_register(ws, df, sig, name=name, rounds=rounds, num_leaves=num_leaves)
