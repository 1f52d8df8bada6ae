"""`tune --threshold-for`: a binary model's decision threshold chosen on rows it did not learn from,
and every path that turns its probability into a label using it (score, serve, feedback).

The data: ISLR Default (sample_data/default.csv, 3 % defaulters) without `balance`, its one strong
feature: the model never reaches p = 0.5, so at 0.5 it labels no row "Yes" (F1 0.0), the case of
imbalanced real data (Caravan, 6 % positives) the option is for. Real LightGBM, real subprocesses.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.conftest import SAMPLE, run_cli_subprocess
from tests.serve_helpers import serving
from tests.tuning_helpers import FAST_SPACE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Workspace with `weak` (3,000 rows of Default without balance) tuned twice: `tuned:1` with
    --threshold-for f1, `plain:1` without; the CSV and the runs' JSON."""
    from mlops_tui.workspace import Workspace

    root = tmp_path_factory.mktemp("thr")
    ws = Workspace.open(root / "ws", create=True)
    data = root / "weak.csv"
    pl.read_csv(SAMPLE / "default.csv").drop("balance").head(3000).write_csv(data)
    space = root / "space.toml"
    space.write_text(FAST_SPACE)

    def cli(*args):
        return run_cli_subprocess(ws.root, *args, timeout=300)

    assert cli("dataset", "add", data, "--name", "weak", "--target", "default").code == 0
    runs = {}
    for name, extra in (("tuned", ["--threshold-for", "f1"]), ("plain", [])):
        res = cli("tune", "weak", "--trials", "3", "--space", space, "--name", name, "--json", *extra)
        assert res.code == 0, res.stderr
        runs[name] = res.json
    return {"ws": ws, "root": root, "data": data, "runs": runs, "cli": cli}


def _score(tuned, model, name):
    out = tuned["root"] / f"{name}.csv"
    res = tuned["cli"]("score", model, tuned["data"], "--output", out, "--json")
    assert res.code == 0, res.stderr
    return pl.read_csv(out)


def test_tune_records_the_threshold_chosen_for_f1_and_shows_it(tuned):
    cli = tuned["cli"]
    m = tuned["runs"]["tuned"]["test_metrics"]
    assert m["threshold_for"] == "f1" and 0 < m["threshold"] < 0.5
    assert tuned["runs"]["tuned"]["config"]["threshold_for"] == "f1"
    assert m["recall"] > 0 and m["f1"] > 0  # the holdout measured at the tuned threshold
    plain = tuned["runs"]["plain"]["test_metrics"]
    assert plain["threshold"] == 0.5 and "threshold_for" not in plain and plain["f1"] == 0.0
    assert "threshold_for" not in tuned["runs"]["plain"]["config"]
    assert "threshold_for" not in tuned["runs"]["plain"]["config"]["options"]

    model = cli("model", "show", "tuned:1", "--json").json
    assert model["metrics"]["threshold"] == m["threshold"] and model["metrics"]["threshold_for"] == "f1"
    run = cli("run", "show", tuned["runs"]["tuned"]["run_id"], "--json").json
    assert run["test_metrics"]["threshold"] == m["threshold"]
    from mlops_tui.formatting import fmt

    line = f"decision threshold {fmt(m['threshold'])}: class 1 when its probability is at least this (tuned for f1"
    # (the terminal's width wraps the line: CI's 80 columns did it mid-sentence)
    assert line in " ".join(cli("run", "show", tuned["runs"]["tuned"]["run_id"]).stdout.split())
    assert line in " ".join(cli("model", "show", "tuned:1").stdout.split())
    assert "decision threshold" not in cli("model", "show", "plain:1").stdout
    # The evaluation recorded at registration measured its labels at the same threshold.
    evals = tuned["ws"].store.runs.evaluations(run_id=tuned["runs"]["tuned"]["run_id"], kind="holdout")
    assert evals[0].metrics["threshold"] == m["threshold"] and evals[0].metrics["f1"] == m["f1"]


def test_score_labels_with_the_tuned_threshold(tuned):
    threshold = tuned["runs"]["tuned"]["test_metrics"]["threshold"]
    plain = _score(tuned, "plain:1", "plain")
    assert plain["prediction"].unique().to_list() == ["No"]  # 0.5: nobody defaults
    scored = _score(tuned, "tuned:1", "tuned")
    expected = np.where(scored["proba_Yes"].to_numpy() >= threshold, "Yes", "No")
    assert scored["prediction"].to_list() == expected.tolist()
    assert 0 < (expected == "Yes").sum() < scored.height


def test_serve_answers_the_labels_score_gives(tuned):
    cli = tuned["cli"]
    assert cli("deploy", "tuned:1", "--name", "weak-live", "--force").code == 0
    scored = _score(tuned, "tuned:1", "tuned-again").head(400)
    rows = pl.read_csv(tuned["data"]).head(400).drop("default").to_dicts()
    texts = [{**r, "income": str(r["income"])} for r in rows]  # numbers as text: score's checked route
    with serving(tuned["ws"].root, "--lenient", deployment="weak-live") as server:
        clean = server.predict(rows)  # clean records: straight into the matrix (request.answer_of)
        checked = server.predict(texts)
        assert server.terminate() == 0
    assert clean.status_code == 200 and checked.status_code == 200, (clean.text, checked.text)
    assert "warnings" not in clean.json() and checked.json()["warnings"]
    assert clean.json()["predictions"] == scored["prediction"].to_list()
    assert checked.json()["predictions"] == scored["prediction"].to_list()
    assert "Yes" in clean.json()["predictions"]


