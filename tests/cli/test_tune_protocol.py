"""The tuning protocol (issue 13): folds or one split, warm starts, one holdout per dataset version,
a time budget on every core, and a retrain that compares on rows the champion never saw."""

from __future__ import annotations

import polars as pl
import pytest

from tests.tuning_helpers import add_sample, space_file

pytestmark = pytest.mark.slow


def _tune(cli, tmp_path, *args):
    res = cli("tune", *args, "--space", space_file(tmp_path), "--json")
    assert res.code == 0, res.stderr
    return res.json


def test_a_small_set_cross_validates_and_a_large_one_uses_one_split(ws, cli, tmp_path, monkeypatch):
    from mlops_tui.training.tuning import protocol

    add_sample(ws, "penguins", target="species")
    small = _tune(cli, tmp_path, "penguins", "--trials", "2")
    assert small["protocol"]["kind"] == "cv" and small["protocol"]["folds"] == 5
    assert small["protocol"]["final_draws"] == protocol.FINAL_DRAWS == 2
    assert "5-fold cross-validation" in small["protocol"]["reason"]
    assert "over 2 draws of the folds" in small["protocol"]["reason"]
    shown = " ".join(cli("run", "show", small["run_id"]).stdout.split())
    assert "protocol: 5-fold cross-validation (275 rows besides the holdout" in shown
    assert small["protocol"]["holdout_share"] == 0.2 and "holdout 20% of the rows, split seed" in shown
    # Wider data (more rows x features than protocol.DRAWS_MAX_CELLS, 50,000) gets one draw.
    from mlops_tui.data import datasets
    from mlops_tui.training.tuning import train

    run = ws.store.runs.get(small["run_id"])
    p = train.prepare_config(ws, datasets.resolve(ws, "penguins:1"), run.config)
    monkeypatch.setattr(protocol, "DRAWS_MAX_CELLS", 275 * len(p.signature.features) - 1)
    wide = protocol.choose(p, None)
    assert (wide.kind, wide.folds, wide.final_draws) == ("cv", 5, 1) and "draws" not in wide.reason

    # "Large" is anything above protocol.CV_MAX_ROWS rows besides the holdout (10,000); a lower
    # bound here keeps the test's data and time small.
    monkeypatch.setattr(protocol, "CV_MAX_ROWS", 1000)
    add_sample(ws, "default", rows=2500, target="default")
    large = _tune(cli, tmp_path, "default", "--trials", "2")
    assert large["protocol"]["kind"] == "holdout" and large["protocol"]["folds"] == 1
    # The holdout keeps 200 rows within 10-20 % of a version (protocol.holdout_share): 10 % of 2,500.
    assert large["protocol"]["reason"].startswith("2250 rows besides the holdout: one validation split of 500 rows")
    assert large["protocol"]["holdout_share"] == 0.1
    assert pl.read_parquet(ws.run_dir(large["run_id"]) / "holdout.parquet").height == 250
    assert ws.store.runs.get(large["run_id"]).config["protocol"]["kind"] == "holdout"


def test_the_holdout_keeps_200_rows_within_10_to_20_percent_of_a_version():
    from mlops_tui.training.tuning import protocol

    assert [round(protocol.holdout_share(n) * n) for n in (300, 1000, 1500, 2000, 2500, 40_000)] == \
        [60, 200, 200, 200, 250, 4000]


def test_the_first_trials_are_the_warm_start_configurations(ws, cli, tmp_path):
    add_sample(ws, "penguins", target="species")
    out = _tune(cli, tmp_path, "penguins", "--trials", "4", "--jobs", "1")
    warm = ws.store.runs.get(out["run_id"]).config["warm_start"]
    assert out["protocol"]["warm_start_trials"] == len(warm) == 3
    # LightGBM's defaults first, clipped to the test's space (num_leaves 4..16, learning_rate 0.05..0.3);
    # penguins has categorical columns (island, sex), so LightGBM's category settings are tuned too.
    assert warm[0] == {"num_leaves": 16, "learning_rate": 0.1, "min_child_samples": 20, "feature_fraction": 1.0,
                       "bagging_fraction": 1.0, "bagging_freq": 0, "lambda_l1": 1e-8, "lambda_l2": 1e-8,
                       "min_data_per_group": 100, "cat_smooth": 10.0}
    trials = cli("run", "show", out["run_id"], "--json").json["trials"]
    for trial, config in zip(trials, warm, strict=False):
        assert {k: trial["params"][k] for k in config} == config
    assert trials[3]["params"] not in warm  # then TPE


