"""`mlops-tui serve` under bad input, on real rows (MASS Pima.te from the corpus), as a client
sends it: each mistake gets a 4xx whose one line names the record, the column and the value, and
the next good request is answered.
"""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from tests.conftest import run_cli_subprocess
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


def post(srv, records: list[dict], big: tuple[int, str] | None = None):
    """The records as Python's json writes them (NaN, Infinity), with ``big`` = (record, column)
    holding 1e400, a JSON number past float64."""
    text = json.dumps(records)
    if big:
        i, column = big
        records = [*records[:i], {**records[i], column: "__big__"}, *records[i + 1:]]
        text = json.dumps(records).replace('"__big__"', "1e400")
    return srv.client.post("/predict", content=text, headers={"content-type": "application/json"})


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


LENIENT = "refused (send null for a missing value; serve --lenient scores them as `score` does)"


def test_booleans_and_non_finite_numbers_are_refused_naming_record_column_and_value(pima):
    srv, rows = pima
    records = batch(rows)
    records[1_234]["npreg"] = True
    records[4_321]["glu"] = math.nan
    records[5_555]["bp"] = -math.inf
    r = post(srv, records, big=(7_777, "bmi"))
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == [
        "column 'npreg' should be numeric but has true/false, e.g. true (record 1234, row_id 1235): refused "
        "(serve --lenient reads true as 1, false as 0)",
        f"column 'glu' has non-finite number(s), e.g. NaN (record 4321, row_id 4322): {LENIENT}",
        f"column 'bp' has non-finite number(s), e.g. -Infinity (record 5555, row_id 5556): {LENIENT}",
        f"column 'bmi' has non-finite number(s), e.g. Infinity (record 7777, row_id 7778): {LENIENT}"]
    still_serving(srv, rows)


@pytest.mark.parametrize("value", [math.nan, "1e400"], ids=["NaN", "1e400"])
def test_a_non_finite_id_is_refused_as_it_cannot_be_sent_back(pima, value):
    srv, rows = pima
    records = rows.head(3).to_dicts()
    if value == "1e400":
        r = post(srv, records, big=(1, "row_id"))
    else:
        records[1]["row_id"] = value
        r = post(srv, records)
    assert r.status_code == 422, r.text
    shown = "NaN" if value is math.nan else "Infinity"
    assert r.json()["problems"] == [f"id column 'row_id' has non-finite number(s), e.g. {shown} (record 1): ids are "
                                    "sent back in the answer, and JSON has no NaN or Infinity"]
    still_serving(srv, rows)


def test_lenient_scores_them_as_score_scores_a_file_and_says_so(pima, tmp_path):
    srv, rows = pima
    records = rows.head(4).to_dicts()
    records[0]["npreg"], records[1]["glu"], records[2]["bp"] = True, math.nan, math.inf
    with serving(srv.root, "--lenient", deployment="pima") as lenient:
        r = post(lenient, records, big=(3, "bmi"))
        assert r.status_code == 200, r.text
        assert r.json()["warnings"] == [
            "column 'npreg' should be numeric but has true/false, e.g. true (record 0, row_id 1): read as 1/0",
            "column 'glu' has non-finite number(s), e.g. NaN (record 1, row_id 2): scored as `score` scores them "
            "(NaN as missing)",
            "column 'bp' has non-finite number(s), e.g. Infinity (record 2, row_id 3): scored as `score` scores them "
            "(NaN as missing)",
            "column 'bmi' has non-finite number(s), e.g. Infinity (record 3, row_id 4): scored as `score` scores them "
            "(NaN as missing)"]
        online = [p["Yes"] for p in r.json()["probabilities"]]
    # The same values in a Parquet file: 1 for true, NaN, Infinity (what 1e400 reads as)
    records[0]["npreg"], records[3]["bmi"] = 1, math.inf
    pl.DataFrame(records).write_parquet(tmp_path / "odd.parquet")
    result = run_cli_subprocess(srv.root, "score", "pima", str(tmp_path / "odd.parquet"), "--output",
                                str(tmp_path / "scored.parquet"), "--json")
    assert result.code == 0, result.stderr
    assert online == pytest.approx(pl.read_parquet(tmp_path / "scored.parquet")["proba_Yes"].to_list(), abs=1e-12)


