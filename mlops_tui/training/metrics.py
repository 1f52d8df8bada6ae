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


def _binary(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    from sklearn import metrics as skm

    p = np.clip(p.astype(float), 0.0, 1.0)
    y_hat = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2  # ranking metrics need both classes present
    out: dict[str, Any] = {
        "roc_auc": _float(skm.roc_auc_score(y, p)) if both else None,
        "pr_auc": _float(skm.average_precision_score(y, p)) if both else None,
        "log_loss": _float(skm.log_loss(y, p, labels=[0, 1])),
        "brier": _float(skm.brier_score_loss(y, p, pos_label=1)),
        "accuracy": _float(skm.accuracy_score(y, y_hat)),
        "precision": _float(skm.precision_score(y, y_hat, zero_division=0)),
        "recall": _float(skm.recall_score(y, y_hat, zero_division=0)),
        "f1": _float(skm.f1_score(y, y_hat, zero_division=0)),
        "threshold": float(threshold),
        "best_f1_threshold": None,
        "best_f1": None,
    }
    if both:
        prec, rec, thr = skm.precision_recall_curve(y, p)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)[:-1]
        if len(f1):
            best = int(np.argmax(f1))
            out["best_f1_threshold"] = float(thr[best])
            out["best_f1"] = _float(f1[best])
    return out


def _multiclass(y: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, Any]:
    from sklearn import metrics as skm

    proba = np.asarray(proba, dtype=float).reshape(len(y), -1)
    y_hat = proba.argmax(axis=1)
    return {
        "accuracy": _float(skm.accuracy_score(y, y_hat)),
        "f1_macro": _float(skm.f1_score(y, y_hat, average="macro", zero_division=0)),
        "f1_weighted": _float(skm.f1_score(y, y_hat, average="weighted", zero_division=0)),
        "log_loss": _float(skm.log_loss(y, proba, labels=list(range(n_classes)))),
    }


def _regression(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    from sklearn import metrics as skm

    y = y.astype(float)
    pred = pred.astype(float)
    return {
        "rmse": _float(skm.root_mean_squared_error(y, pred)),
        "mae": _float(skm.mean_absolute_error(y, pred)),
        "r2": _float(skm.r2_score(y, pred)) if len(y) > 1 else None,
        # MAPE divides by y: meaningless (and huge) when any target is zero.
        "mape": None if np.any(y == 0) else _float(skm.mean_absolute_percentage_error(y, pred)),
    }


def score(task: str, metric: str, y_true: Any, pred: Any, classes: list[Any] | None = None,
          threshold: float = 0.5) -> float | None:
    """One metric only — what a tuning trial needs (the full set costs ~100 ms on 2k rows)."""
    from sklearn import metrics as skm

    y, p = np.asarray(y_true), np.asarray(pred)
    if task == "binary":
        y, p = y.astype(int), np.clip(p.reshape(-1).astype(float), 0.0, 1.0)
        ranking = {"roc_auc": skm.roc_auc_score, "pr_auc": skm.average_precision_score}
        if metric in ranking:
            return _float(ranking[metric](y, p)) if len(np.unique(y)) == 2 else None
        if metric == "log_loss":
            return _float(skm.log_loss(y, p, labels=[0, 1]))
        if metric == "brier":
            return _float(skm.brier_score_loss(y, p, pos_label=1))
    elif task == "multiclass" and metric == "log_loss":
        n = len(classes) if classes else p.shape[1]
        return _float(skm.log_loss(y.astype(int), p.reshape(len(y), -1), labels=list(range(n))))
    elif task == "regression" and metric in ("rmse", "mae"):
        fn = skm.root_mean_squared_error if metric == "rmse" else skm.mean_absolute_error
        return _float(fn(y.astype(float), p.reshape(-1).astype(float)))
    return compute(task, y, p, classes=classes, threshold=threshold).get(metric)


def compute(task: str, y_true: Any, pred: Any, classes: list[Any] | None = None,
            threshold: float = 0.5) -> Metrics:
    """Scalar metrics of ``pred`` against ``y_true`` for ``task`` (see module docstring)."""
    y = np.asarray(y_true)
    p = np.asarray(pred)
    if len(y) == 0:
        raise UserError("no rows to compute metrics on")
    if task == "binary":
        return _binary(y.astype(int), p.reshape(-1), threshold)
    if task == "multiclass":
        n = len(classes) if classes else (p.shape[1] if p.ndim == 2 else int(y.max()) + 1)
        return _multiclass(y.astype(int), p, n)
    if task == "regression":
        return _regression(y, p.reshape(-1))
    raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