def test_the_holdout_rows_never_enter_a_fold(ws, cli, tmp_path):
    from mlops_tui.data import datasets
    from mlops_tui.training import prep, trained_rows
    from mlops_tui.training.tuning import protocol, train

    add_sample(ws, "penguins", target="species")
    out = _tune(cli, tmp_path, "penguins", "--trials", "1")
    run = ws.store.runs.get(out["run_id"])
    p = train.prepare_config(ws, datasets.resolve(ws, "penguins:1"), run.config)
    fit = prep.fitted_rows(p)
    for draws in (1, 2):  # the trials' folds; the final model's two draws of them
        folds = protocol.folds(run.config, p, draws=draws)
        assert len(folds) == 5 * draws
        validated = sorted(i for _, valid in folds for i in valid)
        assert validated == sorted(list(range(fit.height)) * draws)  # each row validated once a draw
    holdout = pl.read_parquet(ws.run_dir(run.run_id) / "holdout.parquet")
    assert holdout.equals(p.test)
    learnt = pl.read_parquet(ws.run_dir(run.run_id) / trained_rows.TRAINED_ROWS)["row_key"]
    assert learnt.len() == fit.height == p.train.height + p.valid.height
    assert not trained_rows.row_keys(holdout, p.signature).is_in(learnt.implode()).any()


def test_a_cross_validated_run_registers_the_average_of_its_best_trials_fold_models(ws, cli, tmp_path):
    import lightgbm as lgb
    import numpy as np

    from mlops_tui.data import datasets
    from mlops_tui.registry import models as registry
    from mlops_tui.training.tuning import protocol, train

    add_sample(ws, "penguins", target="species")
    out = _tune(cli, tmp_path, "penguins", "--trials", "3", "--jobs", "1")
    run = ws.store.runs.get(out["run_id"])
    booster, _ = registry.load(ws, ws.store.models.get(out["model"]["name"], out["model"]["version"]))
    rounds = run.best_params["num_boost_round"]
    assert booster.num_trees() == 2 * 5 * rounds * 3  # 2 draws x 5 folds x the best trial's rounds x 3 classes

    # The trial's folds, then another draw of them, with its parameters, trained here: the
    # registered model predicts their mean raw score.
    p = train.prepare_config(ws, datasets.resolve(ws, "penguins:1"), run.config)
    params = {k: v for k, v in train.full_params(run.config, run.best_params, p).items() if k != "num_boost_round"}
    trial_folds = protocol.folds(run.config, p)
    folds = lgb.cv(params, train.fitted_dataset(p, params).data, num_boost_round=rounds,
                   folds=protocol.folds(run.config, p, draws=2), return_cvbooster=True)["cvbooster"].boosters
    assert [v.tolist() for _, v in protocol.folds(run.config, p, draws=2)[:5]] == [v.tolist() for _, v in trial_folds]
    X, _ = p.xy(p.test)
    mean = np.mean([b.predict(X, raw_score=True) for b in folds], axis=0)
    assert np.allclose(booster.predict(X, raw_score=True), mean, rtol=0, atol=1e-9)


def test_runs_of_one_version_share_the_holdout_whatever_their_seed(ws, cli, tmp_path):
    add_sample(ws, "penguins", target="species")
    a = _tune(cli, tmp_path, "penguins", "--trials", "2", "--seed", "1")
    b = _tune(cli, tmp_path, "penguins", "--trials", "2", "--seed", "2")
    assert a["protocol"]["split_seed"] == b["protocol"]["split_seed"]
    assert "fixed for penguins:1" in a["protocol"]["split_seed_source"]
    compared = cli("run", "compare", a["run_id"], b["run_id"], "--json").json
    assert compared["warnings"] == []
    assert cli("run", "compare", a["run_id"], b["run_id"]).stdout.count("different holdouts") == 0

    # --split-seed opts out: another holdout, and compare says so.
    c = _tune(cli, tmp_path, "penguins", "--trials", "2", "--split-seed", "7")
    assert c["protocol"]["split_seed"] == 7 and c["protocol"]["split_seed_source"] == "--split-seed"
    warned = cli("run", "compare", a["run_id"], c["run_id"], "--json").json["warnings"]
    assert any("different holdouts" in w for w in warned)


