"""metrics.compute: the task's standard metrics from scikit-learn, and metric-key validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
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


SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def predictions():
    """Per task, labels and LightGBM predictions on a bundled real dataset (its first rows held out)."""
    import lightgbm as lgb

    def fit(file: str, target: pl.Expr, features: list[str], params: dict) -> tuple[np.ndarray, np.ndarray]:
        frame = pl.read_csv(SAMPLES / file, null_values="NA").with_columns(target.alias("y")).drop_nulls("y")
        X, y = frame.select(features).to_numpy(), frame["y"].to_numpy()
        test, train = slice(0, len(y) // 3), slice(len(y) // 3, None)
        booster = lgb.train({**params, "verbose": -1, "seed": 0}, lgb.Dataset(X[train], y[train]), 20)
        return y[test], booster.predict(X[test])

    return {
        "binary": fit("default.csv", pl.col("default") == "Yes", ["balance", "income"], {"objective": "binary"}),
        "multiclass": fit("penguins.csv", pl.col("species").rank("dense").cast(pl.Int64) - 1,
                          ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"],
                          {"objective": "multiclass", "num_class": 3}),
        "regression": fit("bikeshare.csv", pl.col("bikers"), ["hr", "temp", "hum", "workingday"],
                          {"objective": "regression"}),
    }


@pytest.mark.parametrize(("task", "metric"), [(task, m) for task, keys in metrics.METRICS.items() for m in keys])
def test_score_computes_only_the_metric_asked_and_equals_the_full_computation(predictions, monkeypatch, task, metric):
    """Retrain's and feedback's noise call score once per bootstrap draw (up to 200 draws x 2 models):
    a draw must cost one scikit-learn metric, not the whole set."""
    y, pred = predictions[task]
    rows = np.random.default_rng(0).integers(0, len(y), len(y))  # a bootstrap draw, as the noise takes
    want = metrics.compute(task, y[rows], pred[rows])[metric]
    called: list[str] = []

    def spy(name, fn):
        def counted(*args, **kwargs):
            called.append(name)
            return fn(*args, **kwargs)
        return counted

    for name in skm.__all__:
        if callable(fn := getattr(skm, name)) and not isinstance(fn, type):
            monkeypatch.setattr(skm, name, spy(name, fn))
    got = metrics.score(task, metric, y[rows], pred[rows])
    assert want is not None and got == pytest.approx(want, rel=0, abs=1e-12)
    assert len(called) == 1, called


def test_score_refuses_a_metric_the_task_does_not_have():
    with pytest.raises(UserError, match="unknown metric 'r2' for a binary task"):
        metrics.score("binary", "r2", [0, 1], [0.2, 0.7])


def test_choose_threshold_maximises_its_criterion_on_the_rows():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.06).astype(int)  # 6 % positives, as Caravan
    p = np.clip(0.05 + 0.25 * y + rng.normal(0, 0.08, 2000), 0, 1)  # never near 0.5
    assert skm.f1_score(y, p >= 0.5) == 0.0
    cuts = np.unique(p)
    f1 = metrics.choose_threshold("f1", y, p)
    assert f1 in cuts and skm.f1_score(y, p >= f1) >= max(skm.f1_score(y, p >= t) for t in cuts[::7]) - 1e-12
    bal = metrics.choose_threshold("balanced_accuracy", y, p)
    best = max(skm.balanced_accuracy_score(y, p >= t) for t in cuts[::7])
    assert bal in cuts and skm.balanced_accuracy_score(y, p >= bal) >= best - 1e-12
    assert bal < f1  # balanced accuracy weighs the rare class's recall up: a lower threshold
    assert metrics.choose_threshold("f1", np.zeros(5), np.linspace(0, 1, 5)) == 0.5  # one class: nothing to choose
    with pytest.raises(UserError, match="--threshold-for must be one of f1, balanced_accuracy"):
        metrics.choose_threshold("recall", y, p)


def test_a_model_s_threshold_is_its_tuned_one_only():
    assert metrics.model_threshold({"threshold": 0.5, "roc_auc": 0.7}) is None  # every model records 0.5
    assert metrics.model_threshold(None) is None and metrics.decision_threshold({"threshold": 0.5}) == 0.5
    tuned = {"threshold": 0.12, "threshold_for": "f1"}
    assert metrics.model_threshold(tuned) == 0.12 and metrics.decision_threshold(tuned) == 0.12