JSON = {"content-type": "application/json"}
AS_A_CLIENT_SENDS = {  # (body, headers, status, error) for Pima's first two rows as `rows`
    "a CSV body": (lambda rows: rows.head(2).write_csv().encode(), {"content-type": "text/csv"}, 415,
                   "the body must be JSON sent as Content-Type: application/json, not text/csv (curl: --json, "
                   "or -H 'Content-Type: application/json')"),
    "curl -d's form type": (lambda rows: json.dumps(rows.head(2).to_dicts()).encode(),
                            {"content-type": "application/x-www-form-urlencoded"}, 415,
                            "the body must be JSON sent as Content-Type: application/json, not "
                            "application/x-www-form-urlencoded (curl: --json, or -H 'Content-Type: application/json')"),
    "not JSON": (lambda rows: b"npreg=6&glu=148", JSON, 400, "malformed JSON: Expecting value: line 1 column 1 (char 0)"),
    "an empty body": (lambda rows: b"", JSON, 400,
                      "the body is empty: send JSON, a list of records, an object of columns or one record"),
    "a key twice": (lambda rows: json.dumps(batch(rows, 3)).replace('"glu": 85', '"glu": 85, "glu": "x"').encode(),
                    JSON, 400, "key 'glu' appears twice in record 1 (a JSON reader keeps only one of them): send "
                               "each key once"),
    "a key twice, columns": (lambda rows: b'{"glu": [148], "npreg": [6], "glu": [1]}', JSON, 400,
                             "key 'glu' appears twice in the body's object (a JSON reader keeps only one of them): "
                             "send each key once"),
}


@pytest.mark.parametrize("case", list(AS_A_CLIENT_SENDS), ids=str)
def test_a_body_a_client_gets_wrong_is_a_4xx_in_one_line(pima, case):
    srv, rows = pima
    make, headers, status, error = AS_A_CLIENT_SENDS[case]
    r = srv.client.post("/predict", content=make(rows), headers=headers)
    assert (r.status_code, r.json()) == (status, {"error": error})
    still_serving(srv, rows)


def test_a_body_over_the_limit_says_the_limit_and_what_to_do(pima):
    srv, rows = pima
    records = batch(rows, 120_000)  # ~12 MB of real rows, over the default 10 MiB
    r = srv.client.post("/predict", content=json.dumps(records).encode(), headers=JSON)
    assert r.status_code == 413
    assert r.json()["error"].endswith("over the limit of 10,485,760 bytes: send fewer rows per request (the limit "
                                      "is serve --max-body-mb)")
    assert srv.predict(records[:10_000]).status_code == 200  # a batch under the limit is answered
    still_serving(srv, rows)


@pytest.mark.parametrize("mistake", ["over the limit", "sent as a form"])
def test_a_client_that_sends_its_whole_body_first_reads_the_refusal(pima, mistake):
    """Python's urllib sends the whole body, then reads the answer, on a connection it closes
    (Connection: close): the service answered a refused body without reading it and closed the
    connection with bytes unread, so the client got 'Connection reset by peer' (a 12 MB body) or
    'Broken pipe' (2 MB sent without a JSON Content-Type, urllib's default is a form) instead of the
    answer saying what to do."""
    import urllib.error
    import urllib.request

    srv, rows = pima
    records = batch(rows, 120_000 if mistake == "over the limit" else 20_000)
    request = urllib.request.Request(f"{srv.url}/predict", data=json.dumps(records).encode(),
                                     headers=JSON if mistake == "over the limit" else {})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    answer = json.loads(refused.value.read())
    if mistake == "over the limit":
        assert refused.value.code == 413
        assert "over the limit of 10,485,760 bytes" in answer["error"]
    else:
        assert refused.value.code == 415
        assert answer["error"].startswith("the body must be JSON sent as Content-Type: application/json, not "
                                          "application/x-www-form-urlencoded")
    still_serving(srv, rows)


@pytest.mark.parametrize("mistake", ["a missing feature", "an unknown field", "an empty list", "text for a number"])
def test_a_record_a_client_gets_wrong_is_a_422_in_one_line_per_problem(pima, mistake):
    srv, rows = pima
    records = batch(rows, 1_000)
    if mistake == "a missing feature":
        records = [{k: v for k, v in r.items() if k != "skin"} for r in records]
        problem = "missing feature column(s): skin"
    elif mistake == "an unknown field":
        records[10]["weight_kg"] = 71.5
        problem = "1 column(s) the model does not use are refused (serve --lenient ignores them): weight_kg"
    elif mistake == "an empty list":
        records, problem = [], "the body holds no rows"
    else:
        records[999]["age"] = "forty"
        problem = "column 'age' should be numeric but has text, e.g. 'forty' (record 999, row_id 1000)"
    r = srv.predict(records)
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == [problem]
    still_serving(srv, rows)
