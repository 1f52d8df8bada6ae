"""Helpers for the evaluation, compare, report and gate tests: real small LightGBM models.

Runs are built the way `mlops-tui tune` ends (model registered, run record, trials, an Optuna
journal at runs/<run_id>/optuna.journal, then evaluation.record_holdout) without depending on the
tuning code, so these tests exercise exactly the evaluation side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from tests.scoring_helpers import SAMPLE, signature_for, train_register

SPECS = {
    # task: (file, target, categorical columns, id columns, excluded columns)
    "binary": ("default.csv", "default", ("student",), ("customer_id",), ()),
    "multiclass": ("penguins.csv", "species", ("island", "sex"), (), ()),
    "regression": ("bikeshare.csv", "bikers", ("mnth", "weathersit"), (), ("date",)),
}


def split(task: str) -> tuple[pl.DataFrame, pl.DataFrame, Any]:
    """(train rows, test rows, signature) of a sample dataset: every 4th row is held out."""
    file, target, cats, ids, exclude = SPECS[task]
    df = pl.read_csv(SAMPLE / file).with_row_index("_i")
    test = df.filter(pl.col("_i") % 4 == 0).drop("_i")
    train = df.filter(pl.col("_i") % 4 != 0).drop("_i")
    if task == "multiclass":
        train = train.filter(pl.col("bill_length_mm").is_not_null())
    sig = signature_for(train, target, task, categorical=cats, id_columns=ids, exclude=exclude)
    return train, test, sig


def trained(ws, task: str, *, name: str | None = None, rounds: int = 15, num_leaves: int = 15):
    """(model version, booster, signature, test rows) of a small model trained on a sample dataset."""
    from mlops_tui.registry import models as registry

    train, test, sig = split(task)
    model = train_register(ws, train, sig, name=name or task, rounds=rounds, num_leaves=num_leaves,
                           dataset=SPECS[task][0].removesuffix(".csv"))
    booster, _ = registry.load(ws, model)
    return model, booster, sig, test


def write_journal(ws, run_id: str, n_trials: int = 4, seed: int = 0) -> Path:
    """A real Optuna study (study_name = run_id) in the run's journal, like tuning writes."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = ws.run_dir(run_id) / "optuna.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=run_id, storage=JournalStorage(JournalFileBackend(str(path))),
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(lambda t: t.suggest_float("learning_rate", 0.01, 0.3) * 2
                   + t.suggest_int("num_leaves", 4, 64) / 100, n_trials=n_trials)
    return path


def make_run(ws, task: str, run_id: str, *, num_leaves: int = 15, rounds: int = 15,
             name: str | None = None, journal: bool = True, time_column: str | None = None):
    """A completed run with trials, a journal, a registered model and its holdout evaluation."""
    from mlops_tui.evaluation import evaluate as evaluation

    model, booster, sig, test = trained(ws, task, name=name or f"m-{task}", rounds=rounds, num_leaves=num_leaves)
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    direction = "minimize" if task != "binary" else "maximize"
    params = {"learning_rate": 0.1, "num_leaves": num_leaves, "min_child_samples": 20}
    ws.store.runs.create(run_id=run_id, name=f"run-{run_id}", dataset=model.dataset, dataset_version=1,
                         target=sig.target, task=task, metric=metric, direction=direction, seed=0,
                         config={"time_column": time_column} if time_column else {}, status="completed")
    for n, value in enumerate((0.80, 0.85, 0.83)):
        ws.store.runs.upsert_trial(run_id=run_id, number=n, state="COMPLETE", value=value,
                                   params={**params, "num_leaves": num_leaves + n}, duration_s=0.1)
    if journal:
        write_journal(ws, run_id)
    ev = evaluation.record_holdout(ws, run_id=run_id, model=model, booster=booster, signature=sig,
                                   test_df=test, metrics={"primary_metric": metric})
    ws.store.runs.update(run_id, best_params=params, best_value=ev.metrics.get(metric),
                         test_metrics=ev.metrics, model_name=model.name, model_version=model.version)
    return model, ev
