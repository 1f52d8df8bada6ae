"""`serve` given a Boolean feature's values as JSON text ("False", "TRUE", "1", "0"), as a client
sending a CSV's rows does (hreal7's tour on hotel_rates' flags): --lenient reads them as 1/0 with a
warning and answers what the same rows with JSON true/false get; a strict service refuses it as it
refuses any number sent as text, naming the column and what --lenient does (it said "should be
true/false (or 1/0) but has text, e.g. 'False'", as if 'False' were not true/false). Real rows: MASS Pima.te from the corpus, with a real Boolean column
(`pregnant`: npreg > 0) beside its measurements.
"""

from __future__ import annotations

import polars as pl
import pytest

from tests.corpus_helpers import corpus_sets
from tests.serve_helpers import pima_deployment, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pima_bool(tmp_path_factory):
    """(the workspace root, Pima's rows with `pregnant` and without the target)."""
    from mlops_tui.workspace import Workspace

    tmp = tmp_path_factory.mktemp("serve-bool")
    (pima,) = corpus_sets(tmp / "corpus", ["pima"])
    rows = pl.read_csv(pima.path).with_columns(pregnant=pl.col("npreg") > 0).drop("npreg")
    assert rows.schema["pregnant"] == pl.Boolean
    ws = Workspace.open(tmp / "ws", create=True)
    pima_deployment(ws, rows)
    return ws.root, rows.drop("type")


def as_text(records: list[dict]) -> list[dict]:
    words = ["False", "TRUE", "1", "0", " false "]
    return [{**r, "pregnant": words[i % len(words)]} for i, r in enumerate(records)]


def test_lenient_reads_true_false_text_of_a_boolean_feature_as_1_0(pima_bool):
    root, rows = pima_bool
    records = rows.head(5).to_dicts()
    truth = [False, True, True, False, False]
    with serving(root, "--lenient", deployment="pima") as srv:
        r = srv.client.post("/predict", json=as_text(records))
        assert r.status_code == 200, r.text
        assert r.json()["warnings"] == ["column 'pregnant' arrived as text; true/false text read as 1/0"]
        texted = [p["Yes"] for p in r.json()["probabilities"]]
        same = srv.client.post("/predict", json=[{**rec, "pregnant": t} for rec, t in zip(records, truth)])
        assert same.status_code == 200, same.text
        assert texted == [p["Yes"] for p in same.json()["probabilities"]]
        # text that is no true/false stays a problem, named with its record
        bad = srv.client.post("/predict", json=[*as_text(records), {**records[0], "pregnant": "maybe"}])
        assert bad.status_code == 422
        assert bad.json()["problems"] == [
            "column 'pregnant' should be true/false (or 1/0) but has text, e.g. 'maybe' (record 5, row_id 1)"
        ]


def test_strict_refuses_true_false_text_as_it_refuses_numbers_sent_as_text(pima_bool):
    root, rows = pima_bool
    with serving(root, deployment="pima") as srv:
        r = srv.client.post("/predict", json=as_text(rows.head(3).to_dicts()))
        assert r.status_code == 422, r.text
        assert r.json()["problems"] == [
            "column 'pregnant' arrived as text; refused (serve --lenient reads true/false text as 1/0)"
        ]
