"""Drift of a scoring job against the model's training data, computed while scoring.

Each scored batch counts its own :class:`DriftStats` from what it already has in memory (the
encoded feature matrix and the model's raw output; :func:`mlops_tui.serving.batch.score_batch`);
the job's :class:`DriftTracker` merges them and turns them into results at the end, so drift
costs no second pass over the data and constant memory, wherever the batches were scored:

* numeric features and the prediction: counts in the training data's decile bins (PSI), a
  bottom-k random sample (≤ 5000 rows, uniform whatever the job size) for scipy's two-sample KS
  test, null counts and running sums for the mean;
* categorical features (float codes, NaN for missing or unseen): counts per category (a PSI over
  category frequencies) and the excess of missing codes over the training rate, which is how
  categories never seen in training show up after encoding;
* multiclass predictions: the frequency of each predicted class.

Reference statistics describe exactly the rows the model was fitted on: training writes them
beside the model file (:mod:`mlops_tui.training.reference`); an older model gets them built once
from its dataset snapshot (:func:`load_reference`). How statistics become ok / warn / alert, so that
same-distribution jobs of 200 rows stay quiet and real shifts alert: :mod:`mlops_tui.stats`. Thresholds
come from ``[drift]`` in config.toml.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mlops_tui.data import dates
from mlops_tui.results import JsonDict
from mlops_tui.serving.drift_calendar import CalendarWindow, narrow
from mlops_tui.stats import (
    RANK,
    chi2_pvalue,
    ks_test,
    limits,
    null_pvalue,
    psi,
    psi_noise,
    share_shift,
    verdict,
)
from mlops_tui.store import DriftResult, NotFoundError
from mlops_tui.training import reference
from mlops_tui.training.reference import bin_counts
from mlops_tui.training.signature import Signature

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

SAMPLE_SIZE = reference.SAMPLE_SIZE  # rows of a job kept for the KS test
PREDICTION = "__prediction__"
GOOD_TURING_UP_TO = 5  # counts adjusted by Good-Turing (:func:`_with_expected_new`); larger ones are reliable


# -- thresholds --------------------------------------------------------------------------------
def thresholds(ws: Workspace) -> dict[str, float]:
    return limits(ws.config.get("drift"))


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: RANK.get(s, -1), default="ok")


def _classes_of(raw: np.ndarray) -> np.ndarray:
    return np.asarray(raw.argmax(axis=1))


# -- the reference ---------------------------------------------------------------------------------
def reference_path(ws: Workspace, model: ModelVersion) -> Path:
    return reference.path_for(ws.abspath(model.path))


def _legacy_training_frame(ws: Workspace, model: ModelVersion, sig: Signature) -> pl.DataFrame | None:
    """The rows of a model registered before references were written at training time, or None.

    Which rows were train, valid or holdout was not recorded then, so the dataset snapshot stands
    in: with a random split its holdout is a random fifth of the same data and leaves the
    distribution as it was. With a time split the holdout is the latest period (left in, its month
    would look like a known category), so rows from the holdout's first timestamp on are dropped.
    """
    from mlops_tui.data import datasets

    if not model.dataset:
        return None
    try:
        dv = ws.store.datasets.get(model.dataset, model.dataset_version)
    except NotFoundError:
        return None
    if not ws.abspath(dv.path).exists():
        return None
    time_column = _time_split_column(ws, model)
    columns = [*sig.source_columns, *([time_column] if time_column not in sig.source_columns else [])]
    df = datasets.scan(ws, dv).select([c for c in columns if c])
    if time_column and model.run_id:  # a time column is only found through the model's run
        key = pl.col(time_column)
        if df.collect_schema()[time_column] == pl.String:  # read as prep read it to order the split
            key = dates.parse(key, dates.infer_format(df.select(time_column).collect().to_series()))
        start = pl.scan_parquet(ws.run_dir(model.run_id) / "holdout.parquet").select(key.min()).collect().item()
        df = df.filter(key < start)
    return df.select(sig.source_columns).collect()


def _time_split_column(ws: Workspace, model: ModelVersion) -> str | None:
    """The time column of the model's run when it split by time and its holdout file is there."""
    if not model.run_id or not (ws.run_dir(model.run_id) / "holdout.parquet").exists():
        return None
    try:
        split = (ws.store.runs.get(model.run_id).prep or {}).get("split", {})
    except NotFoundError:
        return None
    return split.get("time_column") if split.get("method") == "time" else None


