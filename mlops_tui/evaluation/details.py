"""The evidence behind an evaluation's scalar metrics: curves, confusion, importances, slices.

Everything here is computed once, when an evaluation is recorded, and stored as one compact
JSON document (``artifacts/reports/<eval_id>.json``) so comparing runs, the TUI and the HTML
report only read numbers and never re-score a model. Curves are downsampled to at most
:data:`MAX_POINTS` points; SHAP values come from LightGBM's own ``pred_contrib`` on a sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import polars as pl

from mlops_tui import stats
from mlops_tui.data import dates

if TYPE_CHECKING:
    import lightgbm as lgb

    from mlops_tui.evaluation.records import Details  # each function here makes one part of it
    from mlops_tui.training.signature import Signature

MAX_POINTS = 200          # per curve / scatter, keeps a details file small
SHAP_SAMPLE = 1000        # rows fed to pred_contrib (TreeSHAP dominates the details time; 1k rows is a stable mean)
# Without a time allowance, the rows x trees x leaves TreeSHAP may walk (~5 s here): a fold-averaged
# model of 4,430 trees of 96 leaves (bikeshare, 2 draws x 5 folds x 443 rounds) took 54 ms a row, so
# the 1,000-row sample held an untimed run's final step (and every `evaluate`) for 54 s.
SHAP_WORK = 40_000_000
SHAP_MIN_ROWS = 100
MIN_SLICE_ROWS = 20       # smaller groups are listed but left out of the gap
MAX_SLICE_GROUPS = 20     # larger cardinalities fold the rest into "(other)"
# The metric whose spread across slices is the "gap": unitless so one threshold fits all tasks.
# Regression uses WAPE (sum |error| / sum |actual|) where the target has a scale of its own: R²
# inside a slice measures the slice's own variance, not how wrong the model is there, and MAE scales
# with each group's level. Where sum |actual| is no scale, :func:`slice_metric` picks another measure.
SLICE_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "wape"}
SLICE_LOWER_IS_BETTER = {"wape", "relative_mae", "scaled_mae"}
# A count (non-negative whole numbers) below this mean is a small count: even a model predicting each
# row's true mean has the WAPE of the count's own noise, E|Y - m| / m for Poisson(m): 0.25 at m = 10
# (the default max_slice_gap), 0.54 at 2, 0.74 at 1. Groups of different levels then differ in WAPE by
# more than the gate allows with nothing wrong (vcd Bundesliga's HomeGoals, mean 1.9: 0.50 against
# 0.84 between away teams). Plain MAE errs the other way, as a count's noise grows with its level (its
# standard deviation is the square root of its mean): Bayern's home games (mean 2.8 goals) had 1.25
# times the holdout's MAE, the others' 0.89, the model as good on both. MAE over the square root of the
# group's mean count is level-free: 0.73 to 0.95 over the 40 team groups of means 1.2 to 2.8.
SMALL_COUNT_MEAN = 10.0
# Each group's metric gets an interval; those of one feature hold together with this confidence
# (Bonferroni over its groups), so the gate can tell a gap from the noise of small groups.
SLICE_CONFIDENCE = 0.95


# The primary metric's bootstrap interval is kept for holdouts up to this many rows: where it can
# reach the metric's no-skill level (MASS birthwt: ROC AUC 0.5224 on 38 rows). Past
# it the interval is narrow and the bootstrap would cost every large run.
INTERVAL_ROWS = 5_000


def _f(x: Any) -> float | None:
    """A JSON-safe float (NaN/inf → None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _thin(n: int, k: int = MAX_POINTS) -> np.ndarray:
    """Indices keeping at most ``k`` of ``n`` points, always the first and last."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _rounded(a: np.ndarray, digits: int = 5) -> list[float | None]:
    return [_f(round(float(v), digits)) for v in a]


def metric_interval(task: str, metric: str, y: np.ndarray, pred: np.ndarray, classes: list[str],
                    threshold: float) -> Details | None:
    """The 95 % bootstrap interval of ``metric`` over the holdout's rows (seeded: the same record
    each time), with the rows it rests on; None when no draw could measure it."""
    from mlops_tui.training import metrics as mx

    fast = _FAST.get((task, metric))
    if fast is not None:  # scikit-learn's checks cost ~7 ms a call: 1.4 s of 200 draws on 38 rows
        def statistic(rows: np.ndarray) -> float | None:
            return fast(y[rows], pred[rows], threshold)
    else:
        def statistic(rows: np.ndarray) -> float | None:
            return mx.score(task, metric, y[rows], pred[rows], classes, threshold)
    bounds = stats.bootstrap_interval(statistic, len(y))
    if bounds is None:
        return None
    return {"metric": metric, "low": _f(bounds[0]), "high": _f(bounds[1]), "rows": int(len(y)), "confidence": 0.95}


def _auc(y: np.ndarray, p: np.ndarray, _t: float) -> float | None:
    """ROC AUC by ranks (ties share their mean rank), as roc_auc_score; None with one class."""
    positive = y == 1
    n1 = int(positive.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    _, at, counts = np.unique(p, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[at.reshape(-1)]  # 1-based, ties at their mean
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _log_loss(y: np.ndarray, p: np.ndarray, _t: float) -> float:
    """Mean negative log of the probability given to each row's class (clipped as scikit-learn does)."""
    eps = np.finfo(np.float64).eps
    probs = np.column_stack([1 - p, p]) if p.ndim == 1 else p
    return float(-np.mean(np.log(np.clip(probs[np.arange(y.size), y.astype(np.int64)], eps, 1 - eps))))


