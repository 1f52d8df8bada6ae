"""The evidence behind an evaluation's scalar metrics: curves, confusion, importances, slices.

Everything here is computed once, when an evaluation is recorded, and stored as one compact
JSON document (``artifacts/reports/<eval_id>.json``) so comparing runs, the TUI and the HTML
report only read numbers and never re-score a model. Curves are downsampled to at most
:data:`MAX_POINTS` points; SHAP values come from LightGBM's own ``pred_contrib`` on a sample.
"""

from __future__ import annotations

import math
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
MIN_SLICE_ROWS = 20       # smaller groups are listed but left out of the gap
MAX_SLICE_GROUPS = 20     # larger cardinalities fold the rest into "(other)"
# The metric whose spread across slices is the "gap": unitless so one threshold fits all tasks.
# Regression uses WAPE (sum |error| / sum |actual|): R² inside a slice measures the slice's own
# variance, not how wrong the model is there, and MAE scales with each group's level.
SLICE_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "wape"}
SLICE_LOWER_IS_BETTER = {"wape"}
# Each group's metric gets an interval; those of one feature hold together with this confidence
# (Bonferroni over its groups), so the gate can tell a gap from the noise of small groups.
SLICE_CONFIDENCE = 0.95


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
    so 100 rows are timed first and the sample grows only as far as the allowance reaches."""
    import time

    gain = booster.feature_importance("gain")
    split = booster.feature_importance("split")
    rng = np.random.default_rng(0)
    sample = X if len(X) <= SHAP_SAMPLE else X[rng.choice(len(X), SHAP_SAMPLE, replace=False)]
    if seconds is not None and len(sample) > 100:
        started = time.perf_counter()
        first = np.asarray(booster.predict(sample[:100], pred_contrib=True))
        per_row = (time.perf_counter() - started) / 100
        more = int(max(0.0, seconds - 100 * per_row) / max(per_row, 1e-9))
        rest = sample[100:100 + more]
        contrib = np.concatenate([first, np.asarray(booster.predict(rest, pred_contrib=True))]) if len(rest) else first
        sample = sample[:100 + len(rest)]
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
def _slice_metric(task: str, y: np.ndarray, pred: np.ndarray, threshold: float) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

    if task == "binary":
        auc = roc_auc_score(y, pred) if len(np.unique(y)) == 2 else None
        return {"roc_auc": _f(auc), "accuracy": _f(accuracy_score(y, (pred >= threshold).astype(int))),
                "positive_rate": _f(y.mean())}
    if task == "multiclass":
        return {"accuracy": _f(accuracy_score(y, pred.argmax(axis=1)))}
    scale = float(np.abs(y).sum())
    wape = float(np.abs(y - pred).sum()) / scale if scale > 0 else None
    return {"wape": _f(wape), "mae": _f(mean_absolute_error(y, pred)), "mean_actual": _f(y.mean())}


def _slice_interval(metric: str, y: np.ndarray, pred: np.ndarray, value: float, z: float) -> list[float] | None:
    """The group's slice metric as an interval (``z`` from :func:`mlops_tui.stats.simultaneous_z`).

    Accuracy: a Wilson interval over the group's rows. ROC AUC: the same over the smaller class
    (an AUC's variance is at most A(1 - A) / min(positives, negatives)), so 3 positives in 40 rows
    give a wide interval. WAPE: the delta-method interval of a ratio of sums."""
    if metric == "wape":
        bounds = stats.ratio_interval(np.abs(y - pred), np.abs(y), z)
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

    The gap of a feature is max − min of the slice metric (:data:`SLICE_METRIC`) over groups with at least
    :data:`MIN_SLICE_ROWS` rows where the metric is defined; ``max_gap`` is the worst categorical
    feature (the bias check the gate applies). The spread across time periods is reported apart as
    ``time_gap``: it measures stability over time, and weeks with holidays or storms would otherwise
    refuse every model of seasonal data.
    """
    metric = SLICE_METRIC[sig.task]
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
                           **_slice_metric(sig.task, y[mask], pred[mask], threshold)})
        scored = [g for g in groups if g["n"] >= MIN_SLICE_ROWS and g.get(metric) is not None]
        z = stats.simultaneous_z(len(scored), SLICE_CONFIDENCE)
        for g in scored:
            mask = masks[g["value"]]
            g["interval"] = _slice_interval(metric, y[mask], pred[mask], g[metric], z)
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
    return {"metric": metric, "min_rows": MIN_SLICE_ROWS, "features": features,
            "max_gap": widest["gap"] if widest else None, "max_gap_feature": widest["feature"] if widest else None,
            "time_gap": by_time["gap"] if by_time else None, "skipped": skipped}
