"""`mlops-tui tune` in the foreground on the sample datasets: real LightGBM, real Optuna, real store."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.conftest import run_cli_subprocess
from tests.tuning_helpers import FAST_SPACE, SAMPLE, add_sample, space_file

pytestmark = pytest.mark.slow


def _tune(cli, tmp_path, *args):
    res = cli("tune", *args, "--space", space_file(tmp_path), "--json")
    assert res.code == 0, res.stderr
    return res.json


def test_multiclass_tune_registers_an_evaluated_model(ws, cli, tmp_path):
    from mlops_tui.registry import models as registry

    add_sample(ws, "penguins", target="species")
    out = _tune(cli, tmp_path, "penguins", "--trials", "3", "--seed", "1")
    assert out["status"] == "completed" and out["task"] == "multiclass"
    assert out["metric"] == "log_loss" and out["direction"] == "minimize"
    assert out["n_trials"] == 3 and out["model"] == {"name": "penguins", "version": 1}
    assert set(out["test_metrics"]) >= {"accuracy", "f1_macro", "f1_weighted", "log_loss"}
    assert out["test_metrics"]["accuracy"] > 0.8
    assert out["test_metrics"]["primary_metric"] == "log_loss"

    show = cli("run", "show", out["run_id"][:6], "--json").json
    assert [t["number"] for t in show["trials"]] == [0, 1, 2]
    assert all(t["state"] == "COMPLETE" and t["pid"] and t["duration_s"] > 0 for t in show["trials"])
    assert all({"num_leaves", "learning_rate"} <= set(t["params"]) for t in show["trials"])

    model = registry.resolve_model(ws, "penguins:1")
    booster, sidecar = registry.load(ws, model)  # sha256 checked
    assert sidecar["dataset"]["name"] == "penguins" and sidecar["seed"] == 1
    assert sidecar["signature"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    # Cross-validated (a small set): the average of 2 draws of 5 fold models, 3 trees a round each.
    assert booster.num_trees() == 2 * 5 * 3 * sidecar["num_boost_round"]
    assert (ws.run_dir(out["run_id"]) / "holdout.parquet").exists()
    evals = ws.store.runs.evaluations(run_id=out["run_id"], kind="holdout")
    assert len(evals) == 1 and evals[0].metrics["accuracy"] == out["test_metrics"]["accuracy"]
    assert cli("run", "list", "--json").json[0]["run_id"] == out["run_id"]


def test_binary_tune_with_a_chosen_metric(ws, cli, tmp_path):
    add_sample(ws, "default", rows=2500, target="default")
    out = _tune(cli, tmp_path, "default", "--trials", "3", "--metric", "pr_auc", "--name", "credit")
    assert out["task"] == "binary" and out["metric"] == "pr_auc" and out["direction"] == "maximize"
    assert out["model"]["name"] == "credit"
    m = out["test_metrics"]
    assert {"roc_auc", "pr_auc", "log_loss", "brier", "f1", "best_f1_threshold"} <= set(m)
    assert m["roc_auc"] > 0.8
    assert "customer_id" in out["prep"]["id_columns"]


def test_regression_time_split_and_leak_warning(ws, cli, tmp_path):
    add_sample(ws, "bikeshare", target="bikers", extra={"log_bikers": pl.col("bikers").log1p()})
    out = _tune(cli, tmp_path, "bikeshare", "--trials", "3", "--time-column", "date")
    assert out["task"] == "regression" and out["metric"] == "rmse"
    split = out["prep"]["split"]
    assert split["method"] == "time" and split["test_from"] >= split["valid_from"]
    assert {"rmse", "mae", "r2"} <= set(out["test_metrics"]) and out["test_metrics"]["r2"] > 0.3
    assert any("log_bikers" in w for w in out["warnings"])
    assert "log_bikers" not in out["prep"]["features"]


def test_same_seed_gives_the_same_best_value_and_reproducible_model(ws, cli, tmp_path):
    from mlops_tui.data import datasets
    from mlops_tui.training import tuning

    add_sample(ws, "penguins", target="species")
    a = _tune(cli, tmp_path, "penguins", "--trials", "3", "--seed", "5", "--jobs", "1")
    b = _tune(cli, tmp_path, "penguins", "--trials", "3", "--seed", "5", "--jobs", "1")
    assert a["best_value"] == b["best_value"] and a["best_params"] == b["best_params"]
    run = ws.store.runs.get(a["run_id"])
    dv = datasets.resolve(ws, "penguins:1")
    m1, met1, p1 = tuning.train_and_register(ws, dataset=dv, config=run.config, params=run.best_params,
                                             model_name="again", run_id=None)
    m2, met2, _ = tuning.train_and_register(ws, dataset=dv, config=run.config, params=run.best_params,
                                            model_name="again", run_id=None)
    assert m1.sha256 == m2.sha256 and met1 == met2
    assert met1["log_loss"] == pytest.approx(a["test_metrics"]["log_loss"])
    X, _ = p1.xy(p1.test)
    from mlops_tui.registry import models as registry

    pa = registry.load(ws, m1)[0].predict(X)
    pb = registry.load(ws, registry.resolve_model(ws, f"penguins:{a['model']['version']}"))[0].predict(X)
    assert np.array_equal(pa, pb)


def test_a_space_tuning_how_rows_are_binned_trains_each_trial_with_its_own_bins(ws, cli, tmp_path):
    """A worker's trials share one binned Dataset of their rows (train.fitted_dataset) unless a trial
    changes how rows are binned: then it gets its own, and LightGBM has nothing to complain about."""
    from mlops_tui.registry import models as registry

    add_sample(ws, "bikeshare", rows=600, target="bikers")
    space = space_file(tmp_path, FAST_SPACE + "\n[params.max_bin]\nchoices = [3, 255]\n")
    out = run_cli_subprocess(ws.root, "tune", "bikeshare", "--trials", "6", "--jobs", "1", "--seed", "3",
                             "--space", str(space), "--json")
    assert out.code == 0, out.stderr
    trials = cli("run", "show", out.json["run_id"], "--json").json["trials"]
    assert {t["params"]["max_bin"] for t in trials} == {3, 255}
    assert "Fatal" not in out.stderr
    booster, _ = registry.load(ws, registry.resolve_model(ws, "bikeshare:1"))
    assert f"[max_bin: {out.json['best_params']['max_bin']}]" in booster.model_to_string()


@pytest.mark.parametrize(("setup", "args", "message"), [
    (None, ["nope"], "unknown dataset"),
    ("plain", ["plain"], "no target"),
    ("plain", ["plain", "--target", "one"], "single value"),
    ("plain", ["plain", "--target", "empty"], "missing in every row"),
    ("plain", ["plain", "--target", "bad"], "NaN/inf"),
    ("plain", ["plain", "--target", "y", "--metric", "auc"], "unknown metric 'auc'"),
    ("plain", ["plain", "--target", "y", "--trials", "0"], "--trials must be at least 1"),
    ("plain", ["plain", "--target", "y", "--space", "BAD"], "not valid TOML"),
    ("plain", ["plain", "--target", "y", "--space", "RANGE"], "low 9 above high 2"),
    ("plain", ["plain", "--target", "y", "--time-column", "word"], "time column 'word' has values that are not dates"),
    ("plain", ["plain", "--target", "y", "--space", "TYPO"], "'num_leafs' is not a LightGBM parameter (did you mean 'num_leaves'?)"),
    ("plain", ["plain", "--target", "y", "--space", "RESERVED"], "'objective' is set by the workbench"),
    ("plain", ["plain", "--target", "y", "--space", "LOGSTR"], "log = 'yes'; use true or false"),
])
def test_bad_input_exits_1_and_leaves_the_store_unchanged(ws, cli, tmp_path, setup, args, message):
    if setup:
        rng = np.random.default_rng(0)
        df = pl.DataFrame({"x": rng.normal(size=60), "y": rng.normal(size=60), "one": [1] * 60,
                           "empty": pl.Series([None] * 60, dtype=pl.Float64),
                           "bad": [1.0, float("inf"), 2.0] * 20, "word": ["soon", "later"] * 30})
        df.write_parquet(tmp_path / "plain.parquet")
        assert cli("dataset", "add", tmp_path / "plain.parquet").code == 0
    files = {"BAD": "num_boost_round = [", "RANGE": "[params.num_leaves]\nlow = 9\nhigh = 2\n",
             "TYPO": "[params]\nnum_leafs = {low = 4, high = 9}\n", "RESERVED": "[params]\nobjective = 'huber'\n",
             "LOGSTR": "[params.learning_rate]\nlow = 0.01\nhigh = 0.2\nlog = 'yes'\n"}
    for key, text in files.items():
        (tmp_path / f"{key.lower()}.toml").write_text(text)
    args = [str(tmp_path / f"{a.lower()}.toml") if a in files else a for a in args]
    before = ws.store.audit.events()
    res = cli("tune", *args, "--json")
    assert res.code == 1
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""
    assert ws.store.runs.list() == [] and ws.store.models.list() == []
    assert ws.store.audit.events() == before
    assert not any((ws.root / "runs").iterdir())


def test_progress_bar_on_stderr_only_once_the_input_is_valid(ws, cli, tmp_path):
    add_sample(ws, "penguins", target="species")
    refused = cli("tune", "penguins", "--metric", "auc")  # found after preparing the data
    assert refused.code == 1
    assert refused.stderr.strip().splitlines() == [
        "error: unknown metric 'auc' for a multiclass task; valid: accuracy, f1_macro, f1_weighted, log_loss"]
    assert cli("run", "resume", "nope").stderr.strip().splitlines() == ["error: unknown run 'nope'"]

    # With --jobs 2 the other worker's trials may end after the bar's own: the bar still ends full.
    res = cli("tune", "penguins", "--trials", "4", "--jobs", "2", "--space", space_file(tmp_path))
    assert res.code == 0, res.stderr
    run_id = ws.store.runs.list()[0].run_id
    bar = res.stderr.strip().splitlines()[-1]
    assert bar.startswith(f"tuning {run_id}") and "4/4" in bar and "best 0." in bar and "ETA" in bar
    assert f"run {run_id} completed: 4 trial(s)" in res.stdout and "model penguins:1 registered" in res.stdout


def test_a_foreground_run_records_everything_with_few_opens_of_the_store(ws, cli, tmp_path, monkeypatch):
    """Each open of the DuckDB file costs 20-50 ms: the run's own thread opens it six times (the
    dataset read with the schema check, the run created with its audit event, its phase set to
    'training the final model' (the run head says so), the model, the holdout evaluation, the
    outcome with its audit event); the trials go through the mirror."""
    import threading

    import mlops_tui.store._db as db

    add_sample(ws, "default", rows=2000, target="default")
    opens: list[str] = []
    real_connect = db._connect

    def counting(*args, **kwargs):
        opens.append(threading.current_thread().name)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(db, "_connect", counting)
    out = _tune(cli, tmp_path, "default", "--trials", "4")
    main = [name for name in opens if name == threading.main_thread().name]
    # + one of the CLI's own: `tune --json` reads the finished run's details to print them (it was 14)
    assert out["status"] == "completed" and len(main) <= 7, opens
    assert all(name == threading.main_thread().name or name.startswith("store-mirror") for name in opens)

    run = ws.store.runs.get(out["run_id"])
    assert (run.status, run.n_trials, run.model_version, run.started_at is not None) == ("completed", 4, 1, True)
    assert [t.state for t in ws.store.runs.trials(run.run_id)] == ["COMPLETE"] * 4
    assert [(e.command, e.outcome) for e in ws.store.audit.events(obj=f"run:{run.run_id}")] == [
        ("tune", "ok"), ("tune", "started")]
    assert ws.store.models.get("default", 1).run_id == run.run_id
    assert len(ws.store.runs.evaluations(run_id=run.run_id, kind="holdout")) == 1


def test_journal_writers_in_several_processes_interleave_whole_records(ws, tmp_path):
    """The journal's writers exclude each other with flock (study._backend): two processes adding
    trials to one study at once leave a journal plain Optuna reads whole, numbers unique."""
    import subprocess
    import sys

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from mlops_tui.training.tuning import study as st

    journal = st.journal_path(ws, "r1")
    optuna.create_study(storage=st.storage(ws, "r1"), study_name="r1")
    script = (
        "import sys, optuna\n"
        "from mlops_tui.training.tuning import study as st\n"
        "from mlops_tui.workspace import Workspace\n"
        "optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
        "s = optuna.load_study(study_name='r1', storage=st.storage(Workspace.open(sys.argv[1]), 'r1'),"
        " sampler=optuna.samplers.RandomSampler(seed=int(sys.argv[2])))\n"
        "s.optimize(lambda t: t.suggest_float('x', 0, 1) + t.suggest_int('n', 1, 9), n_trials=40)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(ws.root), str(seed)]) for seed in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    trials = optuna.load_study(study_name="r1", storage=JournalStorage(JournalFileBackend(str(journal)))).trials
    assert len(trials) == 80 and sorted(t.number for t in trials) == list(range(80))
    assert all(t.state.name == "COMPLETE" and set(t.params) == {"x", "n"} for t in trials)
    assert not journal.with_name(journal.name + ".lock").exists()  # no lock file left behind


def test_column_names_lightgbm_refuses_still_tune_score_and_read_back(ws, cli, tmp_path):
    """LightGBM refuses JSON's special characters in a feature name ('Do not support special JSON
    characters in feature name') and writes spaces as '_': every trial failed ("no trial completed")
    on real files with names like 'bill_length[mm]'. The model file gets safe spellings; the user
    reads the real names everywhere."""
    renamed = {"bill_length_mm": "bill_length[mm]", "bill_depth_mm": "bill depth: mm",
               "flipper_length_mm": 'flipper "length", mm', "body_mass_g": "body mass {g}"}
    df = pl.read_csv(SAMPLE / "penguins.csv").rename(renamed)
    src = tmp_path / "penguins_odd.csv"
    df.write_csv(src)
    assert cli("dataset", "add", str(src), "--name", "odd", "--target", "species").code == 0
    out = _tune(cli, tmp_path, "odd", "--trials", "2", "--jobs", "1")
    assert out["status"] == "completed" and out["test_metrics"]["accuracy"] > 0.8

    shown = cli("run", "show", out["run_id"], "--json").json
    assert set(renamed.values()) <= {f["feature"] for f in shown["importance"]}
    assert cli("deploy", "odd:1", "--name", "odd-batch").code == 0
    scored = cli("score", "odd-batch", str(src), "--output", str(tmp_path / "scored.parquet"), "--json")
    assert scored.code == 0, scored.stderr
    assert pl.read_parquet(tmp_path / "scored.parquet").height == df.height
