"""Fitting LightGBM on prepared data, and the one way a model gets trained, saved and registered.

`train_and_register` is shared by the end of every tuning run, `retrain` and `run reproduce`:
the same config + params + data give the same model and identical holdout predictions, because
preparation is seeded and LightGBM runs deterministic (deterministic, force_row_wise, fixed
num_threads and seeds are part of the params).
"""

from __future__ import annotations

import re
import time
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mlops_tui.training import metrics as mx
from mlops_tui.training import prep, trained_rows
from mlops_tui.training.modelfile import model_bytes

if TYPE_CHECKING:
    import lightgbm as lgb

    from mlops_tui.store import DatasetVersion, ModelVersion
    from mlops_tui.training.tuning.space import Params
    from mlops_tui.workspace import Workspace

# LightGBM's own metric for early stopping / pruning, per (task, our metric key). Metrics with no
# LightGBM twin fall back to the task's loss (then pruning is off: the directions may differ).
_LGB_METRIC = {
    ("binary", "roc_auc"): "auc", ("binary", "pr_auc"): "average_precision",
    ("binary", "log_loss"): "binary_logloss", ("multiclass", "log_loss"): "multi_logloss",
    ("regression", "rmse"): "rmse", ("regression", "mae"): "l1", ("regression", "mape"): "mape",
}
_LGB_DEFAULT = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "rmse"}
_OBJECTIVE = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}
SETTINGS_KEYS = ("num_boost_round", "early_stopping_rounds")


def lgb_metric(task: str, metric: str) -> tuple[str, bool]:
    """(LightGBM metric name, whether it matches ``metric`` exactly so pruning may use it)."""
    name = _LGB_METRIC.get((task, metric))
    return (name, True) if name else (_LGB_DEFAULT[task], False)


def base_params(task: str, n_classes: int, metric: str, seed: int, num_threads: int = 1) -> Params:
    """Fixed LightGBM params: objective, deterministic training, quiet."""
    params: dict[str, Any] = {
        "objective": _OBJECTIVE[task], "metric": lgb_metric(task, metric)[0], "verbosity": -1,
        "seed": seed, "deterministic": True, "force_row_wise": True, "num_threads": num_threads,
        "feature_pre_filter": False,
    }
    if task == "multiclass":
        params["num_class"] = n_classes
    return params


class Fitted(NamedTuple):
    """The fitted rows (prep.fitted_rows) as LightGBM's Dataset, with the feature matrix and labels it wraps."""

    data: lgb.Dataset
    X: np.ndarray
    y: np.ndarray


_fitted: list[tuple[weakref.ref[prep.Prepared], dict[str, Any], Fitted]] = []  # the last one, while its Prepared lives


def fitted_dataset(p: prep.Prepared, params: Params) -> Fitted:
    """The Dataset of ``p``'s fitted rows for training with ``params``, one per Prepared in this
    process: LightGBM bins the rows when it first trains on it, and every later trial of the worker
    and the final model reuse the bins. Binning again in every trial took 20 s of a 46 s trial on 8M
    rows (10M-row diamonds, `tune --timeout 60`; bench/tune_bins.py). A Dataset is binned for its
    dataset parameters (max_bin, min_data_in_bin, ...: the run's, unless a space tunes one): ``params``
    changing one get a new Dataset of the same rows (LightGBM would re-bin the old one itself, with a
    'Fatal' line on stderr)."""
    import lightgbm as lgb

    held = _fitted[0] if _fitted and _fitted[0][0]() is p else None
    X, y = (held[2].X, held[2].y) if held else p.xy(prep.fitted_rows(p))
    bins = lgb.Dataset(X, params=params).get_params()  # the dataset parameters among params (LightGBM's list)
    if held and held[1] == bins:
        return held[2]
    cats = [i for i, f in enumerate(p.signature.features) if f.kind == "categorical"]
    data = lgb.Dataset(X, label=y, feature_name=p.signature.model_feature_names, categorical_feature=cats or "auto",
                       free_raw_data=False, params={**bins, "feature_pre_filter": False})
    _fitted[:] = [(weakref.ref(p), bins, Fitted(data, X, y))]
    if not held:
        weakref.finalize(p, _fitted.clear)  # not kept past its Prepared (the TUI's process retrains too)
    return _fitted[0][2]