def test_a_time_budget_starts_a_worker_per_core_and_ends_with_a_model(ws, cli, tmp_path):
    from mlops_tui.training.tuning.protocol import cores

    add_sample(ws, "penguins", target="species")
    out = cli("tune", "penguins", "--timeout", "20", "--space", space_file(tmp_path), "--json").json
    assert out["status"] == "completed" and out["model"]["version"] == 1
    assert out["protocol"]["workers"] == cores()
    assert ws.store.runs.get(out["run_id"]).n_trials_requested is None  # no --trials: until the clock
    trials = cli("run", "show", out["run_id"], "--json").json["trials"]
    assert out["n_trials"] == len(trials) >= 1
    assert all(t["state"] in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
    # (How busy the cores were is the bench's to show, bench/vs_flaml.py: a worker that is still
    # importing at the cut-off on a loaded machine is ended without a trial.)
    log = cli("run", "logs", out["run_id"], "-n", "0").stdout
    assert "left until the run's deadline" in log


def test_a_retrain_compares_both_models_on_rows_the_champion_never_learnt_from(ws, cli, tmp_path):
    from mlops_tui.registry import models as registry
    from mlops_tui.training import trained_rows
    from mlops_tui.training.signature import Signature
    from tests.conftest import SAMPLE

    every = pl.read_csv(SAMPLE / "default.csv")
    old = every.sample(1500, seed=1, shuffle=False)
    new = every.filter(~pl.col("customer_id").is_in(old["customer_id"].implode())).head(1500)
    for name, frame in (("old", old), ("both", pl.concat([old, new]))):  # the usual retrain: old + new rows
        frame.write_parquet(tmp_path / f"{name}.parquet")
    assert cli("dataset", "add", str(tmp_path / "old.parquet"), "--name", "credit", "--target", "default").code == 0
    first = _tune(cli, tmp_path, "credit", "--trials", "2")
    registry.deploy(ws, "credit:1", "credit-prod")
    assert cli("dataset", "add", str(tmp_path / "both.parquet"), "--name", "credit").code == 0

    res = cli("retrain", "credit-prod", "--dataset", "credit", "--json")
    assert res.code in (0, 3), res.stderr  # promoted or not: the comparison is the point here
    doc = res.json
    learnt = pl.read_parquet(ws.run_dir(first["run_id"]) / trained_rows.TRAINED_ROWS)["row_key"]
    holdout = pl.read_parquet(ws.run_dir(doc["run_id"]) / "holdout.parquet")  # credit:2's holdout
    seen = trained_rows.row_keys(holdout, Signature.from_json(ws.store.models.get("credit", 1).signature)).is_in(
        learnt.implode())
    assert 0 < int(seen.sum()) < holdout.height  # some new-holdout rows were the champion's training rows
    assert (doc["holdout_rows"], doc["excluded_rows"]) == (holdout.height, int(seen.sum()))
    assert doc["compared_rows"] == holdout.height - int(seen.sum())  # neither model is scored on them
    assert f"on {doc['compared_rows']} of credit:2's {holdout.height} holdout rows" in doc["summary"]
    # What remains: new rows, or old rows the champion held out itself.
    champion_holdout = pl.read_parquet(ws.run_dir(first["run_id"]) / "holdout.parquet")["customer_id"]
    assert set(holdout.filter(~seen)["customer_id"]) <= set(new["customer_id"]) | set(champion_holdout)


def test_the_first_trial_is_cut_in_time_for_the_final_model(ws, cli, tmp_path):
    """`--timeout` bounds the whole run even when one trial to early stopping takes longer than the
    budget: MASS Pima resampled to 1.2M rows, `tune --timeout 120` took 169 s, 112 of them in its
    first trial, which no cut-off bounded until a trial had completed. Here 50,000 resampled rows and
    a slow learning rate, so the first trial alone would run for a minute or more (20,000 rounds)."""
    from tests.corpus_helpers import corpus_sets

    women = pl.concat([pl.read_csv(s.path).drop("row_id") for s in corpus_sets(tmp_path, ["pima", "pima_tr"])])
    women.sample(50_000, with_replacement=True, seed=3).write_csv(tmp_path / "pimabig.csv")
    assert cli("dataset", "add", str(tmp_path / "pimabig.csv"), "--name", "pimabig", "--target", "type").code == 0
    slow = space_file(tmp_path, "num_boost_round = 20000\nearly_stopping_rounds = 2000\n\n"
                                "[params]\nlearning_rate = 0.002\nnum_leaves = 31\n")
    done = cli("tune", "pimabig", "--timeout", "8", "--jobs", "1", "--space", slow, "--json")
    assert done.code == 0, done.stderr
    assert done.json["status"] == "completed" and done.json["model"]["version"] == 1
    first = cli("run", "show", done.json["run_id"], "--json").json["trials"][0]
    assert first["state"] == "COMPLETE"
    log = cli("run", "logs", done.json["run_id"], "-n", "0").stdout
    assert "trial cut at the time budget's cut-off after" in log
    assert done.json["best_params"]["num_boost_round"] < 20_000
