"""The task's standard metrics, computed by scikit-learn (never hand-written).

One function, :func:`compute`, is used everywhere a model is measured — tuning trials, the holdout
evaluation, `evaluate`, retrain — so every number a user sees for a metric key means the same
thing. ``pred`` is what :func:`mlops_tui.evaluation.evaluate.predict` returns: the positive-class
probability (binary), an (n, k) matrix of class probabilities (multiclass), or values (regression).
``y_true`` holds class indices (classifiers, positions in the model's ``classes``) or numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlops_tui.errors import UserError

TASKS = ("binary", "multiclass", "regression")

Metrics = dict[str, Any]
"""Metric name → value, as :func:`compute` returns them (plus threshold or ``primary_metric`` notes):
the keys depend on the task, so this stays a dict."""

# Metric keys `--metric` accepts per task (also the keys `compute` returns, plus threshold info).
METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "f1_macro", "f1_weighted", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}
# Metrics where smaller is better (errors, losses); the gate, compare and monitoring read it here.
LOWER_IS_BETTER = {"rmse", "mae", "mape", "log_loss", "brier", "multi_logloss", "binary_logloss", "l2", "l1"}
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def check_metric(task: str, metric: str | None) -> str:
    """The metric to optimise for ``task`` (default when None); UserError listing valid keys."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if metric is None:
        return DEFAULT_METRIC[task]
    if metric not in METRICS[task]:
        raise UserError(f"unknown metric {metric!r} for a {task} task; valid: {', '.join(METRICS[task])}")
    return metric


def direction(metric: str) -> str:
    """Optuna direction of a metric key: 'minimize' for errors and losses, else 'maximize'."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def better(metric: str, a: float, b: float) -> bool:
    """Is value ``a`` better than ``b`` for ``metric``?"""
    return a < b if metric in LOWER_IS_BETTER else a > b


def worse_by(metric: str, value: float, reference: float) -> float:
    """How much worse ``value`` is than ``reference`` for ``metric`` (negative: better)."""
    return value - reference if metric in LOWER_IS_BETTER else reference - value


def _float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _binary(metric: str, y: np.ndarray, p: np.ndarray, threshold: float) -> float | None:
    from sklearn import metrics as skm

    if metric in ("roc_auc", "pr_auc"):
        if len(np.unique(y)) != 2:  # ranking metrics need both classes present
            return None
        return _float((skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score)(y, p))
    if metric == "log_loss":
        return _float(skm.log_loss(y, p, labels=[0, 1]))
    if metric == "brier":
        return _float(skm.brier_score_loss(y, p, pos_label=1))
    y_hat = (p >= threshold).astype(int)
    if metric == "accuracy":
        return _float(skm.accuracy_score(y, y_hat))
    label_metric = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[metric]
    return _float(label_metric(y, y_hat, zero_division=0))


def _best_f1(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """The threshold maximising F1 on these rows (shown beside the fixed threshold's metrics)."""
    from sklearn import metrics as skm

    out: dict[str, float | None] = {"best_f1_threshold": None, "best_f1": None}
    if len(np.unique(y)) == 2:
        prec, rec, thr = skm.precision_recall_curve(y, p)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)[:-1]
        if len(f1):
            best = int(np.argmax(f1))
            out = {"best_f1_threshold": float(thr[best]), "best_f1": _float(f1[best])}
    return out


# What `tune --threshold-for` may choose a binary model's decision threshold for.
THRESHOLD_FOR = ("f1", "balanced_accuracy")


def choose_threshold(criterion: str, y_true: Any, pred: Any) -> float:
    """The decision threshold (class 1 when p >= it) maximising ``criterion`` on these rows: F1, or
    balanced accuracy (the mean of the two classes' recalls, Youden's J + 1 over 2). One of the
    predicted probabilities, so the labels it gives on these rows are the ones it was chosen for;
    0.5 when the rows hold one class only (nothing to choose from)."""
    from sklearn import metrics as skm

    y, p, _ = _prepare("binary", y_true, pred, None)
    if len(np.unique(y)) != 2:
        return 0.5
    if criterion == "f1":
        found = _best_f1(y, p)["best_f1_threshold"]
        return 0.5 if found is None else float(found)
    if criterion != "balanced_accuracy":
        raise UserError(f"--threshold-for must be one of {', '.join(THRESHOLD_FOR)} (got {criterion!r})")
    fpr, tpr, thr = skm.roc_curve(y, p)
    best = int(np.argmax((tpr - fpr)[1:])) + 1  # thr[0] is +inf: no row labelled 1
    return float(thr[best])


