"""Drift of a scoring job against the model's training data, computed while scoring.

The scorer creates one :class:`DriftTracker` per job, feeds it every batch it already has in
memory (the encoded feature frame and the model's raw output) and asks for the results at the
end, so drift costs no second pass over the data and constant memory:

* numeric features and the prediction: counts in the training data's decile bins (PSI), a
  bottom-k random sample (≤ 5000 rows, uniform whatever the job size) for scipy's two-sample KS
  test, null counts and running sums for the mean;
* categorical features (float codes, NaN for missing or unseen): counts per category (a PSI over
  category frequencies) and the excess of missing codes over the training rate, which is how
  categories never seen in training show up after encoding;
* multiclass predictions: the frequency of each predicted class.

Reference statistics come from the dataset version the model was trained on, less the run's
holdout rows, encoded with the model's own signature (every k-th row beyond 200k rows), and are cached beside the model file
(``<sha>.reference.json``) so only the first job of a model pays for them. Thresholds come from ``[drift]`` in config.toml.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlops_tui.store import DriftResult, NotFoundError
from mlops_tui.training.signature import Signature, encode

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

REFERENCE_FORMAT = 3
N_BINS = 10
SAMPLE_SIZE = 5000
REFERENCE_ROWS = 200_000  # training rows read for the reference (deciles and frequencies)
PRED_REFERENCE_ROWS = 20_000  # rows of training data predicted for the prediction reference
ASYMPTOTIC_KS_ROWS = 500  # from this many rows a side, KS p-values come from the asymptotic distribution
MIN_ROWS = 100  # below this, sampling noise alone can exceed the PSI thresholds: cap at "warn"
PREDICTION = "__prediction__"
EPS = 1e-4
DEFAULTS = {"psi_warn": 0.1, "psi_alert": 0.25, "ks_pvalue_alert": 0.001,
            "null_rate_warn": 0.05, "null_rate_alert": 0.25}
RANK = {"ok": 0, "warn": 1, "alert": 2}


# -- statistics ----------------------------------------------------------------------------------
def psi(ref: np.ndarray | list[float], cur: np.ndarray | list[float]) -> float | None:
    """Population stability index between two count (or proportion) vectors of the same bins."""
    r, c = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    if r.sum() <= 0 or c.sum() <= 0:
        return None
    r = np.clip(r / r.sum(), EPS, None)
    c = np.clip(c / c.sum(), EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(values: np.ndarray, n_bins: int = N_BINS) -> list[float]:
    """Inner edges of the training deciles; ties collapse (a 0/1 feature keeps two bins)."""
    if values.size == 0:
        return []
    qs = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    return [float(e) for e in np.unique(qs)]


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of non-missing ``values`` in right-closed bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    # One vectorised comparison per edge: ~10x faster than searchsorted's per-value binary search.
    below = [np.count_nonzero(values <= e) for e in edges]
    return np.diff(np.array([0, *below, values.size], dtype=np.int64))


def ks_test(ref: list[float] | np.ndarray, cur: np.ndarray) -> tuple[float | None, float | None]:
    from scipy.stats import ks_2samp

    r = np.asarray(ref, dtype=float)
    r, c = r[~np.isnan(r)], cur[~np.isnan(cur)]
    if r.size < 2 or c.size < 2:
        return None, None
    # scipy's "auto" computes the exact p-value up to 10,000 rows a side: O(n·m), 0.2 s per
    # feature at our 5,000-row samples (seconds per job on a wide model). From a few hundred rows
    # a side the asymptotic distribution is accurate far below the alert threshold.
    res = ks_2samp(r, c, method="asymp" if min(r.size, c.size) >= ASYMPTOTIC_KS_ROWS else "auto")
    return float(res.statistic), float(res.pvalue)


def thresholds(ws: Workspace) -> dict[str, float]:
    conf = ws.config.get("drift", {}) or {}
    return {k: float(conf.get(k, v)) for k, v in DEFAULTS.items()}


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: RANK.get(s, -1), default="ok")


def _classes_of(raw: np.ndarray) -> np.ndarray:
    return raw.argmax(axis=1)


# -- the reference ---------------------------------------------------------------------------------
def reference_path(ws: Workspace, model: ModelVersion) -> Path:
    return ws.abspath(model.path).with_suffix(".reference.json")


def _training_frame(ws: Workspace, model: ModelVersion, sig: Signature) -> pl.DataFrame | None:
    """The model's training snapshot (only the columns it reads), or None when unknown."""
    from mlops_tui.data import datasets

    if not model.dataset:
        return None
    try:
        dv = ws.store.datasets.get(model.dataset, model.dataset_version)
    except NotFoundError:
        return None
    if not ws.abspath(dv.path).exists():
        return None
    lf = datasets.scan(ws, dv).select(sig.source_columns)
    if dv.rows > REFERENCE_ROWS:  # every k-th row: bounded memory, spread over the whole file
        lf = lf.gather_every(math.ceil(dv.rows / REFERENCE_ROWS))
    return _without_holdout(ws, model, lf.collect())


