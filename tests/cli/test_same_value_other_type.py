"""One value, typed differently by another file's reader: the model reads it the same way.

* Codes stored as text in the training data ("1", "2", "3" and one "x") and as numbers in a file to
  score: a Parquet of floats (pandas writes an integer column with a missing value so: 1.0) or a CSV
  of integers. The categories were matched by text, so 1.0 ('1.0') was a category never seen in
  training and scored as missing.
* true/false: text ("True"/"False", pandas' object column) in one version and a Boolean column in the
  other. A model of the text read a Boolean column as unseen categories; a model of the Boolean column
  refused the text in `score` and `evaluate` ("should be true/false (or 1/0) but has text, e.g. 'True'").

Real workspace, real LightGBM tuning, the real CLI.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlops_tui.serving.body import Refused
from mlops_tui.serving.checks import check_request
from mlops_tui.training.signature import Signature
from tests.monitor_helpers import tune_small

N = 400


def _rows() -> pl.DataFrame:
    """y follows grade 3, or flag with x > 0: both categorical inputs matter."""
    rng = np.random.default_rng(0)
    grade = rng.choice([1, 2, 3], size=N)
    flag = rng.choice([True, False], size=N)
    x = rng.normal(size=N)
    return pl.DataFrame({"grade": grade, "flag": flag, "x": x, "y": ((grade == 3) | (flag & (x > 0))).astype(int)})


def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    """grade and flag as text, as a file with one odd code ('x') and pandas' True/False strings has them."""
    out = df.with_columns(pl.col("grade").cast(pl.String), pl.col("flag").cast(pl.String).str.to_titlecase())
    return out.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("x")).otherwise("grade").alias("grade"))


def _model(ws, cli, tmp_path, df: pl.DataFrame, name: str):
    df.write_parquet(tmp_path / f"{name}.parquet")
    assert cli("dataset", "add", tmp_path / f"{name}.parquet", "--name", name, "--target", "y").code == 0
    run = tune_small(ws, name, tmp_path, name=name)
    return ws.store.models.get(run.model_name, run.model_version)


def _score(cli, tmp_path, ref: str, df: pl.DataFrame, file: str) -> list[float]:
    path = tmp_path / file
    df.write_csv(path) if file.endswith(".csv") else df.write_parquet(path)
    res = cli("score", ref, path, "--output", tmp_path / f"out-{file}.parquet", "--json")
    assert res.code == 0, res.stderr
    return pl.read_parquet(tmp_path / f"out-{file}.parquet")["proba_1"].to_list()


def test_numbers_and_booleans_score_as_the_text_categories_of_the_same_values(ws, cli, tmp_path):
    model = _model(ws, cli, tmp_path, _as_text(_rows()), "codes")
    sig = Signature.from_json(model.signature)
    assert {f.name: f.categories for f in sig.features if f.kind == "categorical"} == {
        "grade": ("1", "2", "3", "x"), "flag": ("False", "True")}
    typed = pl.DataFrame({"grade": [1, 2, 3, 3], "flag": [True, False, True, False], "x": [0.5, -0.5, 0.1, 2.0]})
    as_text = _score(cli, tmp_path, model.ref, _as_text(typed).with_columns(grade=pl.col("grade").replace("x", "1")),
                     "text.parquet")
    # 1.0 as pandas writes the codes once a value is missing; the same numbers in a CSV read as integers
    floats = typed.with_columns(pl.col("grade").cast(pl.Float64)).vstack(
        pl.DataFrame({"grade": [None], "flag": [None], "x": [0.0]}, schema=typed.schema | {"grade": pl.Float64}))
    assert _score(cli, tmp_path, model.ref, floats, "floats.parquet")[:4] == pytest.approx(as_text)
    assert _score(cli, tmp_path, model.ref, typed, "ints.csv") == pytest.approx(as_text)
    assert len(set(as_text)) > 1  # the rows differ, so the categories reached the model

    # evaluate on a version of the same rows with typed columns: the same figures as on the text one
    rows = _rows()
    rows.with_columns(pl.col("grade").cast(pl.Float64)).write_parquet(tmp_path / "typed.parquet")
    assert cli("dataset", "add", tmp_path / "typed.parquet", "--name", "typed", "--target", "y").code == 0
    on_typed = cli("evaluate", model.ref, "typed", "--json")
    on_text = cli("evaluate", model.ref, "codes", "--json")
    assert on_typed.code == 0 and on_text.code == 0, on_typed.stderr + on_text.stderr
    # the text version's row 0 is 'x' where the typed one has a number: every other row is the same
    assert on_typed.json["metrics"]["roc_auc"] == pytest.approx(on_text.json["metrics"]["roc_auc"], abs=0.01)
    assert on_typed.json["metrics"]["roc_auc"] > 0.95
    assert "never seen in training" not in on_typed.stderr

    # validate: the same values by value are a warning naming how they read, not a type problem
    res = cli("dataset", "validate", "codes", tmp_path / "floats.parquet", "--json")
    assert res.json["problems"] == ["missing column 'y' (Int64, target)"]
    assert ("column 'grade' is Float64, the contract says String: its values are codes:1's (1.0 as '1'); "
            "a model of codes:1 reads them as those categories") in res.json["warnings"]
    assert ("column 'flag' is Boolean, the contract says String: its values are codes:1's (true as 'True'); "
            "a model of codes:1 reads them as those categories") in res.json["warnings"]
    assert not any("never had" in w for w in res.json["warnings"])
    other = typed.with_columns(pl.col("grade").cast(pl.Float64) + 0.5)  # 1.5: no category of the version
    other.write_parquet(tmp_path / "other.parquet")
    res = cli("dataset", "validate", "codes", tmp_path / "other.parquet", "--json")
    assert "column 'grade' is Float64, the contract says String" in res.json["problems"]


