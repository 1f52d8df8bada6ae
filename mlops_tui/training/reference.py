"""A model's drift reference: statistics of exactly the rows it was fitted on, kept beside it.

Drift compares scored data with the data a model *learnt from*. That set is known only while the
model is trained, so :func:`mlops_tui.training.tuning.train.train_and_register` hands the frame it
fits the final model on to :func:`write` (``<sha>.reference.json`` next to ``<sha>.txt``). Whatever
decides those rows (a random or time split today; cross-validation folds or a fixed holdout per
dataset version tomorrow) the reference follows, because it is built from the fitted frame itself,
not re-derived afterwards. Rebuilding it later by matching the dataset snapshot against the holdout
on values was wrong: every training row equal to some holdout row vanished with it, so groups of
identical rows (crew on a passenger list) were under-represented and same-distribution data alarmed.

Contents (JSON, no pickle), per feature in the model's encoding: decile edges and counts, mean and a
row sample (numeric); counts per category and of missing codes (categorical); null rates; and the
distribution of the model's own output on those rows (bins and a sample, or predicted-class counts).
Models registered before this file existed get a reference built from their dataset snapshot on
first use (``mlops_tui.serving.drift.load_reference``); ``basis`` says which kind a file is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_tui.training.signature import Signature, encode

Reference = dict[str, Any]
"""The stored reference (JSON beside the model): per feature its bins or category counts, keyed by
the model's feature names."""

if TYPE_CHECKING:
    import lightgbm as lgb
    import polars as pl

FORMAT = 4  # 4: built from the fitted rows at training time (3 and older: snapshot anti-joined on values)
N_BINS = 10
SAMPLE_SIZE = 5000  # rows kept per numeric feature (and of the prediction) for the KS test
MAX_ROWS = 200_000  # rows the statistics are computed on (every k-th row beyond)
PRED_ROWS = 20_000  # rows predicted for the prediction reference
FITTED = "fitted rows"  # ``basis`` of a reference written at training time


def path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".reference.json")


def quantile_edges(values: np.ndarray, n_bins: int = N_BINS) -> list[float]:
    """Inner edges of the training deciles; ties collapse (a 0/1 feature keeps two bins)."""
    if values.size == 0:
        return []
    qs = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    return [float(e) for e in np.unique(qs)]


def bin_counts(values: np.ndarray, edges: np.ndarray, nans: int = 0) -> np.ndarray:
    """Counts of non-missing ``values`` in right-closed bins (-inf, e1], (e1, e2], ..., (ek, inf).

    ``nans``: how many of ``values`` are NaN (NaN compares false to every edge, so it would land
    in the last bin: it is taken off there, which saves the scorer a filtered copy per column).
    """
    # One vectorised comparison per edge: ~10x faster than searchsorted's per-value binary search.
    below = [np.count_nonzero(values <= e) for e in edges]
    return np.diff(np.array([0, *below, values.size - nans], dtype=np.int64))


def build(sig: Signature, booster: lgb.Booster, df: pl.DataFrame, *, model_sha256: str, dataset: str,
          basis: str = FITTED, seed: int = 0) -> Reference:
    """The reference of the rows in ``df`` (raw columns, as in the dataset) for this model."""
    if df.height > MAX_ROWS:  # every k-th row: bounded work, spread over the whole frame
        df = df.gather_every(math.ceil(df.height / MAX_ROWS))
    X, _ = encode(df, sig)
    rng = np.random.default_rng(seed)
    n = X.height
    sample_idx = np.sort(rng.choice(n, size=min(n, SAMPLE_SIZE), replace=False))
    features: dict[str, Any] = {}
    for f in sig.features:
        col = X[f.name].to_numpy().astype(float)
        ok = col[~np.isnan(col)]
        entry: dict[str, Any] = {"kind": f.kind, "null_rate": float(1 - ok.size / n) if n else 0.0}
        if f.kind == "categorical":
            entry["categories"] = list(f.categories)
            entry["counts"] = np.bincount(ok.astype(np.int64), minlength=len(f.categories)).tolist()
            entry["nulls"] = int(n - ok.size)
        else:
            edges = quantile_edges(ok)
            entry.update(edges=edges, counts=bin_counts(ok, np.asarray(edges)).tolist(),
                         mean=float(ok.mean()) if ok.size else None,
                         sample=[None if math.isnan(v) else v for v in col[sample_idx].tolist()])
        features[f.name] = entry
    pred_idx = np.sort(rng.choice(n, size=min(n, PRED_ROWS), replace=False))
    raw = np.asarray(booster.predict(X.to_numpy()[pred_idx]))
    return {"format": FORMAT, "model_sha256": model_sha256, "dataset": dataset, "basis": basis, "rows": n,
            "features": features, "prediction": _prediction(raw, sig, rng)}


def _prediction(raw: np.ndarray, sig: Signature, rng: np.random.Generator) -> dict[str, Any]:
    if raw.ndim == 2:
        counts = np.bincount(raw.argmax(axis=1), minlength=raw.shape[1])
        return {"kind": "classes", "classes": [str(c) for c in sig.classes], "counts": counts.tolist()}
    edges = quantile_edges(raw)
    sample = raw[np.sort(rng.choice(raw.size, size=min(raw.size, SAMPLE_SIZE), replace=False))]
    return {"kind": "numeric", "edges": edges, "counts": bin_counts(raw, np.asarray(edges)).tolist(),
            "mean": float(raw.mean()), "sample": sample.tolist()}


def write(model_path: Path, ref: dict[str, Any]) -> Path:
    """Store ``ref`` beside the model file, atomically; returns its path."""
    from mlops_tui.training.modelfile import atomic_write_bytes

    path = path_for(model_path)
    atomic_write_bytes(path, json.dumps(ref).encode())
    return path


def read(model_path: Path, model_sha256: str) -> Reference | None:
    """The stored reference of this model file, or None (none yet, an older format, damaged)."""
    try:
        ref = json.loads(path_for(model_path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    ok = isinstance(ref, dict) and ref.get("format") == FORMAT and ref.get("model_sha256") == model_sha256
    return ref if ok else None