def _accuracy(y: np.ndarray, p: np.ndarray, t: float) -> float:
    y_hat = p.argmax(axis=1) if p.ndim == 2 else (p >= t).astype(np.int64)
    return float(np.mean(y_hat == y))


def _brier(y: np.ndarray, p: np.ndarray, _t: float) -> float:
    return float(np.mean((p - y) ** 2))


_FAST: dict[tuple[str, str], Callable[[np.ndarray, np.ndarray, float], float | None]] = {
    ("binary", "roc_auc"): _auc, ("binary", "log_loss"): _log_loss, ("multiclass", "log_loss"): _log_loss,
         ("binary", "accuracy"): _accuracy, ("multiclass", "accuracy"): _accuracy,
         ("binary", "brier"): _brier}


# -- classification ------------------------------------------------------------------------------
def binary_curves(y: np.ndarray, p: np.ndarray) -> Details:
    """ROC, precision-recall and calibration (10 quantile-free bins) of positive-class scores."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    out: dict[str, Any] = {}
    if len(np.unique(y)) == 2:
        fpr, tpr, thr = roc_curve(y, p)
        i = _thin(len(fpr))
        out["roc"] = {"fpr": _rounded(fpr[i]), "tpr": _rounded(tpr[i])}
        prec, rec, _ = precision_recall_curve(y, p)
        i = _thin(len(prec))
        out["pr"] = {"recall": _rounded(rec[i]), "precision": _rounded(prec[i]),
                     "base_rate": _f(y.mean())}
    frac, mean_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    # Rows per plotted bin, binned exactly as calibration_curve does (it drops empty bins), so a
    # reader can tell a bin of 3 rows from one of 3,000.
    counts = np.bincount(np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], p), minlength=10)
    out["calibration"] = {"mean_predicted": _rounded(mean_pred), "fraction_positive": _rounded(frac),
                          "bin_counts": [int(c) for c in counts if c > 0]}
    return out


def confusion(y: np.ndarray, y_hat: np.ndarray, labels: list[str]) -> Details:
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix(y, y_hat, labels=list(range(len(labels))))
    return {"labels": labels, "matrix": m.astype(int).tolist()}


class ClassScores(TypedDict):
    """One class's entry of the details' ``per_class`` part (stored JSON, read by compare and the report)."""

    precision: float | None
    recall: float | None
    f1: float | None
    support: int


def per_class(y: np.ndarray, y_hat: np.ndarray, labels: list[str]) -> dict[str, ClassScores]:
    """Precision, recall, F1 and rows of each class, by class label (the labels are the data's)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y, y_hat, labels=list(range(len(labels))), zero_division=0)
    return {lab: ClassScores(precision=_f(p[i]), recall=_f(r[i]), f1=_f(f[i]), support=int(s[i]))
            for i, lab in enumerate(labels)}


# -- regression ----------------------------------------------------------------------------------
def regression_points(y: np.ndarray, pred: np.ndarray) -> Details:
    """A sample of (actual, predicted, residual) and a residual histogram."""
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(y), size=min(len(y), MAX_POINTS), replace=False))
    resid = y - pred
    counts, edges = np.histogram(resid, bins=30)
    return {"actual": _rounded(y[idx]), "predicted": _rounded(pred[idx]), "residual": _rounded(resid[idx]),
            "residual_hist": {"edges": _rounded(edges), "counts": counts.astype(int).tolist()}}


