"""`mlops-tui serve` under bad input, on real rows (MASS Pima.te from the corpus), as a client
sends it: each mistake gets a 4xx whose one line names the record, the column and the value, and
the next good request is answered.
"""

from __future__ import annotations

import polars as pl
import pytest

from tests.corpus_helpers import corpus_sets
from tests.serve_helpers import pima_deployment, serving

pytestmark = pytest.mark.slow

BATCH = 10_000


@pytest.fixture(scope="module")
def pima(tmp_path_factory):
    """(the service, Pima's rows without the target) for the tests of this module."""
    from mlops_tui.workspace import Workspace

    tmp = tmp_path_factory.mktemp("serve-bad")
    (pima,) = corpus_sets(tmp / "corpus", ["pima"])
    rows = pl.read_csv(pima.path)
    ws = Workspace.open(tmp / "ws", create=True)
    pima_deployment(ws, rows)
    with serving(ws.root, deployment="pima") as srv:
        yield srv, rows.drop("type")


def batch(rows: pl.DataFrame, n: int = BATCH) -> list[dict]:
    """``n`` records cycling through the real rows, each with its own row_id."""
    records = rows.to_dicts()
    return [{**records[i % len(records)], "row_id": i + 1} for i in range(n)]


def still_serving(srv, rows: pl.DataFrame) -> None:
    r = srv.predict(rows.head(2).to_dicts())
    assert r.status_code == 200, r.text
    assert srv.proc.poll() is None


@pytest.mark.parametrize("form", ["records", "columns"])
def test_one_bad_record_in_a_batch_is_named_by_its_place_and_id(pima, form):
    srv, rows = pima
    records = batch(rows)
    records[6_789]["glu"] = "?"
    records[9_001]["bmi"] = "thirty"
    body = records if form == "records" else pl.DataFrame(records, infer_schema_length=None).to_dict(as_series=False)
    r = srv.predict(body)
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "input does not match pima:1's signature", "problems": [
        "column 'glu' should be numeric but has text, e.g. '?' (record 6789, row_id 6790)",
        "column 'bmi' should be numeric but has text, e.g. 'thirty' (record 9001, row_id 9002)"]}
    still_serving(srv, rows)


def test_without_an_id_column_the_record_is_named_by_its_place(pima):
    srv, rows = pima
    records = [{k: v for k, v in r.items() if k != "row_id"} for r in batch(rows, 500)]
    records[321]["age"] = "n/a"
    r = srv.predict(records)
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == ["column 'age' should be numeric but has text, e.g. 'n/a' (record 321)"]
    still_serving(srv, rows)
