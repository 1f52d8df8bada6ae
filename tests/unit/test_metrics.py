"""metrics.compute: the task's standard metrics from scikit-learn, and metric-key validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlops_tui.errors import UserError
from mlops_tui.training import metrics


def test_binary_metrics_match_sklearn_and_threshold_applies():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.6 + rng.normal(0.2, 0.25, 400), 0, 1)
    m = metrics.compute("binary", y, p, classes=["No", "Yes"], threshold=0.5)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))
    assert m["threshold"] == 0.5
    assert 0 < m["best_f1_threshold"] < 1 and m["best_f1"] >= m["f1"] - 1e-12
    high = metrics.compute("binary", y, p, threshold=0.9)
    assert high["recall"] < m["recall"]


def test_multiclass_and_regression_metrics():
    y = np.array([0, 1, 2, 2, 1, 0])
    proba = np.eye(3)[[0, 1, 2, 1, 1, 0]] * 0.8 + 0.2 / 3
    m = metrics.compute("multiclass", y, proba, classes=["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, proba.argmax(1), average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    r = metrics.compute("regression", np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))
    assert r["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1) / 3))
    assert r["mae"] == pytest.approx(0.5)
    assert r["mape"] == pytest.approx(skm.mean_absolute_percentage_error([1, 2, 4], [1.5, 2, 3]))
    assert metrics.compute("regression", np.array([0.0, 2.0]), np.array([0.1, 2.0]))["mape"] is None


def test_metric_keys_defaults_and_directions():
    assert metrics.check_metric("binary", None) == "roc_auc"
    assert metrics.check_metric("multiclass", None) == "log_loss"
    assert metrics.check_metric("regression", None) == "rmse"
    assert metrics.direction("rmse") == "minimize" and metrics.direction("roc_auc") == "maximize"
    with pytest.raises(UserError, match="valid: rmse, mae, r2, mape"):
        metrics.check_metric("regression", "auc")


@pytest.mark.parametrize(("task", "metric"), [("binary", "roc_auc"), ("binary", "log_loss"), ("binary", "f1"),
                                              ("regression", "rmse"), ("regression", "r2")])
def test_single_metric_score_equals_the_full_computation(task, metric):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200) if task == "binary" else rng.normal(size=200)
    pred = np.clip(y * 0.5 + rng.normal(0.25, 0.2, 200), 0, 1) if task == "binary" else y + rng.normal(size=200)
    assert metrics.score(task, metric, y, pred) == pytest.approx(metrics.compute(task, y, pred)[metric])