def load_reference(ws: Workspace, model: ModelVersion) -> reference.Reference | None:
    """The model's reference (see :mod:`mlops_tui.training.reference`); None if no data is known.

    A model trained by this version has it from training. For an older model (or an older format)
    it is built once from the dataset snapshot and stored beside the model the same way.
    """
    from mlops_tui.registry import models as registry

    model_path = ws.abspath(model.path)
    ref = reference.read(model_path, model.sha256)
    if ref is not None:
        return ref
    sig = Signature.from_json(model.signature)
    df = _legacy_training_frame(ws, model, sig)
    if df is None or df.height == 0:
        return None
    booster, _ = registry.load(ws, model)
    ref = reference.build(sig, booster, df, model_sha256=model.sha256,
                          dataset=f"{model.dataset}:{model.dataset_version}",
                          basis="dataset snapshot (model registered before training-time references)")
    reference.write(model_path, ref)
    return ref


# -- the counters ------------------------------------------------------------------------------------
class _Column:
    """Streaming counters of one numeric column (a feature or a 1-D prediction)."""

    def __init__(self, edges: list[float]) -> None:
        self.edges = np.asarray(edges, dtype=float)
        self.counts = np.zeros(len(edges) + 1, dtype=np.int64)
        self.nulls = 0
        self.total = 0.0

    def update(self, col: np.ndarray) -> None:
        n_nan = int(np.count_nonzero(np.isnan(col)))
        self.nulls += n_nan
        self.total += float(np.nansum(col) if n_nan else col.sum())
        self.counts += bin_counts(col, self.edges, nans=n_nan)

    def merge(self, other: _Column) -> None:
        self.counts += other.counts
        self.nulls += other.nulls
        self.total += other.total


class _Sample:
    """A uniform sample of rows without replacement in constant memory (bottom-k random keys).

    Every row gets a random key and the k smallest keys are kept. Two samples merge by keeping
    the k smallest keys of both, so per-batch samples combine into a uniform sample of the job.
    """

    def __init__(self, k: int, width: int) -> None:
        self.k = k
        self.keys = np.empty(0)
        self.rows = np.empty((0, width))

    def add(self, keys: np.ndarray, block: np.ndarray) -> None:
        if keys.size > self.k:  # cut a big block down first: only its k smallest keys can enter
            top = np.argpartition(keys, self.k - 1)[: self.k]
            keys, block = keys[top], block[top]
        keys = np.concatenate([self.keys, keys])
        rows = np.concatenate([self.rows, block])
        if keys.size > self.k:
            top = np.argpartition(keys, self.k - 1)[: self.k]
            keys, rows = keys[top], rows[top]
        self.keys, self.rows = keys, rows


