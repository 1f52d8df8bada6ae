"""`retrain` and a slice gap its (force-deployed) champion has too.

openintro loans_full_schema (Lending Club), target grade: both models predict the grade of loans
already paid back ('Fully Paid') far worse than of current ones. The champion was deployed with
--force over that gap; a challenger better on the metric whose gap is no wider replaces it (before,
the gap alone kept the worse champion serving), and the summary says the champion fails the check
too. A model whose gap is wider than the champion's is still refused."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.data import readers
from mlops_tui.registry import gate
from mlops_tui.registry import models as registry
from tests.corpus_helpers import corpus_sets
from tests.monitor_helpers import tune_small

pytestmark = pytest.mark.slow


def test_a_better_challenger_replaces_a_champion_failing_the_same_slice_check_by_more(ws, cli, tmp_path):
    s = corpus_sets(tmp_path / "corpus", ["loans"])[0]
    full = readers.collect(str(s.path))
    # Paid-back loans are 4 % of the set: enough of them in each holdout to measure (>= 20 rows).
    paid = full.slice(3000).filter(pl.col("loan_status") == "Fully Paid")
    old = pl.concat([full.head(2000), paid.head(200)])
    pl.concat([old, full.slice(2000, 1000), paid.slice(200)]).write_parquet(tmp_path / "all.parquet")
    old.write_parquet(tmp_path / "old.parquet")
    assert cli("dataset", "add", tmp_path / "old.parquet", "--name", "loans", "--target", "grade").code == 0
    run = tune_small(ws, "loans", tmp_path, name="loans", trials=1)

    refused = cli("deploy", f"{run.model_name}:{run.model_version}", "--name", "loans-prod", "--json")
    assert refused.code == 3
    # The groups compared are those big enough to measure, not every group run show lists.
    assert "95% intervals over 2 groups of >= 20 holdout rows do not overlap" in refused.stderr + refused.stdout
    assert cli("deploy", f"{run.model_name}:{run.model_version}", "--name", "loans-prod", "--force").code == 0
    assert cli("dataset", "add", tmp_path / "all.parquet", "--name", "loans").code == 0

    res = cli("retrain", "loans-prod", "--dataset", "loans", "--json")
    assert res.code == 0, res.stdout + res.stderr
    doc = res.json
    assert doc["promoted"] is True and doc["better"] is True
    loss = doc["metrics"]["log_loss"]
    assert loss["challenger"] < loss["champion"]
    gap = doc["gate"]["checks"]["max_slice_gap"]
    assert gap["feature"] == gap["champion_feature"] == "loan_status"
    assert gap["limit"] < gap["value"] <= gap["champion"] and gap["ok"] is True
    assert "but the champion fails it too" in doc["summary"]
    assert registry.get_deployment(ws, "loans-prod").model_version == doc["challenger"]["version"]

    # Every other rule holds: the wider gap (the old champion's, against the new one) still refuses,
    # and so does the narrower one of a model that did not win.
    champion, challenger = (ws.store.models.get("loans", v) for v in (run.model_version, doc["challenger"]["version"]))
    assert not gate.check(ws, champion, champion=challenger, wins=True).passed
    assert not gate.check(ws, challenger, champion=champion, wins=False).passed
