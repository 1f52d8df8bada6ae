"""`run show` carries the evidence for choosing a model (issue 11 item 5): feature importances (gain,
SHAP), slice metrics and the gate's verdict, in --json and in a few lines for people over SSH.
Real data: the HMDA mortgage set of the corpus (bench/corpus.py), a real tuning run."""

from __future__ import annotations

import pytest

from tests.corpus_helpers import corpus_sets

pytestmark = pytest.mark.slow


@pytest.fixture
def hmda_run(ws, cli, tmp_path):
    s = corpus_sets(tmp_path / "corpus", ["hmda"])[0]
    assert cli("dataset", "add", s.path, "--target", s.target).code == 0
    space = tmp_path / "space.toml"
    space.write_text("num_boost_round = 30\nearly_stopping_rounds = 10\n")
    out = cli("tune", "hmda", "--trials", "2", "--space", space, "--json")
    assert out.code == 0, out.stderr
    return out.json


def test_json_carries_importances_slices_and_the_gate(ws, cli, hmda_run):
    show = cli("run", "show", hmda_run["run_id"], "--json").json
    signature = ws.store.models.get("hmda", 1).signature["features"]
    features = {f["name"] for f in signature}
    imp = show["importance"]
    assert {f["feature"] for f in imp} == features
    assert [f["gain"] for f in imp] == sorted((f["gain"] for f in imp), reverse=True)
    assert sum(f["gain_share"] for f in imp) == pytest.approx(1.0, abs=1e-3)
    assert imp[0]["shap"] > 0 and imp[0]["split"] > 0

    sl = show["slices"]
    assert sl["metric"] == "roc_auc"
    by_feature = {f["feature"]: f for f in sl["features"]}
    assert set(by_feature) == {f["source"] for f in signature if f["kind"] == "categorical"}
    afam = by_feature["afam"]
    assert {g["value"] for g in afam["groups"]} == {"no", "yes"}
    assert sum(g["n"] for g in afam["groups"]) == show["prep"]["split"]["test"]
    assert sl["max_gap"] == max(f["gap"] for f in sl["features"] if f["gap"] is not None and f["kind"] == "categorical")

    gate = show["gate"]
    assert gate["model"] == "hmda:1" and gate["passed"] is True and gate["champion"] is None
    assert gate["checks"]["max_slice_gap"]["limit"] == 0.25


def test_a_refusing_gate_is_shown_with_its_reason_for_people(ws, cli, hmda_run):
    ws.config_path.write_text("[gate]\nmin_metric = { roc_auc = 0.99 }\n")
    show = cli("run", "show", hmda_run["run_id"], "--json").json
    assert show["gate"]["passed"] is False
    assert show["gate"]["reasons"][0].startswith("roc_auc ") and "below the required 0.99" in show["gate"]["reasons"][0]

    text = cli("run", "show", hmda_run["run_id"][:6]).stdout
    assert "importance (top 10 of" in text and show["importance"][0]["feature"] in text
    assert "slices (roc_auc per group of ≥ 20 rows, widest gap first)" in text and "afam" in text
    assert "gate: hmda:1 refused: roc_auc" in text


def test_each_class_of_a_multiclass_run_is_shown_with_its_rows(ws, cli, tmp_path):
    """MASS fgl (214 pieces of glass, 6 types; 'Tabl' has 9 rows): accuracy and f1_weighted hide a
    type the model never finds. `run show` lists precision, recall and holdout rows per class and
    names the classes with recall 0."""
    s = corpus_sets(tmp_path / "corpus", ["fgl"])[0]
    assert cli("dataset", "add", s.path, "--target", s.target).code == 0
    space = tmp_path / "space.toml"
    space.write_text("num_boost_round = 30\nearly_stopping_rounds = 10\n")
    run = cli("tune", "fgl", "--trials", "2", "--jobs", "1", "--space", space, "--json").json
    show = cli("run", "show", run["run_id"], "--json").json
    classes = {c["label"]: c for c in show["per_class"]}
    assert set(classes) == set(show["prep"]["classes"])
    assert sum(c["support"] for c in classes.values()) == show["prep"]["split"]["test"]
    missed = [c["label"] for c in show["per_class"] if c["support"] and not c["recall"]]
    text = cli("run", "show", run["run_id"]).stdout
    assert "per class (holdout rows of each class" in text
    assert ("never found: " + ", ".join(missed)) in text if missed else "never found" not in text
