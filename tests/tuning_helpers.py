"""Helpers for the tuning tests: small real datasets registered in a workspace, a tiny search space."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.conftest import SAMPLE

# Few, short boosting runs: the tests check behaviour, not model quality.
FAST_SPACE = """\
num_boost_round = 40
early_stopping_rounds = 10

[params.num_leaves]
low = 4
high = 16

[params.learning_rate]
low = 0.05
high = 0.3
log = true
"""


def space_file(tmp_path: Path, text: str = FAST_SPACE) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def add_sample(ws, name: str, *, rows: int | None = None, target: str | None = None,
               extra: dict | None = None, seed: int = 0):
    """Register sample_data/<name>.csv (optionally down-sampled or with extra columns)."""
    from mlops_tui.data import datasets

    df = pl.read_csv(SAMPLE / f"{name}.csv", try_parse_dates=True)
    if rows is not None and rows < df.height:
        df = df.sample(rows, seed=seed, shuffle=False)
    if extra:
        df = df.with_columns(**extra)
    path = ws.root.parent / f"{name}.parquet"
    df.write_parquet(path)
    dv, _ = datasets.add(ws, str(path), name=name, target=target)
    return dv
