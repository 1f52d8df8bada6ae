"""The rows a model learnt from: one 64-bit key per row, kept in runs/<id>/trained_rows.parquet.

A tuning run writes the keys of every row its final model was fitted on. Whoever later scores that
model on labelled rows must know which of them it has already seen, or its figures flatter it:
`retrain` leaves them out of the holdout the champion and challenger share, `evaluate` says how
many of the rows it was given are such rows. Keys are hashes over the columns the model reads and
its target, each value as the model reads it (:func:`row_keys`), so they find a row again in another
version of the dataset whatever format each version came in: openintro email registered from CSV (``time`` a
Datetime in UTC) and then from pandas' Parquet (``time`` as ``2012-01-01T06:16:41Z`` text) shares
2,744 rows, which keys over the values' text never matched. Two rows are the same row when the
model reads the same values and the same target in them: people who share every value the model
reads (mosaicData Whickham: 84 % share smoker, age and outcome with another) are one row to it.

A file names how its keys were made in its Parquet metadata (``row_keys``); one without the entry
(every run before) holds keys over each value's text (:func:`text_keys`) and is read that way, as it
always was. The rows themselves are not kept, so old keys cannot be made again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_tui.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlops_tui.training.signature import Feature, Signature

TRAINED_ROWS = "trained_rows.parquet"
SCHEME = "row_keys"  # the Parquet metadata entry naming how a file's keys were made
STABLE = "stable-values"  # :func:`row_keys`
# A file without the entry holds :func:`text_keys`.
_EXACT = 2**53  # from here a float64 no longer holds every whole number: written as a float
_SEED = 13
_MISSING = 0x9E3779B97F4A7C15  # a missing value's hash, in any column


def row_keys(frame: pl.DataFrame, sig: Signature) -> pl.Series:
    """One 64-bit key per row over the columns a model reads and its target, each normalised to
    the value the model reads, whatever type this version stores it as: a date or a time (a Date, a
    Datetime in any zone, ISO or other text the model's date format reads) as its instant in UTC
    microseconds; a number (int, whole float, numeric text) as a float, NaN as missing; a category
    or a class (String, Categorical, Enum, int or whole float) as its text, a whole float written as
    an int.

    The hash is this module's own (:func:`stable_hash`), not Polars' ``hash_rows``, whose results
    may change with the Polars version: keys written today must match after an upgrade."""
    return stable_hash(_normalised(frame, sig))


def _normalised(frame: pl.DataFrame, sig: Signature) -> pl.DataFrame:
    """The columns a model reads and its target, in name order, as the model reads them."""
    columns = sorted({*sig.source_columns, sig.target} & set(frame.columns))
    return frame.select(_value(frame, c, sig).alias(c) for c in columns)


def stable_hash(values: pl.DataFrame) -> pl.Series:
    """One 64-bit hash per row, the same in every version of Polars and numpy: each column's values
    hashed (:func:`_column_hash`) and folded in, in order, through splitmix64's finaliser."""
    import numpy as np
    import polars as pl

    with np.errstate(over="ignore"):
        h = np.full(values.height, _SEED, dtype=np.uint64)
        for column in values.get_columns():
            h = _mix(h ^ _mix(_column_hash(column)))
    return pl.Series("row_key", h, dtype=pl.UInt64)


def _column_hash(column: pl.Series) -> np.ndarray:
    """A column's values as 64 bits each: an Int64's or a Float64's own bits (-0.0 as 0.0), a text's
    first 8 bytes of BLAKE2b over its UTF-8; :data:`_MISSING` for a missing value."""
    import hashlib

    import numpy as np
    import polars as pl

    if column.dtype == pl.Float64:
        # numpy's -0.0 + 0.0 is 0.0 (Polars' stays -0.0): the model reads them as one value
        bits = (column.fill_null(0.0).to_numpy() + 0.0).view(np.uint64)
    elif column.dtype == pl.Int64:
        bits = column.fill_null(0).to_numpy().view(np.uint64)
    else:
        text = column.cast(pl.String)
        distinct = text.drop_nulls().unique().sort()
        digests = np.fromiter(
            (int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little") for v in distinct),
            dtype=np.uint64,
            count=distinct.len(),
        )
        if distinct.len() == 0:
            return np.full(column.len(), _MISSING, dtype=np.uint64)
        # Each value's place among the distinct ones by a hash lookup: a binary search of 3 million
        # distinct texts took 5.2 s, this 3.5 s (an id column that is not Int64: UInt32 row numbers).
        at = text.replace_strict(distinct, pl.int_range(distinct.len(), eager=True), default=0,
                                 return_dtype=pl.Int64).to_numpy()
        bits = digests[at]
    return np.where(column.is_null().to_numpy(), np.uint64(_MISSING), bits)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the input moves about half the output's bits."""
    import numpy as np

    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def text_keys(frame: pl.DataFrame, sig: Signature) -> pl.Series:
    """The keys of files written before :func:`row_keys` (no scheme in their metadata): over each
    value's text, so a Datetime never matched the same time written as text, nor 3 the float 3.0."""
    import polars as pl

    columns = sorted({*sig.source_columns, sig.target} & set(frame.columns))
    return frame.select(pl.col(c).cast(pl.String) for c in columns).hash_rows(seed=_SEED)


def _value(frame: pl.DataFrame, column: str, sig: Signature) -> pl.Expr:
    """``column`` as the model reads it (see :func:`row_keys`)."""
    import polars as pl

    dtype = frame.schema[column]
    col = pl.col(column)
    if column == sig.target:
        return _number(col, dtype) if sig.task == "regression" else _text(col, dtype)
    reading = _reading([f for f in sig.features if f.source == column])
    if reading is not None and reading.transform:
        return _instant(frame, column, reading.date_format)
    if reading is not None and reading.time_of_day:
        if dtype == pl.String:
            return col.str.strip_chars().str.to_time(strict=False).cast(pl.Int64)
        return col.cast(pl.Int64)
    if reading is not None and reading.kind == "categorical":
        return _text(col, dtype)
    return _number(col, dtype)


def _reading(features: list[Feature]) -> Feature | None:
    """The feature that says how a column is read: a date part before anything else (a date column
    gives several), then a time of day, then the first."""
    for f in features:
        if f.transform:
            return f
    for f in features:
        if f.time_of_day:
            return f
    return features[0] if features else None


def _instant(frame: pl.DataFrame, column: str, fmt: str | None) -> pl.Expr:
    """A date column as microseconds since 1970 in UTC: a Date at midnight, a zoned Datetime at its
    UTC instant, a naive one as written, text read as the model reads it (its recorded format, or
    the one the values read with, :mod:`mlops_tui.data.dates`)."""
    import polars as pl

    from mlops_tui.data import dates

    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype == pl.String:
        col = dates.parse(col, fmt or dates.infer_format(frame[column]))
    elif dtype == pl.Date:
        col = col.cast(pl.Datetime("us"))
    elif dtype == pl.Null:  # every value missing in this version (an empty CSV column)
        return pl.lit(None, pl.Int64)
    elif not isinstance(dtype, pl.Datetime):
        return _text(col, dtype)  # not a date in this version: matches no date
    return col.dt.epoch("us")


def _number(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A number as the model reads it (numeric text as ``encode`` reads it), NaN as missing."""
    import polars as pl

    from mlops_tui.training.signature import text_number

    num = text_number(col) if dtype == pl.String else col.cast(pl.Float64, strict=False)
    return num.fill_nan(None)


def _text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    import polars as pl

    if not dtype.is_float():
        return col.cast(pl.String)
    whole = (col == col.floor()) & (col.abs() < _EXACT)
    return (
        pl.when(col.is_nan())
        .then(None)
        .when(whole)
        .then(col.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(col.cast(pl.String))
    )


def write(run_dir: Path, sig: Signature, rows: pl.DataFrame) -> None:
    """runs/<id>/trained_rows.parquet: the keys of every row the final model learnt from (``rows``,
    :func:`~mlops_tui.training.prep.fitted_rows`), and their scheme, written atomically."""
    import polars as pl

    tmp = run_dir / f".{TRAINED_ROWS}.tmp"
    pl.DataFrame({"row_key": row_keys(rows, sig)}).write_parquet(tmp, metadata={SCHEME: STABLE})
    tmp.replace(run_dir / TRAINED_ROWS)


def learnt(run_dir: Path, frame: pl.DataFrame, sig: Signature) -> pl.Series | None:
    """True for each row of ``frame`` the run's model learnt from; None when the run did not record
    its training rows (trained before they were kept). A file is read with the keys it holds (see
    the module's doc)."""
    import polars as pl

    path = run_dir / TRAINED_ROWS
    if not path.exists():
        return None
    scheme = pl.read_parquet_metadata(path).get(SCHEME)
    keys = {None: text_keys, STABLE: row_keys}.get(scheme)
    if keys is None:
        raise UserError(f"{path}: row keys made as {scheme!r}, which this version of mlops-tui does not know")
    return keys(frame, sig).is_in(pl.read_parquet(path)["row_key"].implode())