def _without_holdout(ws: Workspace, model: ModelVersion, df: pl.DataFrame) -> pl.DataFrame:
    """Drop the run's holdout rows (runs/<id>/holdout.parquet), leaving what the model learnt from.

    With a time split the holdout is the latest period: left in, it would make e.g. its month look
    like a known category. Rows are matched on every feature column of the same type; when that
    is impossible or removes nothing (or everything), the whole snapshot is the reference.
    """
    path = ws.run_dir(model.run_id) / "holdout.parquet" if model.run_id else None
    if path is None or not path.exists():
        return df
    holdout = pl.scan_parquet(path)
    schema = holdout.collect_schema()
    keys = [c for c in df.columns if schema.get(c) == df.schema[c]]
    if not keys:
        return df
    rest = df.join(holdout.select(keys).unique().collect(), on=keys, how="anti", nulls_equal=True)
    return rest if 0 < rest.height < df.height else df


def build_reference(ws: Workspace, model: ModelVersion, df: pl.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Per-feature bins, frequencies, null rates and a sample, plus the prediction distribution."""
    from mlops_tui.registry import models as registry

    sig = Signature.from_json(model.signature)
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
            counts = np.bincount(ok.astype(np.int64), minlength=len(f.categories))
            entry["categories"] = list(f.categories)
            entry["counts"] = counts.tolist()
            entry["nulls"] = int(n - ok.size)
        else:
            edges = quantile_edges(ok)
            entry.update(edges=edges, counts=bin_counts(ok, np.asarray(edges)).tolist(),
                         mean=float(ok.mean()) if ok.size else None,
                         sample=[None if math.isnan(v) else v for v in col[sample_idx].tolist()])
        features[f.name] = entry
    booster, _ = registry.load(ws, model)
    pred_idx = np.sort(rng.choice(n, size=min(n, PRED_REFERENCE_ROWS), replace=False))
    raw = np.asarray(booster.predict(X.to_numpy()[pred_idx]))
    return {"format": REFERENCE_FORMAT, "model": model.ref, "model_sha256": model.sha256,
            "dataset": f"{model.dataset}:{model.dataset_version}", "rows": n,
            "features": features, "prediction": _prediction_reference(raw, sig, rng)}


def _prediction_reference(raw: np.ndarray, sig: Signature, rng: np.random.Generator) -> dict[str, Any]:
    if raw.ndim == 2:
        counts = np.bincount(_classes_of(raw), minlength=raw.shape[1])
        return {"kind": "classes", "classes": [str(c) for c in sig.classes], "counts": counts.tolist()}
    edges = quantile_edges(raw)
    sample = raw[np.sort(rng.choice(raw.size, size=min(raw.size, SAMPLE_SIZE), replace=False))]
    return {"kind": "numeric", "edges": edges, "counts": bin_counts(raw, np.asarray(edges)).tolist(),
            "mean": float(raw.mean()), "sample": sample.tolist()}


def load_reference(ws: Workspace, model: ModelVersion) -> dict[str, Any] | None:
    """The cached reference of ``model``, computing and caching it on first use; None if no data."""
    from mlops_tui.training.modelfile import atomic_write_bytes

    path = reference_path(ws, model)
    if path.exists():
        try:
            ref = json.loads(path.read_text())
            if ref.get("format") == REFERENCE_FORMAT and ref.get("model_sha256") == model.sha256:
                return ref
        except (OSError, json.JSONDecodeError):
            pass  # recompute a damaged cache
    sig = Signature.from_json(model.signature)
    df = _training_frame(ws, model, sig)
    if df is None or df.height == 0:
        return None
    ref = build_reference(ws, model, df)
    atomic_write_bytes(path, json.dumps(ref).encode())
    return ref


# -- the tracker -------------------------------------------------------------------------------------
class _Column:
    """Streaming counters of one numeric column (a feature or a 1-D prediction)."""

    def __init__(self, edges: list[float]) -> None:
        self.edges = np.asarray(edges, dtype=float)
        self.counts = np.zeros(len(edges) + 1, dtype=np.int64)
        self.nulls = 0
        self.total = 0.0

    def update(self, col: np.ndarray) -> None:
        nan = np.isnan(col)
        n_nan = int(nan.sum())
        ok = col[~nan] if n_nan else col
        self.nulls += n_nan
        self.total += float(ok.sum())
        self.counts += bin_counts(ok, self.edges)


class _Sample:
    """A uniform sample of rows without replacement in constant memory (bottom-k random keys).

    Every row gets a random key and the k smallest keys are kept; once the sample is full only
    rows whose key beats the current k-th are copied at all, so a batch costs little more than
    drawing its keys.
    """

    def __init__(self, k: int, width: int, seed: int = 0) -> None:
        self.k = k
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.rows = np.empty((0, width))

    def candidates(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys for ``n`` new rows and the mask of rows that may enter the sample."""
        keys = self.rng.random(n)
        if self.keys.size < self.k:
            return keys, np.ones(n, dtype=bool)
        return keys, keys < self.keys.max()

    def add(self, keys: np.ndarray, block: np.ndarray) -> None:
        keys = np.concatenate([self.keys, keys])
        rows = np.concatenate([self.rows, block])
        if keys.size > self.k:
            top = np.argpartition(keys, self.k - 1)[: self.k]
            keys, rows = keys[top], rows[top]
        self.keys, self.rows = keys, rows


class DriftTracker:
    """Accumulates one job's statistics batch by batch; :meth:`finish` turns them into results.

    When the model's training data cannot be found (no dataset recorded, snapshot gone) the
    tracker is a no-op and the job's drift status stays unknown (None) rather than a false "ok".
    """

    def __init__(self, ws: Workspace, model: ModelVersion) -> None:
        self.ws = ws
        self.model = model
        self.sig = Signature.from_json(model.signature)
        self.limits = thresholds(ws)
        self.ref = load_reference(ws, model)
        self.rows = 0
        if self.ref is None:
            return
        self.numeric = [f.name for f in self.sig.features if f.kind != "categorical"]
        self.columns = {n: _Column(self.ref["features"][n]["edges"]) for n in self.numeric}
        self.cat_counts = {f.name: np.zeros(len(f.categories), dtype=np.int64)
                           for f in self.sig.features if f.kind == "categorical"}
        self.cat_nulls = dict.fromkeys(self.cat_counts, 0)
        # Exact counts of categories never seen in training, when the caller passes them to
        # update() (the scorer knows them from encoding); otherwise estimated from missing codes.
        self.cat_unseen: dict[str, int] | None = None
        pref = self.ref["prediction"]
        self.pred = _Column(pref["edges"]) if pref["kind"] == "numeric" else None
        self.pred_classes = np.zeros(len(pref.get("counts", [])), dtype=np.int64)
        # One row sample shared by every numeric feature (+ the prediction as the last column).
        self.sample = _Sample(SAMPLE_SIZE, len(self.numeric) + 1)

    def update(self, features: pl.DataFrame, predictions: np.ndarray, unseen: dict[str, int] | None = None) -> None:
        """One batch: the encoded feature frame (signature order), the model's raw output and,
        optionally, the batch's exact counts of unseen categories per feature (from ``encode``)."""
        if self.ref is None or features.height == 0:
            return
        self.rows += features.height
        if unseen is not None:
            if self.cat_unseen is None:
                self.cat_unseen = dict.fromkeys(self.cat_counts, 0)
            for name, n in unseen.items():
                if name in self.cat_unseen:
                    self.cat_unseen[name] += int(n)
        for name, counts in self.cat_counts.items():
            col = features[name].to_numpy().astype(float)
            nan = np.isnan(col)
            self.cat_nulls[name] += int(nan.sum())
            counts += np.bincount(col[~nan].astype(np.int64), minlength=counts.size)[: counts.size]
        arr = features.select(self.numeric).to_numpy() if self.numeric else np.empty((features.height, 0))
        for i, name in enumerate(self.numeric):
            self.columns[name].update(arr[:, i])
        raw = np.asarray(predictions)
        if raw.ndim == 2:
            self.pred_classes += np.bincount(_classes_of(raw), minlength=self.pred_classes.size)
            pred_col = np.full(raw.shape[0], np.nan)
        else:
            pred_col = raw.astype(float)
            self.pred.update(pred_col)
        keys, keep = self.sample.candidates(features.height)
        self.sample.add(keys[keep], np.column_stack([arr[keep], pred_col[keep]]))

    # -- results ---------------------------------------------------------------------------------
    def _status(self, psi_value: float | None, ks_p: float | None, null_change: float) -> str:
        lim = self.limits
        status = "ok"
        if (psi_value is not None and psi_value >= lim["psi_warn"]) or null_change >= lim["null_rate_warn"]:
            status = "warn"
        if ks_p is not None and ks_p < lim["ks_pvalue_alert"]:
            # A KS test on thousands of rows flags shifts too small to matter: on its own it
            # warns; together with a PSI past the warn line it alerts.
            status = "alert" if psi_value is not None and psi_value >= lim["psi_warn"] else "warn"
        if (psi_value is not None and psi_value >= lim["psi_alert"]) or null_change >= lim["null_rate_alert"]:
            status = "alert"
        if self.rows < MIN_ROWS and status == "alert":
            status = "warn"
        return status

    def _numeric_result(self, job_id: str, name: str, kind: str, ref: dict[str, Any], col: _Column,
                        sample: np.ndarray) -> DriftResult:
        p = psi(ref["counts"], col.counts)
        ks_stat, ks_p = ks_test([np.nan if v is None else v for v in ref["sample"]], sample)
        null_ref = float(ref.get("null_rate", 0.0))
        null_cur = col.nulls / self.rows
        n_ok = self.rows - col.nulls
        details = {"ref_mean": ref.get("mean"), "cur_mean": col.total / n_ok if n_ok else None,
                   "edges": ref["edges"], "ref_counts": ref["counts"], "cur_counts": col.counts.tolist()}
        return DriftResult(job_id, name, kind, p, ks_stat, ks_p, null_ref, null_cur, None,
                           self._status(p, ks_p, abs(null_cur - null_ref)), details)

    def _categorical_result(self, job_id: str, name: str) -> DriftResult:
        ref = self.ref["features"][name]
        counts = self.cat_counts[name]
        # Missing and unseen codes are one more bucket, so a flood of new categories moves the PSI.
        p = psi([*ref["counts"], ref.get("nulls", 0)], [*counts.tolist(), self.cat_nulls[name]])
        null_ref, null_cur = float(ref["null_rate"]), self.cat_nulls[name] / self.rows
        if self.cat_unseen is not None:
            new = self.cat_unseen[name]
        else:
            new = _excess_missing(self.cat_nulls[name], null_ref, self.rows)
        r = np.asarray(ref["counts"], dtype=float) / max(1, sum(ref["counts"]))
        c = counts / max(1, counts.sum())
        shifts = sorted(zip(ref["categories"], r.tolist(), c.tolist(), strict=True),
                        key=lambda t: -abs(t[2] - t[1]))[:5]
        details = {"shifted": [{"category": k, "ref": a, "cur": b} for k, a, b in shifts],
                   "new_or_missing_rate": max(0.0, null_cur - null_ref)}
        return DriftResult(job_id, name, "categorical", p, None, None, null_ref, null_cur, new,
                           self._status(p, None, abs(null_cur - null_ref)), details)

    def _prediction_result(self, job_id: str, sample: np.ndarray) -> DriftResult:
        pref = self.ref["prediction"]
        if self.pred is not None:
            return self._numeric_result(job_id, PREDICTION, "prediction", pref, self.pred, sample)
        p = psi(pref["counts"], self.pred_classes)
        details = {"classes": pref["classes"], "ref_counts": pref["counts"],
                   "cur_counts": self.pred_classes.tolist()}
        return DriftResult(job_id, PREDICTION, "prediction", p, None, None, None, None, None,
                           self._status(p, None, 0.0), details)

    def finish(self, job_id: str) -> tuple[str | None, float | None, list[DriftResult], dict[str, Any]]:
        """(job status ok|warn|alert — None when not measured, prediction drift, results, summary)."""
        if self.ref is None:
            return None, None, [], {"note": "no training data recorded for this model: drift not measured"}
        if self.rows == 0:
            return None, None, [], {"note": "no rows scored"}
        rows = self.sample.rows
        results = [self._numeric_result(job_id, n, "numeric", self.ref["features"][n], self.columns[n], rows[:, i])
                   for i, n in enumerate(self.numeric)]
        results += [self._categorical_result(job_id, n) for n in self.cat_counts]
        pred = self._prediction_result(job_id, rows[:, -1])
        results.append(pred)
        status = worst([r.status for r in results])
        summary = {"rows": self.rows, "status": status, "thresholds": self.limits,
                   "reference": self.ref["dataset"], "sample_rows": int(rows.shape[0]),
                   "worst": [r.feature for r in sort_worst(results)[:5] if r.status != "ok"]}
        return status, pred.psi, results, summary


def _excess_missing(missing: int, ref_rate: float, rows: int) -> int:
    """Estimated unseen categories: they are encoded as missing, so the missing codes beyond the
    training rate, but only past three binomial standard deviations: 11 missing out of 344 where
    training had 2.9% (10 expected) is sampling noise, not a new category."""
    expected = ref_rate * rows
    excess = missing - expected
    noise = 3.0 * math.sqrt(rows * ref_rate * (1.0 - ref_rate))
    return max(0, round(excess)) if excess > noise else 0


def sort_worst(results: list[DriftResult]) -> list[DriftResult]:
    """Alerts first, then warnings; within a status the largest PSI first."""
    return sorted(results, key=lambda r: (-RANK.get(r.status, 0), -(r.psi or 0.0), r.feature))
