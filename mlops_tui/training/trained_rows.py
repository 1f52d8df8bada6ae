"""The rows a model learnt from: one 64-bit key per row, kept in runs/<id>/trained_rows.parquet.

A tuning run writes the keys of every row its final model was fitted on. Whoever later scores that
model on labelled rows must know which of them it has already seen, or its figures flatter it:
`retrain` leaves them out of the holdout the champion and challenger share, `evaluate` says how
many of the rows it was given are such rows. Keys are hashes over the columns the model reads and
its target (:func:`row_keys`), so they find a row again in another version of the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from mlops_tui.training.signature import Signature

TRAINED_ROWS = "trained_rows.parquet"


def row_keys(frame: pl.DataFrame, sig: Signature) -> pl.Series:
    """One 64-bit key per row over the columns a model reads and its target, each as text (so an
    int column of one version and the same values as floats in the next differ only where printed
    differently)."""
    import polars as pl

    columns = sorted({*sig.source_columns, sig.target} & set(frame.columns))
    return frame.select(pl.col(c).cast(pl.String) for c in columns).hash_rows(seed=13)


def write(run_dir: Path, sig: Signature, rows: pl.DataFrame) -> None:
    """runs/<id>/trained_rows.parquet: the keys of every row the final model learnt from (``rows``,
    :func:`~mlops_tui.training.prep.fitted_rows`), written atomically."""
    import polars as pl

    tmp = run_dir / f".{TRAINED_ROWS}.tmp"
    pl.DataFrame({"row_key": row_keys(rows, sig)}).write_parquet(tmp)
    tmp.replace(run_dir / TRAINED_ROWS)


def learnt(run_dir: Path, frame: pl.DataFrame, sig: Signature) -> pl.Series | None:
    """True for each row of ``frame`` the run's model learnt from; None when the run did not record
    its training rows (trained before they were kept)."""
    import polars as pl

    path = run_dir / TRAINED_ROWS
    if not path.exists():
        return None
    return row_keys(frame, sig).is_in(pl.read_parquet(path)["row_key"].implode())
