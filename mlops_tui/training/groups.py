"""Rows that come in groups: one case recorded as several rows (an incident per force used, a
patient per visit). A random holdout puts rows of one case on both sides and the model scores by
recognising the case: openintro mn_police_use_of_force (one incident = the rows sharing
``response_datetime`` to the second, one injury value each) tuned to a holdout ROC AUC of 0.975 on
a random split, 0.570 on a time split.

``tune --group-column COL`` keeps the rows sharing COL's value on one side of the holdout and of
every cross-validation fold (:func:`split`, :func:`folds`). Without it, a random split checks
whether holdout rows share the value of a column that looks like a grouping key with training rows
(:func:`shared_with_training`) and warns. Whatever the split, holdout rows that equal a fitted row
in every feature and the target beyond chance (a resample, a file appended to itself) are counted
and warned of too (:func:`copies_of_fitted`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl

from mlops_tui.data import dates, profiling
from mlops_tui.errors import UserError

# A column looks like a grouping key when its values repeat but most are rare: at least this many
# distinct values per row (mn_police_use_of_force: 1,149 incidents in 3,077 labelled rows, 0.37). A
# column with few values (a store, a state) is a category the holdout is meant to share.
KEY_DISTINCT_SHARE = 0.1
WARN_SHARE = 0.05  # warn when at least this share of the holdout rows shares a key with training rows
WARN_MIN_ROWS = 10
# Warn of copies when this share of the holdout rows, beyond what chance gives, equal a fitted row in
# every feature and the target: a fifth, as `dataset add` warns of repeated rows. Real data stays
# under it (the vs_flaml corpus: caravan 15 %, whose zip-code features repeat; mpg 6 %; others <= 4 %).
COPY_SHARE = 0.2


def codes(frame: pl.DataFrame, column: str) -> np.ndarray:
    """An integer per row, equal for rows sharing ``column``'s value; a missing value is a group of
    its own (nothing says two rows without a value are one case)."""
    ranks = frame[column].rank("dense").cast(pl.Int64).to_numpy()
    missing = frame[column].is_null().to_numpy()
    return np.where(missing, -1 - np.arange(frame.height), np.nan_to_num(ranks, nan=0)).astype(np.int64)


def _splitter(k: int, seed: int, stratified: bool) -> Any:
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    return (StratifiedGroupKFold if stratified else GroupKFold)(k, shuffle=True, random_state=seed)


def folds(k: int, seed: int, y: np.ndarray | None, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, validation) position splits, each group on one side; stratified when ``y`` is given."""
    with warnings.catch_warnings():  # a class in fewer groups than folds: sklearn warns, the folds are still whole groups
        warnings.simplefilter("ignore", UserWarning)
        return list(_splitter(k, seed, y is not None).split(np.zeros(len(groups)), y, groups))


