"""Overhead of a workbench tuning run over a bare Optuna + LightGBM loop, measured in one process.

    .venv/bin/python bench/tune_overhead.py [--dataset default] [--trials 20] [--repeat 2]

The same study both ways — sample dataset, seed, split, search space, TPE sampler, median pruner,
LightGBM params (deterministic, 1 thread), early stopping, refit on train+valid, holdout metric:

* workbench: ``mlops_tui.training.tuning.start(..., detach=False)`` end to end — preparation report, run
  record, Optuna journal on disk, every trial mirrored into the DuckDB store as it starts and ends,
  refit, model file + sidecar + sha256, registration, holdout evaluation details;
* bare: the data read with Polars, the same seeded stratified split, an in-memory Optuna study and a
  plain objective, refit and ``roc_auc_score`` / ``log_loss`` / ``rmse`` on the holdout.

Runs alternate (bare, workbench, bare, ...) after a warm-up so imports and caches are paid before
timing; the best time of each is kept. Prints both times, the ratio (target ≤ 1.10) and both best
validation values (equal when the two loops really run the same study).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"default": "default", "penguins": "species", "bikeshare": "bikers"}


def bare(df: pl.DataFrame, target: str, trials: int, seed: int) -> tuple[float, float]:
    """A plain Optuna + LightGBM loop: (best validation value, holdout metric)."""
    import lightgbm as lgb
    import optuna
    from optuna_integration import LightGBMPruningCallback

    from mlops_tui.training import metrics as mx
    from mlops_tui.training import prep
    from mlops_tui.training.tuning import space as sp
    from mlops_tui.training.tuning import train

    # Same split and encoding as the workbench (prep is deterministic); this is the data a
    # hand-written script would also have to build.
    p = prep.prepare(df, target=target, seed=seed)
    metric = mx.check_metric(p.task, None)
    X_tr, y_tr = p.xy(p.train)
    X_va, y_va = p.xy(p.valid)
    X_te, y_te = p.xy(p.test)
    cats = [i for i, f in enumerate(p.signature.features) if f.kind == "categorical"] or "auto"
    base = train.base_params(p.task, len(p.classes), metric, seed)
    lgb_metric, prunable = train.lgb_metric(p.task, metric)
    space = sp.default_space()
    rounds, patience = space["settings"]["num_boost_round"], space["settings"]["early_stopping_rounds"]

    def objective(trial: optuna.Trial) -> float:
        params = sp.suggest(trial, space)
        dtr = lgb.Dataset(X_tr, label=y_tr, categorical_feature=cats, params={"feature_pre_filter": False})
        dva = lgb.Dataset(X_va, label=y_va, reference=dtr)
        cbs = [lgb.early_stopping(patience, first_metric_only=True, verbose=False)]
        if prunable:
            cbs.append(LightGBMPruningCallback(trial, lgb_metric, valid_name="valid",
                                               report_interval=max(5, rounds // 10)))
        booster = lgb.train({**base, **params}, dtr, rounds, valid_sets=[dva], valid_names=["valid"], callbacks=cbs)
        trial.set_user_attr("best_iteration", booster.best_iteration or booster.current_iteration())
        pred = booster.predict(X_va, num_iteration=booster.best_iteration)
        return float(mx.score(p.task, metric, y_va, pred, classes=p.classes))

    study = optuna.create_study(direction=mx.direction(metric), sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10))
    study.optimize(objective, n_trials=trials, catch=(Exception,))
    best = study.best_trial
    data = lgb.Dataset(np.vstack([X_tr, X_va]), label=np.concatenate([y_tr, y_va]), categorical_feature=cats,
                       params={"feature_pre_filter": False})
    final = lgb.train({**base, **best.params}, data, best.user_attrs["best_iteration"])
    holdout = mx.compute(p.task, y_te, final.predict(X_te), classes=p.classes)[metric]
    return best.value, holdout


EVAL_SECONDS: list[float] = []


def _time_record_holdout() -> None:
    """Time the evaluation helper's holdout details (curves, SHAP, slices, param importances):
    a feature the bare loop does not have, reported separately from the tuning overhead."""
    from mlops_tui.evaluation import evaluate as evaluation

    original = evaluation.record_holdout

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            EVAL_SECONDS.append(time.perf_counter() - t0)

    evaluation.record_holdout = timed


OPTIMIZE_SECONDS: list[float] = []


def _time_trial_loops() -> None:
    """Time each ``Study.optimize`` (the trial loop, one per run both ways) to split the overhead
    into a fixed part per run and a part per trial. Timing only: both loops run unchanged."""
    import optuna

    original = optuna.study.Study.optimize

    def timed(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            OPTIMIZE_SECONDS.append(time.perf_counter() - t0)

    optuna.study.Study.optimize = timed


def workbench(ws_root: Path, dataset: str, trials: int, seed: int) -> tuple[float, float]:
    from mlops_tui.training import tuning
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(ws_root)
    run = tuning.start(ws, tuning.TuneOptions(dataset=dataset, trials=trials, seed=seed), detach=False)
    assert run.status == "completed", run.error
    return run.best_value, run.test_metrics[run.metric]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="default", choices=sorted(TARGETS))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import logging

    import optuna

    from mlops_tui.data import datasets
    from mlops_tui.workspace import Workspace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("mlops_tui").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="tune-bench-"))
    ws = Workspace.open(tmp / "ws", create=True)
    dv, _ = datasets.add(ws, str(ROOT / "sample_data" / f"{args.dataset}.csv"), target=TARGETS[args.dataset])
    df = datasets.load(ws, dv)

    _time_record_holdout()
    _time_trial_loops()
    bare(df, TARGETS[args.dataset], 2, args.seed)  # warm-up: imports, LightGBM, sklearn
    workbench(ws.root, args.dataset, 2, args.seed)
    times: dict[str, list[float]] = {"bare": [], "workbench": [], "workbench_without_details": []}
    loops: dict[str, list[float]] = {"bare": [], "workbench": []}
    values: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        values["bare"] = bare(datasets.load(ws, dv), TARGETS[args.dataset], args.trials, args.seed)
        times["bare"].append(time.perf_counter() - t0)
        loops["bare"].append(OPTIMIZE_SECONDS[-1])
        t0 = time.perf_counter()
        values["workbench"] = workbench(ws.root, args.dataset, args.trials, args.seed)
        times["workbench"].append(time.perf_counter() - t0)
        times["workbench_without_details"].append(times["workbench"][-1] - EVAL_SECONDS[-1])
        loops["workbench"].append(OPTIMIZE_SECONDS[-1])
    b, w = min(times["bare"]), min(times["workbench"])
    wd = min(times["workbench_without_details"])
    print(f"dataset {dv.ref} ({dv.rows} rows), {args.trials} trials, seed {args.seed}, best of {args.repeat}")
    print(f"bare Optuna + LightGBM loop: {b:7.2f} s  best valid {values['bare'][0]:.6f}  holdout {values['bare'][1]:.6f}")
    print(f"workbench tune (in-process): {w:7.2f} s  best valid {values['workbench'][0]:.6f}  "
          f"holdout {values['workbench'][1]:.6f}")
    print(f"  of which holdout evaluation details (evaluation.record_holdout): {w - wd:.2f} s")
    print(f"tuning overhead ratio (workbench without evaluation details) / bare = {wd / b:.3f}  (target <= 1.10)")
    print(f"end-to-end ratio workbench / bare = {w / b:.3f}")
    # The overhead split, from the fastest run of each: outside the trial loop (once per run: run
    # record, journal, refit, model files, registration) and inside it (per trial: journal, mirror).
    ib, iw = times["bare"].index(b), times["workbench_without_details"].index(wd)
    per_trial = (loops["workbench"][iw] - loops["bare"][ib]) / args.trials
    fixed = (wd - loops["workbench"][iw]) - (b - loops["bare"][ib])
    print(f"overhead split: fixed per run {fixed:.2f} s, per trial {1000 * per_trial:.1f} ms "
          f"(trial loop {loops['workbench'][iw]:.2f} s vs {loops['bare'][ib]:.2f} s bare)")
    print(f"all times: {times}")


if __name__ == "__main__":
    main()