# -- importance ----------------------------------------------------------------------------------
def feature_importance(booster: lgb.Booster, X: np.ndarray, names: list[str], task: str, n_classes: int,
                       seconds: float | None = None) -> Details:
    """Gain, split count and mean |SHAP| (LightGBM ``pred_contrib``) per feature, by gain.
    ``names``: the signature's feature names, in the model's order (the model file may hold
    LightGBM-safe spellings of them: Signature.model_feature_names).

    ``seconds``: a time allowance (a run under `--timeout`): TreeSHAP costs trees x leaves per row,
    so 100 rows are timed first and the sample grows only as far as the allowance reaches. Without
    one, the sample is as many rows as :data:`SHAP_WORK` allows for the model's size (the same rows
    every time: an evaluation repeated gives the same importances)."""
    import time

    gain = booster.feature_importance("gain")
    split = booster.feature_importance("split")
    rng = np.random.default_rng(0)
    size = SHAP_SAMPLE
    if seconds is None:
        work = booster.num_trees() * max(2, int(booster.params.get("num_leaves", 31)))
        size = max(SHAP_MIN_ROWS, min(SHAP_SAMPLE, SHAP_WORK // work))
    sample = X if len(X) <= size else X[rng.choice(len(X), size, replace=False)]
    if seconds is not None and len(sample) > SHAP_MIN_ROWS:
        started = time.perf_counter()
        first = np.asarray(booster.predict(sample[:SHAP_MIN_ROWS], pred_contrib=True))
        per_row = (time.perf_counter() - started) / SHAP_MIN_ROWS
        more = int(max(0.0, seconds - SHAP_MIN_ROWS * per_row) / max(per_row, 1e-9))
        rest = sample[SHAP_MIN_ROWS:SHAP_MIN_ROWS + more]
        contrib = np.concatenate([first, np.asarray(booster.predict(rest, pred_contrib=True))]) if len(rest) else first
        sample = sample[:SHAP_MIN_ROWS + len(rest)]
    else:
        contrib = np.asarray(booster.predict(sample, pred_contrib=True))
    width = len(names) + 1  # last column is the expected value
    if task == "multiclass":
        contrib = contrib.reshape(len(sample), n_classes, width)
        shap = np.abs(contrib[:, :, :-1]).mean(axis=0).mean(axis=0)
    else:
        shap = np.abs(contrib[:, :-1]).mean(axis=0)
    order = np.argsort(-gain, kind="stable")
    return {"features": [names[i] for i in order], "gain": _rounded(gain[order], 4),
            "split": [int(split[i]) for i in order], "shap": _rounded(shap[order], 6), "shap_rows": len(sample)}


def param_importances(journal: Path, study_name: str) -> Details:
    """optuna.importance on the study in the run's journal (needs ≥ 2 complete trials)."""
    if not journal.exists():
        return {"importances": None, "reason": "no Optuna journal for this run"}
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name,
                                  storage=JournalStorage(JournalFileBackend(str(journal))))
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(complete) < 2:
            return {"importances": None, "reason": f"{len(complete)} complete trial(s); need at least 2"}
        imp = optuna.importance.get_param_importances(study)
    except Exception as exc:  # noqa: BLE001 - importances are a nice-to-have, never fail the run
        return {"importances": None, "reason": f"{type(exc).__name__}: {exc}"}
    return {"importances": {k: _f(v) for k, v in imp.items()}, "n_trials": len(complete)}


# -- slices --------------------------------------------------------------------------------------
def _count_scale(y: np.ndarray) -> float:
    """The square root of a group's mean count: how much a count of that level varies by itself
    (Poisson). A group of zeros counts as one count in its rows, so the scale is never zero."""
    return float(np.sqrt(max(float(y.mean()), 1.0 / max(y.size, 1))))


def _slice_metric(task: str, y: np.ndarray, pred: np.ndarray, threshold: float,
                  holdout_mae: float | None = None, count_scale: float | None = None) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

    if task == "binary":
        auc = roc_auc_score(y, pred) if len(np.unique(y)) == 2 else None
        return {"roc_auc": _f(auc), "accuracy": _f(accuracy_score(y, (pred >= threshold).astype(int))),
                "positive_rate": _f(y.mean())}
    if task == "multiclass":
        return {"accuracy": _f(accuracy_score(y, pred.argmax(axis=1)))}
    scale = float(np.abs(y).sum())
    wape = float(np.abs(y - pred).sum()) / scale if scale > 0 else None
    mae = mean_absolute_error(y, pred)
    out = {"wape": _f(wape), "mae": _f(mae), "mean_actual": _f(y.mean())}
    if holdout_mae and count_scale:  # a small count (see slice_metric)
        out["scaled_mae"] = _f(mae / _count_scale(y) / count_scale)
    elif holdout_mae:
        out["relative_mae"] = _f(mae / holdout_mae)
    return out


def slice_metric(task: str, target: str, y: np.ndarray) -> tuple[str, str | None]:
    """(metric, why) of the slice gap for holdout targets ``y``: :data:`SLICE_METRIC`, except for a
    regression target where sum |actual| is no scale:

    * a target with values below and above zero (a goal difference): sum |actual| says nothing of
      how large an error is, and a group of many zeros gets a huge WAPE however good the model.
      Groups are compared by their MAE relative to the whole holdout's (``relative_mae``; 1.0 is
      the model's average error);
    * a small count (non-negative whole numbers, mean below :data:`SMALL_COUNT_MEAN`): a group of
      low counts has a large WAPE, and one of high counts a large MAE, from the counts' own noise.
      Groups are compared by their MAE over the square root of their mean count, relative to the
      same figure of the whole holdout (``scaled_mae``; 1.0 is the holdout's).

    ``why`` says which, for the details, the gate's message and the report (None for the default)."""
    metric = SLICE_METRIC[task]
    finite = y[np.isfinite(y)]
    if task != "regression" or finite.size == 0:
        return metric, None
    low, high, mean = float(finite.min()), float(finite.max()), float(finite.mean())
    if low < 0 < high:
        return "relative_mae", (f"{target} takes values below and above zero ({low:.4g} to {high:.4g}): "
                                "sum |actual| is no scale for WAPE")
    if low >= 0 and mean < SMALL_COUNT_MEAN and bool(np.all(finite == np.round(finite))):
        zeros = float(np.mean(finite == 0))
        return "scaled_mae", (f"{target} is a small count (mean {mean:.3g}, {zeros:.0%} zeros), whose noise "
                              "grows with its level: WAPE is large for low groups, MAE for high ones")
    return metric, None


def _slice_interval(metric: str, y: np.ndarray, pred: np.ndarray, value: float, z: float,
                    holdout_mae: float | None, count_scale: float | None) -> list[float] | None:
    """The group's slice metric as an interval (``z`` from :func:`mlops_tui.stats.simultaneous_z`).

    Accuracy: a Wilson interval over the group's rows. ROC AUC: the same over the smaller class
    (an AUC's variance is at most A(1 - A) / min(positives, negatives)), so 3 positives in 40 rows
    give a wide interval. WAPE: the delta-method interval of a ratio of sums. Relative MAE: the
    interval of the group's mean absolute error (the holdout's MAE, over all rows, taken as fixed);
    scaled MAE: the same, the group's mean count taken as fixed too."""
    if metric == "wape":
        bounds = stats.ratio_interval(np.abs(y - pred), np.abs(y), z)
    elif metric == "relative_mae":
        bounds = stats.ratio_interval(np.abs(y - pred), np.full(y.size, holdout_mae or 0.0), z)
    elif metric == "scaled_mae":
        bounds = stats.ratio_interval(np.abs(y - pred), np.full(y.size, _count_scale(y) * (count_scale or 0.0)), z)
    else:
        n = min(int(y.sum()), int(y.size - y.sum())) if metric == "roc_auc" else int(y.size)
        bounds = stats.wilson(value, n, z)
    return None if bounds is None else list(bounds)


def _period_every(values: pl.Series) -> str:
    lo, hi = values.min(), values.max()
    days = (hi - lo).total_seconds() / 86400 if isinstance(lo, date) and isinstance(hi, date) else 0
    if days >= 3 * 365:
        return "1y"
    if days >= 90:
        return "1mo"
    if days >= 21:
        return "1w"
    return "1d"


def _groups(df: pl.DataFrame, column: str, time: bool) -> tuple[pl.Series, str]:
    """Group labels for every row: category text, or the period a timestamp falls in."""
    col = df[column]
    if time:
        if col.dtype == pl.String:
            col = col.to_frame().select(dates.parse(pl.col(column), dates.infer_format(col))).to_series()
        if col.dtype == pl.Date:
            col = col.cast(pl.Datetime)
        every = _period_every(col.drop_nulls()) if col.null_count() < len(col) else "1d"
        fmt = {"1y": "%Y", "1mo": "%Y-%m"}.get(every, "%Y-%m-%d")
        return col.dt.truncate(every).dt.strftime(fmt).fill_null("(missing)"), every
    labels = col.cast(pl.String).fill_null("(missing)")
    counts = labels.value_counts(sort=True)
    if counts.height > MAX_SLICE_GROUPS:
        keep = counts[labels.name][: MAX_SLICE_GROUPS - 1]
        labels = pl.select(pl.when(labels.is_in(keep.implode())).then(labels).otherwise(pl.lit("(other)"))
                           ).to_series().alias(labels.name)
    return labels, ""


def slices(df: pl.DataFrame, sig: Signature, y: np.ndarray, pred: np.ndarray, *,
           threshold: float = 0.5, time_column: str | None = None) -> Details:
    """The slice metric per group of every categorical feature (and time period), and the gaps.

    The metric is :func:`slice_metric`'s for the holdout's targets; when it is not the task's default
    (WAPE for regression), ``metric_note`` says why and ``holdout_mae`` holds the whole holdout's
    MAE the groups' figure is relative to.

    The gap of a feature is max − min of the slice metric (:data:`SLICE_METRIC`) over groups with at least
    :data:`MIN_SLICE_ROWS` rows where the metric is defined; ``max_gap`` is the worst categorical
    feature (the bias check the gate applies). The spread across time periods is reported apart as
    ``time_gap``: it measures stability over time, and weeks with holidays or storms would otherwise
    refuse every model of seasonal data.
    """
    metric, why = slice_metric(sig.task, sig.target, y)
    holdout_mae = _f(np.abs(y - pred).mean()) if why else None
    # scaled_mae's unit: the holdout's MAE over the square root of its mean count
    count_scale = holdout_mae / _count_scale(y) if metric == "scaled_mae" and holdout_mae else None
    columns = [(f.source, False) for f in sig.features if f.kind == "categorical"]
    if time_column and time_column in df.columns:
        columns.append((time_column, True))
    features: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for column, is_time in dict.fromkeys(columns):
        try:
            labels, every = _groups(df, column, is_time)
        except (pl.exceptions.PolarsError, TypeError, ValueError, AttributeError) as exc:
            skipped.append({"feature": column, "reason": f"cannot group by it: {exc}"[:200]})
            continue
        arr = labels.to_numpy()
        groups = []
        masks = {}
        for value in sorted(set(arr.tolist())):
            mask = masks[value] = arr == value
            groups.append({"value": value, "n": int(mask.sum()),
                           **_slice_metric(sig.task, y[mask], pred[mask], threshold, holdout_mae, count_scale)})
        scored = [g for g in groups if g["n"] >= MIN_SLICE_ROWS and g.get(metric) is not None]
        z = stats.simultaneous_z(len(scored), SLICE_CONFIDENCE)
        for g in scored:
            mask = masks[g["value"]]
            g["interval"] = _slice_interval(metric, y[mask], pred[mask], g[metric], z, holdout_mae, count_scale)
        entry: dict[str, Any] = {"feature": column, "kind": "time" if is_time else "categorical",
                                 "groups": groups, "gap": None, "best": None, "worst": None}
        if every:
            entry["period"] = every
        if len(scored) >= 2:
            hi = max(scored, key=lambda g: g[metric])
            lo = min(scored, key=lambda g: g[metric])
            best, worst = (lo, hi) if metric in SLICE_LOWER_IS_BETTER else (hi, lo)
            entry.update(gap=_f(hi[metric] - lo[metric]), best=best["value"], worst=worst["value"])
        features.append(entry)
    gapped = [f for f in features if f["gap"] is not None and f["kind"] == "categorical"]
    widest = max(gapped, key=lambda f: f["gap"]) if gapped else None
    by_time = next((f for f in features if f["kind"] == "time"), None)
    chosen = {"metric_note": why, "holdout_mae": holdout_mae} if why else {}
    return {"metric": metric, **chosen, "min_rows": MIN_SLICE_ROWS, "features": features,
            "max_gap": widest["gap"] if widest else None, "max_gap_feature": widest["feature"] if widest else None,
            "time_gap": by_time["gap"] if by_time else None, "skipped": skipped}