def split(df: pl.DataFrame, column: str, y: np.ndarray | None, seed: int, test_size: float,
          valid_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(train, valid, test) row positions with whole groups on each side, and how: the holdout is
    one of round(1 / test_size) group folds, validation one of the rest's (stratified by ``y``)."""
    groups = codes(df, column)
    n_groups = len(np.unique(groups))
    k_test, k_valid = max(2, round(1 / test_size)), max(2, round((1 - test_size) / valid_size))
    if n_groups < k_test + k_valid:
        raise UserError(f"group column {column!r} has {n_groups} group(s) in the labelled rows: too few to hold "
                        f"out whole groups (at least {k_test + k_valid})")
    rest, test = folds(k_test, seed, y, groups)[0]
    fit, valid = folds(k_valid, seed, None if y is None else y[rest], groups[rest])[0]
    info = {"method": "grouped", "group_column": column, "groups": n_groups, "stratified": y is not None}
    return np.sort(rest[fit]), np.sort(rest[valid]), np.sort(test), info


def _key_candidates(df: pl.DataFrame, target: str) -> dict[str, pl.Expr]:
    """{column: the value to compare} of the columns whose shared values mean 'the same case': a
    timestamp to the second (two separate events rarely share one) or an id-like column (by name,
    integer or text) whose values repeat, each with many distinct values (:data:`KEY_DISTINCT_SHARE`)."""
    out: dict[str, pl.Expr] = {}
    for name, dtype in df.schema.items():
        if name == target:
            continue
        if not (isinstance(dtype, pl.Datetime) or dtype == pl.String
                or (dtype.is_integer() and profiling.looks_like_id(name))):
            continue  # no key whatever its values; counting them costs 0.3 s per 10 million rows
        col = df[name]
        distinct = col.n_unique()
        if not (KEY_DISTINCT_SHARE * df.height <= distinct < df.height):
            continue
        fmt = dates.infer_format(col) if dtype == pl.String else None
        if isinstance(dtype, pl.Datetime) or fmt:
            value = dates.parse(pl.col(name), fmt) if fmt else pl.col(name)
            if df.select(value.dt.second().fill_null(0).ne(0).any()).item():  # dates or minutes: many cases share
                out[name] = value
        elif (dtype.is_integer() or dtype == pl.String) and profiling.looks_like_id(name):
            out[name] = pl.col(name)
    return out


def shared_with_training(df: pl.DataFrame, fit: pl.DataFrame, test: pl.DataFrame,
                         target: str) -> list[dict[str, Any]]:
    """The grouping-key-like columns (see :func:`_key_candidates`, judged on all labelled rows ``df``)
    whose value a material share of the holdout rows shares with a fitted row: one semi-join each."""
    found = []
    for name, value in _key_candidates(df, target).items():
        seen = fit.select(value.alias("key")).drop_nulls().unique()
        shared = test.select(value.alias("key")).join(seen, on="key", how="semi").height
        if shared >= max(WARN_MIN_ROWS, WARN_SHARE * test.height):
            found.append({"column": name, "holdout_rows": shared, "of": test.height})
    return found


def _copies(fit: pl.DataFrame, test: pl.DataFrame, columns: list[str]) -> int:
    """Holdout rows equal to some fitted row in ``columns`` (missing equals missing): one hash lookup
    per row (64-bit row hashes; 3x faster than a join on the columns, 0.05 s for 1.2M rows)."""
    seen = fit.select(columns).hash_rows().unique()
    return int(test.select(columns).hash_rows().is_in(seen.implode()).sum())


def copies_of_fitted(fit: pl.DataFrame, test: pl.DataFrame, columns: list[str], seed: int) -> dict[str, Any] | None:
    """How many holdout rows equal a fitted row in ``columns`` (the features' source columns and the
    target), when that is a material share beyond chance; else None. The model has seen those rows,
    so the holdout scores its memory: MASS Pima's 532 rows resampled to 1.2M gave a holdout ROC AUC
    of 0.99998.

    Chance: the same count against the fitted rows with each column shuffled on its own (the values
    kept, the rows broken up). causaldata titanic (2,201 passengers in 14 distinct rows of class,
    age, sex, survival) has every holdout row in the training rows by chance alone: separate people
    the holdout rightly scores, not copies. Counted only when the plain count is already material."""
    copies = _copies(fit, test, columns)
    if copies < max(WARN_MIN_ROWS, COPY_SHARE * test.height):
        return None
    rng = np.random.default_rng(seed)
    shuffled = fit.select(pl.col(c).gather(rng.permutation(fit.height)) for c in columns)
    chance = _copies(shuffled, test, columns)
    if copies - chance < COPY_SHARE * test.height:
        return None
    return {"holdout_rows": copies, "of": test.height, "by_chance": chance}


def copies_warning(found: dict[str, Any]) -> str:
    """What tune and run show say of :func:`copies_of_fitted`'s finding."""
    share, chance = found["holdout_rows"] / found["of"], found["by_chance"] / found["of"]
    return (f"{found['holdout_rows']:,} of {found['of']:,} holdout rows ({share:.0%}) equal a training row in every "
            f"feature and the target ({chance:.0%} would by chance): the model has seen them, so the holdout "
            f"metrics overstate it; if they are copies of one record, tune a de-duplicated version, or keep each "
            f"record's copies on one side with --group-column COL (a column naming the record)")


def warning(found: dict[str, Any]) -> str:
    c = found["column"]
    return (f"{found['holdout_rows']:,} of {found['of']:,} holdout rows share {c!r} with a training row: if rows "
            f"sharing it are one case, the model recognises the case and the holdout (and cross-validation) "
            f"overstates; use --group-column {c} or --time-column")