def test_true_false_text_scores_as_the_boolean_column_a_model_learnt(ws, cli, tmp_path):
    model = _model(ws, cli, tmp_path, _rows(), "flags")
    assert {f.name: f.dtype for f in Signature.from_json(model.signature).features}["flag"] == "Boolean"
    typed = pl.DataFrame({"grade": [1, 2, 3, 1], "flag": [True, False, True, True], "x": [0.5, -0.5, 0.1, 2.0]})
    as_bool = _score(cli, tmp_path, model.ref, typed, "bool.parquet")
    text = typed.with_columns(flag=pl.Series(["True", "false", " TRUE", "True"]))
    assert _score(cli, tmp_path, model.ref, text, "text.parquet") == pytest.approx(as_bool)
    assert len(set(as_bool)) > 1

    # a version whose flag is text: evaluate reads it as the Boolean column it was (was refused)
    _rows().with_columns(pl.col("flag").cast(pl.String).str.to_titlecase()).write_parquet(tmp_path / "t.parquet")
    assert cli("dataset", "add", tmp_path / "t.parquet", "--name", "flags", "--json").code == 0
    on_text = cli("evaluate", model.ref, "flags:2", "--json")
    assert on_text.code == 0, on_text.stderr
    assert on_text.json["metrics"]["roc_auc"] == pytest.approx(cli("evaluate", model.ref, "flags:1", "--json")
                                                               .json["metrics"]["roc_auc"])
    res = cli("dataset", "validate", "flags:1", tmp_path / "t.parquet", "--json")
    assert res.json["ok"] is True
    assert ("column 'flag' is String, the contract says Boolean: true/false written as text, which `score` and "
            "`evaluate` read as the same values") in res.json["warnings"]

    # other text is still refused, naming it
    bad = _score_refused(cli, tmp_path, model.ref, text.with_columns(flag=pl.Series(["True", "maybe", "no", "1"])))
    assert "column 'flag' should be true/false (or 1/0) but has text, e.g. 'maybe'" in bad

    # serve: a strict service refuses numbers sent as text, this text too, saying what --lenient does
    sig = Signature.from_json(model.signature)
    columns = {"grade": [1], "flag": ["True"], "x": [0.5]}
    with pytest.raises(Refused) as refused:
        check_request(pl.DataFrame(columns), columns, sig, model.ref, lenient=False)
    assert refused.value.body["problems"] == [
        "column 'flag' arrived as text; refused (serve --lenient reads true/false text as 1/0)"]
    assert check_request(pl.DataFrame(columns), columns, sig, model.ref, lenient=True) == [
        "column 'flag' arrived as text; true/false text read as 1/0"]


def _score_refused(cli, tmp_path, ref: str, df: pl.DataFrame) -> str:
    df.write_parquet(tmp_path / "bad.parquet")
    res = cli("score", ref, tmp_path / "bad.parquet", "--output", tmp_path / "bad-out.parquet")
    assert res.code == 1
    return res.stderr
