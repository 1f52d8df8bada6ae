"""`evaluate MODEL DATASET` on rows the model learnt from: modeldata's credit_data, a model tuned on
it, evaluated on a random half of the same rows, reported roc_auc 0.899 against its holdout's 0.830
without a word. The rows it learnt from are counted and named; `--unseen` leaves them out."""

from __future__ import annotations

import polars as pl
import pytest

from tests.corpus_helpers import corpus_sets
from tests.tuning_helpers import space_file

pytestmark = pytest.mark.slow


def test_evaluate_counts_the_rows_a_model_learnt_from_and_can_leave_them_out(ws, cli, tmp_path):
    s = corpus_sets(tmp_path / "corpus", ["credit_data"])[0]
    assert cli("dataset", "add", s.path, "--name", "credit", "--target", s.target).code == 0
    tuned = cli("tune", "credit", "--trials", "2", "--space", space_file(tmp_path), "--json")
    assert tuned.code == 0, tuned.stderr
    half = pl.read_csv(s.path).sample(fraction=0.5, seed=1)
    half.write_parquet(tmp_path / "half.parquet")
    assert cli("dataset", "add", tmp_path / "half.parquet", "--name", "credithalf").code == 0

    res = cli("evaluate", "credit:1", "credithalf", "--json")
    assert res.code == 0, res.stderr
    doc = res.json
    learnt = doc["learnt_rows"]
    assert 0.6 * doc["rows"] < learnt < doc["rows"]  # ~80 % of the rows were training rows
    assert doc["excluded_rows"] == 0
    assert f"{learnt:,} of {doc['rows']:,} rows are rows credit:1 learnt from: these metrics overstate" in doc["warnings"][0]
    human = cli("evaluate", "credit:1", "credithalf")
    assert "learnt from: these metrics overstate" in " ".join(human.stderr.split())

    unseen = cli("evaluate", "credit:1", "credithalf", "--unseen", "--json").json
    assert unseen["rows"] == doc["rows"] - learnt and unseen["excluded_rows"] == learnt == unseen["learnt_rows"]
    assert unseen["metrics"]["roc_auc"] < doc["metrics"]["roc_auc"]  # its own rows flattered it
    assert "left out (--unseen)" in unseen["warnings"][0]

    # Rows it never saw: the holdout of its own run (nothing to warn about).
    holdout = pl.read_parquet(ws.run_dir(tuned.json["run_id"]) / "holdout.parquet")
    holdout.write_parquet(tmp_path / "ho.parquet")
    assert cli("dataset", "add", tmp_path / "ho.parquet", "--name", "creditho").code == 0
    clean = cli("evaluate", "credit:1", "creditho", "--json").json
    assert clean["learnt_rows"] == 0 and not any("learnt from" in w for w in clean["warnings"])
    whole = cli("evaluate", "credit:1", "credit", "--unseen", "--json").json  # the rows it was tuned on
    assert whole["rows"] == holdout.height and whole["excluded_rows"] == whole["learnt_rows"]