class DriftStats:
    """Drift counters of some rows of one job: one batch, or the whole job once batches merged.

    Built from the model's reference (:func:`load_reference`, plain JSON, so it can travel to
    another process) and fed the encoded feature matrix the predictor saw plus its raw output.
    Counts, null counts, sums and the row sample all add up with :meth:`merge`, which is how a
    job's batches combine wherever they were scored (this process, or Dask workers).
    """

    def __init__(self, ref: dict[str, Any], sig: Signature) -> None:
        feats = sig.features
        self.rows = 0
        self.numeric = [f.name for f in feats if f.kind != "categorical"]
        self._num_idx = [i for i, f in enumerate(feats) if f.kind != "categorical"]
        self._cat_idx = {f.name: i for i, f in enumerate(feats) if f.kind == "categorical"}
        self.columns = {n: _Column(ref["features"][n]["edges"]) for n in self.numeric}
        self.cat_counts = {f.name: np.zeros(len(f.categories), dtype=np.int64) for f in feats if f.kind == "categorical"}
        self.cat_nulls = dict.fromkeys(self.cat_counts, 0)
        # Exact counts of categories never seen in training, when the caller passes them to
        # add() (the scorer knows them from encoding); otherwise estimated from missing codes.
        self.cat_unseen: dict[str, int] | None = None
        pref = ref["prediction"]
        self.pred = _Column(pref["edges"]) if pref["kind"] == "numeric" else None
        self.pred_classes = np.zeros(len(pref.get("counts", [])), dtype=np.int64)
        # One row sample shared by every numeric feature (+ the prediction as the last column).
        self.sample = _Sample(SAMPLE_SIZE, len(self.numeric) + 1)
        self.calendar = CalendarWindow(sig)  # the time the rows span, for date parts (drift_calendar)

    def add(self, X: np.ndarray, predictions: np.ndarray, unseen: dict[str, int] | None = None,
            seed: int | None = None) -> None:
        """One batch: ``X`` the encoded features (rows × signature features, float, NaN for
        missing), the model's raw output and, optionally, the batch's exact unseen-category
        counts per feature (from ``encode``). ``seed`` draws the batch's sample keys."""
        n = X.shape[0]
        if n == 0:
            return
        self.rows += n
        self.calendar.add(X)
        if unseen is not None:
            if self.cat_unseen is None:
                self.cat_unseen = dict.fromkeys(self.cat_counts, 0)
            for name, k in unseen.items():
                if name in self.cat_unseen:
                    self.cat_unseen[name] += int(k)
        for name, counts in self.cat_counts.items():
            col = X[:, self._cat_idx[name]]
            nan = np.isnan(col)
            self.cat_nulls[name] += int(np.count_nonzero(nan))
            counts += np.bincount(col[~nan].astype(np.int64), minlength=counts.size)[: counts.size]
        for i, name in zip(self._num_idx, self.numeric, strict=True):
            self.columns[name].update(X[:, i])
        raw = np.asarray(predictions)
        if raw.ndim == 2:
            self.pred_classes += np.bincount(_classes_of(raw), minlength=self.pred_classes.size)
            pred_col = np.full(n, np.nan)
        else:
            pred_col = raw.astype(float, copy=False)
            assert self.pred is not None
            self.pred.update(pred_col)
        keys = np.random.default_rng(seed).random((n,))
        if n > self.sample.k:  # only the k smallest keys can enter: gather just those rows
            keep = np.argpartition(keys, self.sample.k - 1)[: self.sample.k]
            keys = keys[keep]
        else:
            keep = np.arange(n)
        block = np.column_stack([X[np.ix_(keep, np.asarray(self._num_idx, dtype=np.intp))], pred_col[keep]])
        self.sample.add(keys, block)

    def merge(self, other: DriftStats) -> None:
        self.rows += other.rows
        for name, col in self.columns.items():
            col.merge(other.columns[name])
        for name, counts in self.cat_counts.items():
            counts += other.cat_counts[name]
            self.cat_nulls[name] += other.cat_nulls[name]
        if other.cat_unseen is not None:
            if self.cat_unseen is None:
                self.cat_unseen = dict.fromkeys(self.cat_counts, 0)
            for name, k in other.cat_unseen.items():
                self.cat_unseen[name] += k
        if self.pred is not None and other.pred is not None:
            self.pred.merge(other.pred)
        self.pred_classes += other.pred_classes
        self.calendar.merge(other.calendar)
        self.sample.add(other.sample.keys, other.sample.rows)