def model_threshold(metrics: dict[str, Any] | None) -> float | None:
    """The decision threshold a binary model was tuned for (`tune --threshold-for`; its metrics'
    ``threshold``), or None: class 1 where it is the likelier (p > 0.5), as models always did."""
    m = metrics or {}
    return float(m["threshold"]) if m.get("threshold_for") and m.get("threshold") is not None else None


def decision_threshold(metrics: dict[str, Any] | None) -> float:
    """The threshold a binary model's labels are measured at: its tuned one, else 0.5."""
    found = model_threshold(metrics)
    return 0.5 if found is None else found


def _multiclass(metric: str, y: np.ndarray, proba: np.ndarray, n_classes: int) -> float | None:
    from sklearn import metrics as skm

    if metric == "log_loss":
        return _float(skm.log_loss(y, proba, labels=list(range(n_classes))))
    y_hat = proba.argmax(axis=1)
    if metric == "accuracy":
        return _float(skm.accuracy_score(y, y_hat))
    average = {"f1_macro": "macro", "f1_weighted": "weighted"}[metric]
    return _float(skm.f1_score(y, y_hat, average=average, zero_division=0))


def _regression(metric: str, y: np.ndarray, pred: np.ndarray) -> float | None:
    from sklearn import metrics as skm

    if metric == "rmse":
        return _float(skm.root_mean_squared_error(y, pred))
    if metric == "mae":
        return _float(skm.mean_absolute_error(y, pred))
    if metric == "r2":
        return _float(skm.r2_score(y, pred)) if len(y) > 1 else None
    # MAPE divides by y: meaningless (and huge) when any target is zero.
    return None if np.any(y == 0) else _float(skm.mean_absolute_percentage_error(y, pred))


def _prepare(task: str, y_true: Any, pred: Any, classes: list[Any] | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(labels, predictions, number of classes) in the shape and type scikit-learn wants for ``task``."""
    y, p = np.asarray(y_true), np.asarray(pred)
    if len(y) == 0:
        raise UserError("no rows to compute metrics on")
    if task == "binary":
        return y.astype(int), np.clip(p.reshape(-1).astype(float), 0.0, 1.0), 2
    if task == "multiclass":
        n = len(classes) if classes else (p.shape[1] if p.ndim == 2 else int(y.max()) + 1)
        return y.astype(int), p.astype(float).reshape(len(y), -1), n
    if task == "regression":
        return y.astype(float), p.reshape(-1).astype(float), 0
    raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _one(task: str, metric: str, y: np.ndarray, p: np.ndarray, n_classes: int, threshold: float) -> float | None:
    if task == "binary":
        return _binary(metric, y, p, threshold)
    if task == "multiclass":
        return _multiclass(metric, y, p, n_classes)
    return _regression(metric, y, p)


def score(task: str, metric: str, y_true: Any, pred: Any, classes: list[Any] | None = None,
          threshold: float = 0.5) -> float | None:
    """One metric only, equal to ``compute(...)[metric]``: what a tuning trial and each bootstrap
    draw of retrain's and feedback's noise need. One scikit-learn call, not the whole set: retrain's
    paired bootstrap of f1 on 2k rows (200 draws x 2 models) took 25 s with the set, 3 s with one."""
    y, p, n = _prepare(task, y_true, pred, classes)
    return _one(task, check_metric(task, metric), y, p, n, threshold)


def compute(task: str, y_true: Any, pred: Any, classes: list[Any] | None = None,
            threshold: float = 0.5) -> Metrics:
    """Scalar metrics of ``pred`` against ``y_true`` for ``task`` (see module docstring): every key
    of ``METRICS[task]``, and for a binary task the threshold used and the best-F1 threshold."""
    y, p, n = _prepare(task, y_true, pred, classes)
    out: Metrics = {metric: _one(task, metric, y, p, n, threshold) for metric in METRICS[task]}
    if task == "binary":
        out |= {"threshold": float(threshold), **_best_f1(y, p)}
    return out
