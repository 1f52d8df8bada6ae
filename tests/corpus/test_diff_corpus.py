"""`dataset diff` on real public data (bench/corpus.py): random halves of a set are the same
distribution and must not warn or alert by chance, however small; a shifted copy must alert on the
shifted column. Random halves of openintro's blizzard_salary (233 rows each) alerted on a numeric
column (PSI 0.32) and on free text (PSI 1.31): the PSI alone did not allow for sampling noise."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.data import comparison, datasets, readers
from tests.corpus_helpers import corpus_sets

pytestmark = pytest.mark.slow


def _diff(ws, tmp_path, name: str, a: pl.DataFrame, b: pl.DataFrame) -> dict[str, comparison.ColumnDrift]:
    for i, part in enumerate((a, b)):
        part.write_parquet(tmp_path / f"{name}-{i}.parquet")  # one schema for both halves
        datasets.add(ws, str(tmp_path / f"{name}-{i}.parquet"), name=name)
    return {d.column: d for d in comparison.diff(ws, f"{name}:1", f"{name}:2").drift}


def _halves(df: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed)
    return shuffled.head(df.height // 2), shuffled.tail(df.height - df.height // 2)


def test_random_halves_of_real_sets_are_ok_and_a_shifted_copy_alerts(ws, tmp_path):
    statuses: list[tuple[str, str, str]] = []
    for s in corpus_sets(tmp_path / "corpus", ["blizzard", "fgl", "carseats", "mpg", "credit_data"]):
        df = readers.collect(str(s.path))
        for seed in (0, 1):
            a, b = _halves(df, seed)
            statuses += [(s.name, c, d.status) for c, d in _diff(ws, tmp_path, f"{s.name}{seed}", a, b).items()]
        if s.name in ("blizzard", "carseats"):  # 233 and 200 rows: a real shift must still alert
            a, b = _halves(df, 0)
            column = "percent_incr" if s.name == "blizzard" else "Price"
            moved = b.with_columns(pl.col(column) + pl.col(column).std())
            assert _diff(ws, tmp_path, f"{s.name}-moved", a, moved)[column].status == "alert"
    assert [x for x in statuses if x[2] == "alert"] == []
    warns = [x for x in statuses if x[2] == "warn"]
    assert len(warns) <= 0.02 * len(statuses), warns
    assert sum(x[2] == "ok" for x in statuses) > 100