# -- the tracker -------------------------------------------------------------------------------------
class DriftTracker:
    """One job's drift: merges the batches' :class:`DriftStats`; :meth:`finish` turns them into results.

    When the model's training data cannot be found (no dataset recorded, snapshot gone) the
    tracker is a no-op and the job's drift status stays unknown (None) rather than a false "ok".
    """

    def __init__(self, ws: Workspace, model: ModelVersion) -> None:
        self.ws = ws
        self.model = model
        self.sig = Signature.from_json(model.signature)
        self.limits = thresholds(ws)
        self.ref = load_reference(ws, model)
        self.stats = DriftStats(self.ref, self.sig) if self.ref is not None else None
        self._batches = 0
        self._parts = {f.name: f.transform for f in self.sig.features if f.transform}

    @property
    def rows(self) -> int:
        return self.stats.rows if self.stats is not None else 0

    def new_stats(self) -> DriftStats | None:
        """Empty counters for one batch (None when drift is not measured for this model)."""
        return DriftStats(self.ref, self.sig) if self.ref is not None else None

    def merge(self, stats: DriftStats | None) -> None:
        if self.stats is not None and stats is not None:
            self.stats.merge(stats)

    def update(self, features: pl.DataFrame, predictions: np.ndarray, unseen: dict[str, int] | None = None) -> None:
        """One batch as an encoded feature frame (signature order): counted and merged at once."""
        batch = self.new_stats()
        if batch is None or features.height == 0:
            return
        self._batches += 1
        batch.add(features.to_numpy(), predictions, unseen, seed=self._batches)
        self.merge(batch)
    # -- results ---------------------------------------------------------------------------------
    def _numeric_result(self, job_id: str, name: str, kind: str, ref: dict[str, Any], col: _Column,
                        sample: np.ndarray) -> DriftResult:
        ref_counts, cur_counts = ref["counts"], col.counts
        ref_sample = np.array(ref["sample"], dtype=float)  # None (JSON null) -> NaN
        n_ok = self.rows - col.nulls
        details: dict[str, Any] = {"ref_mean": ref.get("mean"), "cur_mean": col.total / n_ok if n_ok else None,
                                   "edges": ref["edges"], "ref_counts": ref["counts"], "cur_counts": col.counts.tolist()}
        part = self._parts.get(name)
        window = self.stats.calendar.covered(name, part) if part and self.stats is not None else None
        narrowed = narrow(ref, col.counts, sample, part, window) if part and window else None
        if narrowed is not None:  # a date part: compared where the job's window falls (drift_calendar)
            ref_counts, cur_counts = narrowed.ref_counts, narrowed.cur_counts
            ref_sample, sample = narrowed.ref_sample, narrowed.sample
            n_ok = int(cur_counts.sum())
            details["note"] = narrowed.note
        p = psi(ref_counts, cur_counts)
        p_same = details["chi2_pvalue"] = chi2_pvalue(ref_counts, cur_counts)
        ks_stat, ks_p = ks_test(ref_sample, sample)
        null_ref = float(ref.get("null_rate", 0.0))
        null_cur = col.nulls / self.rows
        # KS on a discrete feature (ties) is conservative: the chi-square of the bins may be surer.
        p_certain = min((v for v in (ks_p, p_same) if v is not None), default=None)
        noise = details["psi_noise"] = psi_noise(ref_counts, n_ok)
        status = verdict(self.limits, self.rows, psi_value=p, p_same=p_same, p_certain=p_certain, noise=noise,
                         null_change=abs(null_cur - null_ref), p_nulls=null_pvalue(col.nulls, self.rows, null_ref))
        return DriftResult(job_id, name, kind, p, ks_stat, ks_p, null_ref, null_cur, None, status, details)

    def _categorical_result(self, job_id: str, name: str, stats: DriftStats, ref: JsonDict) -> DriftResult:
        counts = stats.cat_counts[name]
        # Missing and unseen codes are one more bucket, so a flood of new categories moves the PSI.
        ref_counts = _with_expected_new(ref["counts"], ref.get("nulls", 0))
        cur_counts = [*counts.tolist(), stats.cat_nulls[name]]
        p = psi(ref_counts, cur_counts)
        p_same = chi2_pvalue(ref_counts, cur_counts)
        share = share_shift(ref["counts"], counts, self.limits["share_ratio_alert"])
        null_ref = float(ref["null_rate"])
        if stats.cat_unseen is not None:
            new = stats.cat_unseen[name]
        else:
            new = _excess_missing(stats.cat_nulls[name], null_ref, self.rows)
        # Unseen categories share the missing code; the missing rate is of values that are missing
        # (vcd Bundesliga scored with a promoted team, no value missing, read "nulls 0%→100%").
        missing = stats.cat_nulls[name] - new
        null_cur = missing / self.rows
        r = np.asarray(ref["counts"], dtype=float) / max(1, sum(ref["counts"]))
        c = counts / max(1, counts.sum())
        shifts = sorted(zip(ref["categories"], r.tolist(), c.tolist(), strict=True),
                        key=lambda t: -abs(t[2] - t[1]))[:5]
        details = {"shifted": [{"category": k, "ref": a, "cur": b} for k, a, b in shifts],
                   "new_or_missing_rate": max(0.0, stats.cat_nulls[name] / self.rows - null_ref), "chi2_pvalue": p_same,
                   "share_ratio": share and share[0], "share_pvalue": share and share[1]}
        noise = details["psi_noise"] = psi_noise(ref_counts, self.rows)
        status = verdict(self.limits, self.rows, psi_value=p, p_same=p_same, p_certain=p_same, share=share,
                         noise=noise, null_change=abs(null_cur - null_ref),
                         p_nulls=null_pvalue(missing, self.rows, null_ref))
        return DriftResult(job_id, name, "categorical", p, None, None, null_ref, null_cur, new, status, details)

    def _prediction_result(self, job_id: str, sample: np.ndarray, stats: DriftStats, pref: JsonDict) -> DriftResult:
        if stats.pred is not None:
            return self._numeric_result(job_id, PREDICTION, "prediction", pref, stats.pred, sample)
        p = psi(pref["counts"], stats.pred_classes)
        p_same = chi2_pvalue(pref["counts"], stats.pred_classes)
        noise = psi_noise(pref["counts"], self.rows)
        details = {"classes": pref["classes"], "ref_counts": pref["counts"],
                   "cur_counts": stats.pred_classes.tolist(), "chi2_pvalue": p_same, "psi_noise": noise}
        status = verdict(self.limits, self.rows, psi_value=p, p_same=p_same, p_certain=p_same, noise=noise)
        return DriftResult(job_id, PREDICTION, "prediction", p, None, None, None, None, None, status, details)

    def finish(self, job_id: str) -> tuple[str | None, float | None, list[DriftResult], dict[str, Any]]:
        """(job status ok|warn|alert — None when not measured, prediction drift, results, summary)."""
        if self.ref is None or self.stats is None:
            return None, None, [], {"note": "no training data recorded for this model: drift not measured"}
        if self.rows == 0:
            return None, None, [], {"note": "no rows scored"}
        rows = self.stats.sample.rows
        results = [self._numeric_result(job_id, n, "numeric", self.ref["features"][n], self.stats.columns[n], rows[:, i])
                   for i, n in enumerate(self.stats.numeric)]
        results += [self._categorical_result(job_id, n, self.stats, self.ref["features"][n]) for n in self.stats.cat_counts]
        pred = self._prediction_result(job_id, rows[:, -1], self.stats, self.ref["prediction"])
        results.append(pred)
        status = worst([r.status for r in results])
        summary = {"rows": self.rows, "status": status, "thresholds": self.limits,
                   "reference": self.ref["dataset"], "sample_rows": int(rows.shape[0]),
                   "worst": [r.feature for r in sort_worst(results)[:5] if r.status != "ok"]}
        return status, pred.psi, results, summary


