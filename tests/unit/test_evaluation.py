"""Holdout evaluation: metric values against scikit-learn, details (curves, confusion, importance,
SHAP, slices, Optuna importances), storage with the run, and clear refusals of bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm

from mlops_tui.errors import UserError
from mlops_tui.evaluation import details as evaldetails
from mlops_tui.evaluation import evaluate as evaluation
from mlops_tui.training.signature import encode
from tests.eval_helpers import make_run, trained


def _truth(booster, sig, test: pl.DataFrame):
    X = encode(test, sig)[0].to_numpy()
    pred = booster.predict(X)
    if sig.task == "regression":
        return test[sig.target].cast(pl.Float64).to_numpy(), pred, X
    lookup = {c: i for i, c in enumerate(sig.classes)}
    return np.array([lookup[str(v)] for v in test[sig.target].to_list()]), pred, X


def test_binary_metrics_match_sklearn_and_details_are_complete(ws):
    model, booster, sig, test = trained(ws, "binary")
    y, p, X = _truth(booster, sig, test)
    metrics, details = evaluation.evaluate_frame(booster, sig, test, threshold=0.5)

    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert metrics["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    y_hat = (p >= 0.5).astype(int)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, y_hat))
    assert metrics["precision"] == pytest.approx(skm.precision_score(y, y_hat))
    assert metrics["recall"] == pytest.approx(skm.recall_score(y, y_hat))
    assert metrics["f1"] == pytest.approx(skm.f1_score(y, y_hat))
    assert 0 < metrics["best_f1_threshold"] < 1 and metrics["best_f1"] >= metrics["f1"]
    assert metrics["holdout_rows"] == test.height == 2500

    assert details["confusion"]["matrix"] == skm.confusion_matrix(y, y_hat).tolist()
    assert details["confusion"]["labels"] == ["No", "Yes"]
    curves = details["curves"]
    assert 2 < len(curves["roc"]["fpr"]) <= evaldetails.MAX_POINTS
    assert curves["roc"]["fpr"][0] == 0 and curves["roc"]["tpr"][-1] == 1
    assert len(curves["pr"]["recall"]) <= evaldetails.MAX_POINTS
    assert len(curves["calibration"]["mean_predicted"]) <= 10

    imp = details["importance"]
    assert imp["features"][0] == "balance"  # the feature that drives default in this data
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert imp["gain"][0] == pytest.approx(gain["balance"], rel=1e-4)
    sample = X[np.random.default_rng(0).choice(len(X), evaldetails.SHAP_SAMPLE, replace=False)]
    contrib = booster.predict(sample, pred_contrib=True)  # mean |SHAP| on the same ≤ 2000-row sample
    shap = dict(zip(booster.feature_name(), np.abs(contrib[:, :-1]).mean(axis=0), strict=True))
    assert imp["shap"][0] == pytest.approx(shap["balance"], rel=1e-4)


def test_an_untimed_evaluation_of_a_large_model_takes_shap_on_fewer_rows_the_same_each_time(ws, monkeypatch):
    """TreeSHAP costs trees x leaves a row: without a time allowance the sample shrinks with the
    model's size (a fold-averaged model of 4,430 trees of 96 leaves held every untimed run's final
    step for 54 s on 1,000 rows), never below SHAP_MIN_ROWS, and is the same rows each time."""
    _, booster, sig, test = trained(ws, "binary")
    X = encode(test, sig)[0].to_numpy()
    size = booster.num_trees() * int(booster.params["num_leaves"])
    monkeypatch.setattr(evaldetails, "SHAP_WORK", size * 150)  # as if the model were ~7x larger than it is
    names = list(booster.feature_name())
    imp = evaldetails.feature_importance(booster, X, names, "binary", 2)
    assert imp["shap_rows"] == 150
    sample = X[np.random.default_rng(0).choice(len(X), 150, replace=False)]
    shap = np.abs(booster.predict(sample, pred_contrib=True)[:, :-1]).mean(axis=0)
    assert imp["shap"][0] == pytest.approx(shap[names.index(imp["features"][0])], rel=1e-4)
    assert evaldetails.feature_importance(booster, X, names, "binary", 2) == imp
    monkeypatch.setattr(evaldetails, "SHAP_WORK", size)  # a 1-row budget still takes SHAP_MIN_ROWS rows
    assert evaldetails.feature_importance(booster, X, names, "binary", 2)["shap_rows"] == evaldetails.SHAP_MIN_ROWS


def test_multiclass_metrics_match_sklearn(ws):
    model, booster, sig, test = trained(ws, "multiclass")
    test = test.filter(pl.col("bill_length_mm").is_not_null())
    y, p, _ = _truth(booster, sig, test)
    metrics, details = evaluation.evaluate_frame(booster, sig, test)
    y_hat = p.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, y_hat))
    assert metrics["f1_macro"] == pytest.approx(skm.f1_score(y, y_hat, average="macro"))
    assert metrics["f1_weighted"] == pytest.approx(skm.f1_score(y, y_hat, average="weighted"))
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=[0, 1, 2]))
    assert details["confusion"]["matrix"] == skm.confusion_matrix(y, y_hat, labels=[0, 1, 2]).tolist()
    recall = skm.recall_score(y, y_hat, average=None, labels=[0, 1, 2])
    assert [details["per_class"][c]["recall"] for c in sig.classes] == pytest.approx(list(recall))
    assert len(details["importance"]["shap"]) == len(sig.features)


def test_regression_metrics_match_sklearn_and_time_slices_by_month(ws):
    model, booster, sig, test = trained(ws, "regression")
    y, p, _ = _truth(booster, sig, test)
    metrics, details = evaluation.evaluate_frame(booster, sig, test, time_column="date")
    assert metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    assert metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert metrics["r2"] == pytest.approx(skm.r2_score(y, p))
    assert metrics["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    reg = details["regression"]
    assert len(reg["actual"]) == len(reg["predicted"]) == evaldetails.MAX_POINTS
    assert sum(reg["residual_hist"]["counts"]) == test.height

    by_time = next(f for f in details["slices"]["features"] if f["feature"] == "date")
    assert by_time["kind"] == "time" and by_time["period"] == "1mo"
    assert [g["value"] for g in by_time["groups"]][:2] == ["2011-01", "2011-02"]
    assert sum(g["n"] for g in by_time["groups"]) == test.height
    # The gate's gap is across categories (bias); the spread over time is reported apart.
    assert details["slices"]["time_gap"] == by_time["gap"]
    assert details["slices"]["max_gap_feature"] in {"mnth", "weathersit"}


def test_slice_metrics_per_group_sizes_and_largest_gap(ws):
    model, booster, sig, test = trained(ws, "binary")
    y, p, _ = _truth(booster, sig, test)
    _, details = evaluation.evaluate_frame(booster, sig, test)
    sl = details["slices"]
    assert sl["metric"] == "roc_auc"
    (student,) = sl["features"]
    groups = {g["value"]: g for g in student["groups"]}
    assert set(groups) == {"No", "Yes"}
    is_student = (test["student"] == "Yes").to_numpy()
    assert groups["Yes"]["n"] == int(is_student.sum())
    assert groups["Yes"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[is_student], p[is_student]))
    assert groups["No"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[~is_student], p[~is_student]))
    assert student["gap"] == pytest.approx(abs(groups["Yes"]["roc_auc"] - groups["No"]["roc_auc"]))
    assert sl["max_gap"] == student["gap"] and sl["max_gap_feature"] == "student"


def test_record_holdout_stores_metrics_details_and_param_importances(ws):
    model, ev = make_run(ws, "binary", "run0001")
    stored = ws.store.runs.evaluations(run_id="run0001")
    assert [e.eval_id for e in stored] == [ev.eval_id]
    assert ev.kind == "holdout" and ev.metrics["primary_metric"] == "roc_auc"
    assert ev.model_name == model.name and ev.model_version == model.version
    assert ev.details_path == f"artifacts/reports/{ev.eval_id}.json"
    details = evaluation.details_for_run(ws, "run0001")
    assert details == json.loads(ws.abspath(ev.details_path).read_text())
    assert details["eval_id"] == ev.eval_id and details["run_id"] == "run0001"
    imp = details["param_importances"]["importances"]
    assert set(imp) == {"learning_rate", "num_leaves"} and sum(imp.values()) == pytest.approx(1.0)
    assert ws.abspath(ev.details_path).stat().st_size < 50_000  # compact


def test_details_for_run_without_evaluation_is_none(ws):
    assert evaluation.details_for_run(ws, "nope") is None


def test_too_few_trials_for_param_importances_says_why(ws, tmp_path):
    from tests.eval_helpers import write_journal

    path = write_journal(ws, "short", n_trials=1)
    res = evaldetails.param_importances(path, "short")
    assert res["importances"] is None and "need at least 2" in res["reason"]
    assert evaldetails.param_importances(tmp_path / "missing.journal", "x")["importances"] is None


@pytest.mark.parametrize(("drop", "message"), [("default", "no target column 'default'"),
                                               ("balance", "missing feature column(s) the model needs: balance")])
def test_evaluation_data_missing_target_or_feature_is_refused_and_nothing_stored(ws, drop, message):
    model, booster, sig, test = trained(ws, "binary")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluation.record_holdout(ws, run_id=None, model=model, booster=booster, signature=sig,
                                  test_df=test.drop(drop), metrics={})
    assert ws.store.runs.evaluations() == []
    assert list((ws.artifacts / "reports").iterdir()) == []


def test_unknown_label_is_refused_with_the_value(ws):
    model, booster, sig, test = trained(ws, "binary")
    bad = test.with_columns(pl.when(pl.col("customer_id") == 5).then(pl.lit("Maybe"))
                            .otherwise(pl.col("default")).alias("default"))
    with pytest.raises(UserError, match="never saw: 'Maybe'"):
        evaluation.evaluate_frame(booster, sig, bad)


def test_a_time_column_that_is_not_a_date_is_skipped_not_fatal(ws):
    model, booster, sig, test = trained(ws, "regression")
    metrics, details = evaluation.evaluate_frame(booster, sig, test, time_column="hr")
    assert metrics["rmse"] > 0
    assert [s["feature"] for s in details["slices"]["skipped"]] == ["hr"]
    assert details["slices"]["time_gap"] is None


def test_evaluate_threshold_outside_0_1_is_refused(ws):
    with pytest.raises(UserError, match="between 0 and 1"):
        evaluation.evaluate_model(ws, "any", "any", threshold=1.5)


def test_a_date_the_model_reads_is_sliced_by_period_without_a_time_column(ws):
    """Issue 4: slices for the time column by period "when there is one" — a random split still has one."""
    from dataclasses import replace

    from mlops_tui.registry import models as registry
    from mlops_tui.training.signature import Feature
    from tests.eval_helpers import split
    from tests.scoring_helpers import train_register

    train, test, sig = split("regression")
    month = Feature("date__month", "numeric", "date", str(train.schema["date"]), transform="month")
    sig = replace(sig, features=(*sig.features, month))
    booster, _ = registry.load(ws, train_register(ws, train, sig, name="dated", rounds=5))
    _, details = evaluation.evaluate_frame(booster, sig, test)  # no time_column given
    by_time = next(f for f in details["slices"]["features"] if f["kind"] == "time")
    assert by_time["feature"] == "date" and by_time["period"] == "1mo"
    assert len(by_time["groups"]) == 12 and sum(g["n"] for g in by_time["groups"]) == test.height
    assert details["slices"]["time_gap"] == by_time["gap"]
    assert details["slices"]["max_gap_feature"] in {"mnth", "weathersit"}  # the gate's gap stays categorical


def test_calibration_bin_counts_match_the_plotted_bins(ws):
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.1, 500), [0.1, 0.2, 0.2, 0.55], rng.uniform(0.9, 1.0, 50)])
    y = (rng.uniform(size=len(p)) < p).astype(int)
    cal = evaldetails.binary_curves(y, p)["calibration"]
    frac, _ = calibration_curve(y, p, n_bins=10)
    assert len(cal["bin_counts"]) == len(frac) == len(cal["mean_predicted"])
    assert sum(cal["bin_counts"]) == len(p)
    # 0.1 and 0.2 fall in the lower bin, as calibration_curve counts them (np.histogram would not).
    assert cal["bin_counts"][:3] == [501, 2, 1]


def test_the_holdout_interval_s_fast_statistics_equal_the_metrics():
    """The primary metric's bootstrap (details.metric_interval) computes ROC AUC, log loss, accuracy
    and Brier itself (scikit-learn's checks made 200 draws on 38 rows take 1.4 s): the same figures."""
    import numpy as np

    from mlops_tui.evaluation import details as ed
    from mlops_tui.training import metrics as mx

    rng = np.random.default_rng(3)
    for (task, metric), fast in ed._FAST.items():
        y = rng.integers(0, 2 if task == "binary" else 3, 400)
        p = rng.random(400).round(2) if task == "binary" else rng.dirichlet([1, 1, 1], 400)  # rounded: ties
        classes = ["a", "b"] if task == "binary" else ["a", "b", "c"]
        assert fast(y, p, 0.5) == pytest.approx(mx.score(task, metric, y, p, classes, 0.5), abs=1e-12), metric