def test_feedback_measures_the_live_labels_at_the_tuned_threshold(tuned):
    from mlops_tui.training import metrics as mx

    cli, root = tuned["cli"], tuned["root"]
    threshold = tuned["runs"]["tuned"]["test_metrics"]["threshold"]
    assert cli("deploy", "tuned:1", "--name", "weak-batch", "--force").code == 0
    out = root / "batch.csv"
    assert cli("score", "weak-batch", tuned["data"], "--keep", "customer_id", "--output", out).code == 0
    labels = root / "labels.csv"
    pl.read_csv(tuned["data"]).select("customer_id", "default").write_csv(labels)
    res = cli("feedback", "weak-batch", labels, "--id-column", "customer_id", "--json")
    assert res.code == 0, res.stderr
    got = res.json["metrics"]
    scored = pl.read_csv(out)
    y = (pl.read_csv(tuned["data"])["default"] == "Yes").cast(pl.Int8).to_numpy()
    want = mx.compute("binary", y, scored["proba_Yes"].to_numpy(), threshold=threshold)
    assert got["threshold"] == threshold
    assert got["f1"] == pytest.approx(want["f1"]) and got["accuracy"] == pytest.approx(want["accuracy"])
    assert got["f1"] > 0 and got["recall"] > 0  # at 0.5 both were 0.0


@pytest.mark.parametrize(("args", "message"), [
    (["--threshold-for", "f1", "--task", "regression"], "--threshold-for is for binary classifiers; --task is regression"),
    (["--threshold-for", "recall"], "--threshold-for must be one of f1, balanced_accuracy (got 'recall')"),
])
def test_threshold_for_outside_a_binary_task_is_one_line(tuned, args, message):
    res = tuned["cli"]("tune", "weak", "--trials", "1", *args)
    assert res.code == 1 and res.stderr.strip().splitlines() == [f"error: {message}"]


def test_threshold_for_a_multiclass_target_is_one_line(tmp_path):
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    assert run_cli_subprocess(ws.root, "dataset", "add", SAMPLE / "penguins.csv", "--target", "species").code == 0
    before = len(ws.store.runs.list())
    res = run_cli_subprocess(ws.root, "tune", "penguins", "--trials", "1", "--threshold-for", "balanced_accuracy")
    assert res.code == 1
    assert res.stderr.strip().splitlines() == [
        "error: --threshold-for is for binary classifiers; 'species' of penguins:1 is a multiclass target "
        "(a multiclass model labels its likeliest class)"]
    assert len(ws.store.runs.list()) == before


def test_retrain_judges_each_model_at_its_own_threshold(ws):
    """retrain's challenger-vs-champion comparison: a champion tuned for f1 is measured at its
    threshold, a challenger without one at 0.5, on the same rows (F1 of the labels each would serve)."""
    from sklearn import metrics as skm

    from mlops_tui.monitoring import retrain
    from tests.scoring_helpers import credit_model, default_df

    rows = default_df().tail(2000)
    y = (rows["default"] == "Yes").cast(pl.Int8).to_numpy()
    champion = credit_model(ws, name="champ", metrics={"threshold": 0.12, "threshold_for": "f1"})
    challenger = credit_model(ws, name="chall")
    judged = retrain.judge(ws, challenger, champion, rows, "f1")
    assert judged.champion.threshold == 0.12 and judged.challenger.threshold == 0.5
    assert judged.champion.metrics["f1"] == pytest.approx(skm.f1_score(y, judged.champion.pred >= 0.12))
    assert judged.challenger.metrics["f1"] == pytest.approx(skm.f1_score(y, judged.challenger.pred >= 0.5))
    assert judged.champion.metrics["f1"] != pytest.approx(skm.f1_score(y, judged.champion.pred >= 0.5))


def test_an_export_says_which_threshold_to_apply(ws, cli, tmp_path):
    from tests.scoring_helpers import credit_model

    credit_model(ws, name="tuned", metrics={"threshold": 0.12, "threshold_for": "balanced_accuracy"})
    credit_model(ws, name="plain")
    for name in ("tuned", "plain"):
        assert cli("model", "export", f"{name}:1", "--format", "lightgbm", "--output", tmp_path / name).code == 0
    assert ("Decision threshold: `Yes` when its probability is >= 0.12, else `No`, as mlops-tui labels rows with "
            "this model (tuned for balanced_accuracy)") in (tmp_path / "tuned" / "README.md").read_text()
    assert "threshold" not in (tmp_path / "plain" / "README.md").read_text()


def test_a_pipeline_tune_stage_takes_threshold_for(tuned, tmp_path):
    from mlops_tui.workspace import Workspace

    (tmp_path / "space.toml").write_text(FAST_SPACE)
    (tmp_path / "pipeline.toml").write_text(f"""\
[pipelines.weak.stages.prepare]
kind = "data"
path = "{tuned['data']}"
name = "weak"
target = "default"

[pipelines.weak.stages.train]
kind = "tune"
data = "prepare"
trials = 2
jobs = 1
space = "space.toml"
threshold_for = "balanced_accuracy"
""")
    res = run_cli_subprocess(tmp_path / ".mlops", "pipeline", "run", "--file", tmp_path / "pipeline.toml", "--json",
                             timeout=300)
    assert res.code == 0, res.stderr
    model = Workspace.open(tmp_path / ".mlops").store.models.get("weak", 1)
    assert model.metrics["threshold_for"] == "balanced_accuracy" and model.metrics["threshold"] != 0.5
