"""Comparisons of a model's metric that allow for the noise of the rows it was measured on.

`feedback`: live labels of a same-distribution batch measure an rmse with an error of its own (on
airquality, any batch alerted about half the time against the gate's 1 % allowance); a batch alerts
only when the drop is past max_drop beyond that noise. `retrain`: champion and challenger are scored
on the same rows, so their difference is judged by a paired bootstrap; a challenger replaces the
champion only when it is better on those rows."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.data import readers
from mlops_tui.registry import models as registry
from tests.corpus_helpers import corpus_sets
from tests.monitor_helpers import tune_small

pytestmark = pytest.mark.slow


def test_feedback_on_same_distribution_batches_is_ok_and_a_real_drop_alerts(ws, cli, tmp_path):
    """ISLR Carseats: tuned on 200 stores, fed back the other 200 in batches of 50."""
    s = corpus_sets(tmp_path / "corpus", ["carseats"])[0]
    df = readers.collect(str(s.path))
    seen, unseen = df.head(200), df.tail(200)
    seen.write_parquet(tmp_path / "seen.parquet")
    assert cli("dataset", "add", tmp_path / "seen.parquet", "--name", "carseats", "--target", "Sales").code == 0
    run = tune_small(ws, "carseats", tmp_path, name="carseats", trials=2)
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "cs-prod")
    for i in range(4):
        unseen.slice(50 * i, 50).write_csv(tmp_path / f"batch{i}.csv")
        assert cli("score", "cs-prod", tmp_path / f"batch{i}.csv", "--output", tmp_path / f"out{i}.parquet").code == 0
    unseen.select("row_id", "Sales").write_csv(tmp_path / "labels.csv")

    doc = cli("feedback", "cs-prod", tmp_path / "labels.csv", "--id-column", "row_id", "--json").json
    assert doc["rows_matched"] == 200 and len(doc["jobs"]) == 4
    comparisons = [j["comparison"] for j in doc["jobs"]] + [doc["comparison"]]
    assert [c["status"] for c in comparisons] == ["ok"] * 5, comparisons
    for c in comparisons:  # the live rmse differs from the holdout's, within what 50 rows can tell
        assert c["noise"]["rows"] in (50, 200) and c["noise"]["paired"] is False
        assert c["noise"]["low"] <= c["limit"] and c["noise"]["low"] <= c["drop"] <= c["noise"]["high"]
    assert any(c["drop"] > c["limit"] for c in comparisons)  # the old rule alerted on these

    # The same stores' sales a few units higher than the model knows: a real drop.
    unseen.select("row_id", pl.col("Sales") + 2 * pl.col("Sales").std()).write_csv(tmp_path / "moved.csv")
    moved = cli("feedback", "cs-prod", tmp_path / "moved.csv", "--id-column", "row_id", "--json").json
    assert moved["status"] == "alert" and moved["comparison"]["noise"]["low"] > moved["comparison"]["limit"]


def test_retrain_judges_the_drop_by_a_paired_bootstrap_and_promotes_only_a_better_challenger(ws, cli, tmp_path):
    s = corpus_sets(tmp_path / "corpus", ["carseats"])[0]
    df = readers.collect(str(s.path))
    df.head(200).write_parquet(tmp_path / "old.parquet")
    df.write_parquet(tmp_path / "all.parquet")
    assert cli("dataset", "add", tmp_path / "old.parquet", "--name", "carseats", "--target", "Sales").code == 0
    run = tune_small(ws, "carseats", tmp_path, name="carseats", trials=2)
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "cs-prod")
    assert cli("dataset", "add", tmp_path / "all.parquet", "--name", "carseats").code == 0

    res = cli("retrain", "cs-prod", "--dataset", "carseats", "--json")
    assert res.code in (0, 3), res.stderr
    doc = res.json
    drop = doc["gate"]["checks"]["max_drop"]
    noise = drop["noise"]
    assert noise["paired"] is True and noise["rows"] == doc["compared_rows"]
    assert noise["low"] <= drop["drop"] <= noise["high"]
    assert drop["ok"] is (noise["low"] <= drop["limit"])  # worse only beyond noise, and past max_drop
    rmse = doc["metrics"]["rmse"]
    assert doc["promoted"] is (drop["ok"] and rmse["challenger"] < rmse["champion"])
    if not doc["promoted"] and drop["ok"]:
        assert "a challenger replaces the champion only when it is better on the same rows" in doc["summary"]