def _with_expected_new(counts: list[int], nulls: int) -> list[float]:
    """The reference's category counts and its missing bucket, as a new sample of the same data is
    expected to fill them: the bucket also holds values training never saw. By Good and Turing, a new
    row's chance of a value unseen in N rows is n1 / N, n1 the values seen once, and a value seen r
    times is expected (r + 1) n(r+1) / n(r) times per N new rows, not r (for r up to
    :data:`GOOD_TURING_UP_TO`, and below the first r no value was seen r + 1 times: there the
    estimate would expect none of a value seen, and one such row alone would move the PSI; the
    counts are then scaled to N - n1). For most features nothing
    changes (no value seen once); a long tail makes it large: seattlepets' animal_name (6,900 names in
    19,000 rows, 4,800 seen once) has 26 % of a fresh sample of the same licences unseen, which alerted
    at PSI 1.1 on every job; taking that share off every name alike still left the chi-square sure of a
    change (p 6e-10: the names seen once are the ones a new sample misses). A reference of more than
    reference.MAX_ROWS rows counts every k-th row: the estimate there also counts values of the
    model's categories those rows missed, a little more than the truth."""
    c = np.asarray(counts, dtype=float)
    seen = float(c.sum())
    n1 = int(np.count_nonzero(c == 1))
    if not n1:
        return [*c.tolist(), float(nulls)]
    n_r = np.bincount(c.astype(np.int64), minlength=GOOD_TURING_UP_TO + 2)
    expected = c.copy()
    for r in range(1, GOOD_TURING_UP_TO + 1):
        if not n_r[r + 1]:  # no value seen r + 1 times: the estimate would say 0; raw counts from r on
            break
        if n_r[r]:
            expected[c == r] = (r + 1) * n_r[r + 1] / n_r[r]
    expected *= (seen - n1) / expected.sum() if expected.sum() else 0.0
    return [*expected.tolist(), nulls + float(n1)]


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