def predict(booster: lgb.Booster, X: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
    return np.asarray(booster.predict(X, num_iteration=num_iteration))


def fit_final(p: prep.Prepared, params: Params) -> lgb.Booster:
    """Refit on every non-holdout row (prep.fitted_rows) with a fixed number of rounds (the tuned
    best iteration)."""
    import lightgbm as lgb

    rounds = int(params.get("num_boost_round", 100))
    lgb_params = {k: v for k, v in params.items() if k not in SETTINGS_KEYS}
    return lgb.train(lgb_params, fitted_dataset(p, lgb_params).data, num_boost_round=max(1, rounds))


def fit_model(p: prep.Prepared, config: dict[str, Any], params: Params) -> lgb.Booster:
    """A run's final model from its config and full params: the average of the fold models for a
    cross-validated run (:func:`fit_folds`), else one refit on train+valid (:func:`fit_final`)."""
    if (config.get("protocol") or {}).get("kind") == "cv":
        from mlops_tui.training.tuning import protocol

        return fit_folds(p, params, protocol.folds(config, p, draws=protocol.final_draws(config)))
    return fit_final(p, params)


def fit_folds(p: prep.Prepared, params: Params, folds: list[tuple[np.ndarray, np.ndarray]]) -> lgb.Booster:
    """The final model of a cross-validated run: the best trial's k fold models again (same folds,
    same bins and seeds, so the same trees), then the same configuration on each further draw of
    the folds (``folds``: protocol.folds with the run's final draws), each to the chosen rounds,
    averaged into one model.

    Why not one refit on all rows: measured on the corpus (bench/tune_quality.py, the same trials),
    the average of the fold models scored better on the external 25 % on 8 of the 11
    cross-validated sets (hmda AUC 0.864 -> 0.883, carseats R² 0.697 -> 0.734): each fold model saw
    80 % of the rows, but five of them average away much of the variance of a model fitted to a few
    hundred rows, and a refit's rounds chosen on 80 % of the rows are a guess for 100 %. A second
    draw of the folds averages away more (protocol.FINAL_DRAWS). The cost: k x draws times the
    trees, so scoring is that many times slower (these are models of at most 10,000 rows)."""
    return average(_fold_models(p, params, folds)[0])


def _fold_models(p: prep.Prepared, params: Params, folds: list[tuple[np.ndarray, np.ndarray]]
                 ) -> tuple[list[lgb.Booster], Fitted]:
    """One model per fold of ``folds`` (trained on its first part, to the tuned rounds), and the rows."""
    import lightgbm as lgb

    rounds = max(1, int(params.get("num_boost_round", 100)))
    lgb_params = {**{k: v for k, v in params.items() if k not in SETTINGS_KEYS}, "metric": "None"}
    fitted = fitted_dataset(p, lgb_params)
    result = lgb.cv(lgb_params, fitted.data, num_boost_round=rounds, folds=folds, return_cvbooster=True)
    cv = result["cvbooster"]
    assert isinstance(cv, lgb.CVBooster)  # (the stub types every value as list[float] | CVBooster)
    return cv.boosters, fitted


def unseen_predictions(p: prep.Prepared, config: dict[str, Any], params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predictions) of rows by models that did not learn from them, as the best trial made
    them: its fold models again (the run's folds, the tuned rounds: the same trees) on their
    validation rows — the out-of-fold predictions of a cross-validated run, the validation split's
    of one split. Never the holdout, which stays the honest evaluation of what is chosen here."""
    from mlops_tui.training.tuning import protocol

    folds = protocol.folds(config, p)
    models, fitted = _fold_models(p, params, folds)
    rows = np.concatenate([valid for _, valid in folds])
    return fitted.y[rows], np.concatenate([predict(m, fitted.X[valid]) for m, (_, valid) in zip(models, folds, strict=True)])


# One pass over a fold model's trees: each tree's header line (renumbered) and its value lines (scaled).
_TREE_LINES = re.compile(r"(?m)^(?:Tree=\d+|(leaf_value|internal_value)=(.*)$)")


def average(boosters: list[lgb.Booster]) -> lgb.Booster:
    """One LightGBM model whose raw score is the mean of ``boosters``' raw scores: all their trees,
    every leaf value divided by their number (raw scores add up over trees). A plain LightGBM model
    file, so scoring, SHAP and every reader of the format work on it unchanged.

    Text in, text out: the trees are renumbered in order and their leaf and internal values
    divided, everything else kept as LightGBM wrote it. One regular expression pass per fold
    model, not two substitutions per tree (penguins' 14,910 trees: 0.30-0.33 -> 0.20-0.24 CPU-s)."""
    import itertools

    import lightgbm as lgb

    k = len(boosters)
    texts = [model_bytes(b).decode() for b in boosters]
    first = texts[0]
    # tree_sizes lists each tree's bytes, which change here; without it LightGBM reads the trees in order.
    head = re.sub(r"(?m)^tree_sizes=.*\n", "", first[:first.index("\nTree=") + 1])
    tail = first[first.index("end of trees"):]
    number = itertools.count()

    def rewrite(match: re.Match[str]) -> str:
        if match[1] is None:
            return f"Tree={next(number)}"
        return match[1] + "=" + " ".join([repr(float(v) / k) for v in match[2].split()])

    body = "".join(_TREE_LINES.sub(rewrite, text[text.index("\nTree=") + 1:text.index("end of trees")])
                   for text in texts)
    return lgb.Booster(model_str=head + "\n" + body + tail)


def full_params(config: dict[str, Any], params: Params, p: prep.Prepared) -> Params:
    """Base params for the run's task and seed, overlaid with the tuned (or given) ones."""
    metric = mx.check_metric(p.task, config.get("metric"))
    base = base_params(p.task, len(p.classes), metric, int(config.get("seed", 0)),
                       int(config.get("num_threads", 1)))
    return {**base, **params}


def prepare_config(ws: Workspace, dv: DatasetVersion, config: dict[str, Any]) -> prep.Prepared:
    from mlops_tui.data import datasets

    return prepare_frame(datasets.load(ws, dv), config)


def prepare_frame(df: Any, config: dict[str, Any]) -> prep.Prepared:
    """The run's preparation of ``df`` (a worker on another host has the data, not the workspace:
    the columns the version marks categorical come as stored, and become text here as
    datasets.load makes them). Runs recorded before the split seed existed split with their search seed."""
    from mlops_tui.data import roles

    return prep.prepare(
        roles.cast_categories(df, config.get("category_columns") or []), target=config["target"], task=config.get("task"),
        time_column=config.get("time_column"), seed=int(config.get("split_seed", config.get("seed", 0))),
        test_size=float(config.get("test_size", 0.2)), valid_size=float(config.get("valid_size", 0.2)),
        id_columns=config.get("id_columns"), group_column=config.get("group_column"),
    )


def holdout_metrics(p: prep.Prepared, booster: lgb.Booster, metric: str,
                    threshold: float = 0.5) -> tuple[mx.Metrics, np.ndarray]:
    """The metrics on the holdout, and the predictions they come from (its evaluation reuses them)."""
    X, y = p.xy(p.test)
    pred = predict(booster, X)
    return {**mx.compute(p.task, y, pred, classes=p.classes, threshold=threshold), "primary_metric": metric}, pred


def tuned_threshold(p: prep.Prepared, config: dict[str, Any], params: Params) -> tuple[float, dict[str, Any]]:
    """(decision threshold, what the model's metrics record of it) for the run's ``threshold_for``
    (`tune --threshold-for`): chosen on :func:`unseen_predictions`; (0.5, {}) without one."""
    criterion = config.get("threshold_for")
    if not criterion:
        return 0.5, {}
    y, pred = unseen_predictions(p, config, params)
    return mx.choose_threshold(criterion, y, pred), {"threshold_for": criterion}


def train_and_register(
    ws: Workspace, *, dataset: DatasetVersion, config: dict[str, Any], params: dict[str, Any],
    model_name: str, run_id: str | None, prepared: prep.Prepared | None = None, deadline: float | None = None,
) -> tuple[ModelVersion, dict[str, Any], prep.Prepared]:
    """Prepare with the run config, fit ``params`` (incl. num_boost_round), evaluate on the holdout,
    save (text model + sidecar + sha256 + drift reference of the fitted rows), register and record
    the holdout evaluation.
    ``deadline`` (time.time()): the run's `--timeout`; the SHAP importances get half of what is left.

    Returns (model version, holdout metrics incl. "primary_metric", prepared data).
    """
    from mlops_tui.evaluation import evaluate as evaluation
    from mlops_tui.training import reference
    from mlops_tui.training.modelfile import save_model

    p = prepared or prepare_config(ws, dataset, config)
    metric = mx.check_metric(p.task, config.get("metric"))
    lgb_params = full_params(config, params, p)
    rows = prep.fitted_rows(p)
    booster = fit_model(p, config, lgb_params)
    threshold, chosen = tuned_threshold(p, config, lgb_params)
    metrics, pred = holdout_metrics(p, booster, metric, threshold)
    metrics |= chosen
    sidecar = {
        "signature": p.signature.to_json(), "task": p.task, "classes": p.classes, "params": lgb_params,
        "num_boost_round": int(lgb_params.get("num_boost_round", 100)), "metrics": metrics,
        "dataset": {"name": dataset.name, "version": dataset.version, "hash": dataset.hash},
        "seed": int(config.get("seed", 0)), "run_id": run_id, "config": config, "prep": p.report,
    }
    path, digest = save_model(booster, sidecar, ws.artifacts / "models")
    # Written before the model is registered: a registered model always has its reference (a kill
    # in between leaves an unregistered pair of files, like a kill right after save_model).
    reference.write(path, reference.build(p.signature, booster, rows, model_sha256=digest,
                                          dataset=f"{dataset.name}:{dataset.version}"))
    model = ws.store.models.register(
        name=model_name, path=ws.relpath(path), sha256=digest, task=p.task,
        signature=p.signature.to_json(), run_id=run_id, dataset=dataset.name,
        dataset_version=dataset.version, metrics=metrics,
    )
    if run_id:
        run_dir = ws.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        p.test.write_parquet(run_dir / "holdout.parquet")
        trained_rows.write(run_dir, p.signature, rows)
    # The run's time column is in the config it was prepared with: no need to read the run back.
    evaluation.record_holdout(ws, run_id=run_id, model=model, booster=booster, signature=p.signature,
                              test_df=p.test, metrics=metrics, pred=pred,
                              time_column=config.get("time_column") or (p.report or {}).get("time_column"),
                              seconds=None if deadline is None else max(0.2, (deadline - time.time() - 1.0) / 2))
    return model, metrics, p

