"""The role of each column of a dataset version: target, time, id, ignored, feature or category.

Decided once, at `dataset add`, from the version's profile, and stored with its schema; `dataset
show` prints it and training honours it (prep.prepare takes the stored id columns), so what the
user reads is what the model learns from. :func:`frame_roles` applies the same rule to a frame in
memory, for preparations without a stored version (runs recorded before, direct calls).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import polars as pl

from mlops_tui.data import dates, profiling
from mlops_tui.errors import UserError

SchemaEntry = dict[str, Any]
"""``{name, dtype, nullable, role}`` of a column: the form the store keeps a version's schema in (JSON)."""

# Fewer rows than this: a unique text column or a counter may be so by chance (5 names, 1..5).
MIN_KEY_ROWS = 20
# A row counter may skip numbers of rows removed after numbering (survival nwtco's seqno: 1..4,088
# over 4,028 rows, the 2nd feature by gain when learnt): up to this share of its range.
COUNTER_GAPS = 0.05
# A text column of codes with a running number (gt pizzaplace's order `id`, '2015-000001': 21,350
# orders of 1 to 28 pizzas over 49,574 rows) names events, not something rows share: each value is
# held by a few rows (at most CODE_ROWS_PER_VALUE on average), there are many of them (at least
# CODE_VALUES per text part), and the numbers of a text part fill at least CODE_FILLED of their range.
# A scoring file brings new numbers only, so as a feature it learnt nothing (0 gain) and drifted. Store
# or product codes ('S001'..'S050') are held by many rows each; times written as text ('11:38:36')
# have at most 60 numbers per text part; free text has as many text parts as values.
CODE_ROWS_PER_VALUE = 10
CODE_VALUES = 100
CODE_FILLED = 0.5
# Text with more distinct values than this many or half the rows (modeldata training_data's food
# `review`: 2,789 values in 2,800 rows) is free text, not categories: training leaves it out
# (prep._features, by :func:`is_free_text`) and `dataset show` calls it ignored.
FREE_TEXT_VALUES = 100


def is_free_text(dtype: pl.DataType, distinct: int, rows: int) -> bool:
    """A text (or categorical) column with nearly a value per row: nothing a scoring file shares."""
    text = dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    return text and distinct > max(FREE_TEXT_VALUES, rows // 2)


def infer_schema(schema: dict[str, pl.DataType], prof: dict[str, dict[str, Any]], rows: int, target: str | None,
                 counters: Collection[str] = (), categorical: Collection[str] = ()) -> list[SchemaEntry]:
    """Schema entries ``{name, dtype, nullable, role}``.

    Roles: the target; ``time`` for Date/Datetime columns and dates written as text; ``id`` for a
    row key (:func:`is_row_key`; ``counters``: the row counters and running codes
    :func:`row_counters` found); ``ignored``
    for a column with at most one value (nothing to learn from) or free text (:func:`is_free_text`:
    training leaves it out); ``category`` for the ``categorical`` columns the user named (a 1-5 code:
    :func:`as_categories` hands them to training as text); ``feature`` otherwise.
    """
    entries = []
    for col, dtype in schema.items():
        p = prof[col]
        if col == target:
            role = "target"
        elif col in categorical:
            role = "category"
        elif dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime) or "date_format" in p:
            role = "time"
        elif is_row_key(col, dtype, rows, complete=p["nulls"] == 0, unique=p["distinct"] == rows,
                        counter=col in counters):
            role = "id"
        elif p["distinct"] <= 1 or is_free_text(dtype, p["distinct"], rows):
            role = "ignored"
        else:
            role = "feature"
        entries.append({"name": col, "dtype": str(dtype), "nullable": p["nulls"] > 0, "role": role})
    return entries


def is_row_key(name: str, dtype: pl.DataType, rows: int, *, complete: bool, unique: bool, counter: bool) -> bool:
    """A column that names rows rather than describes them: a complete, unique integer or text column
    named like an id (``id``, ``customer_id``, ``userId``, ``rownames``), a unique text column (a key
    or a label per row: seen once each, nothing to learn), or a row counter whatever its name (Ecdat
    breaches' ``Number`` is 0..1,054 in file order; learnt, it was the 2nd feature by gain, and a
    scoring file does not share the training file's order) or a text code with a running number
    (``counter``: see :func:`row_counters`)."""
    if counter:
        return True
    if not (complete and unique and (dtype.is_integer() or dtype == pl.String)):
        return False
    return profiling.looks_like_id(name) or (dtype == pl.String and rows >= MIN_KEY_ROWS)


def counter_candidates(schema: dict[str, pl.DataType], prof: dict[str, dict[str, Any]], rows: int) -> list[str]:
    """The integer columns whose profile fits a row counter: complete, from 0 or 1 to about the row
    count (gaps of at most ``COUNTER_GAPS``; the order is :func:`row_counters`' to check); and the
    text columns whose profile fits running codes: complete, not dates, not unique (a unique one is
    a key already), with ``CODE_VALUES`` values or more, each held by ``CODE_ROWS_PER_VALUE`` rows or
    fewer on average (the values are :func:`row_counters`' to check)."""
    if rows < MIN_KEY_ROWS:
        return []
    out = []
    for col, dtype in schema.items():
        p = prof[col]
        counter = dtype.is_integer() and p["nulls"] == 0 and p.get("min") in (0, 1) and \
            rows - 1 <= p["max"] - p["min"] <= (rows - 1) * (1 + COUNTER_GAPS)
        codes = dtype == pl.String and p["nulls"] == 0 and "date_format" not in p and \
            max(CODE_VALUES, rows / CODE_ROWS_PER_VALUE) <= p["distinct"] < rows
        if counter or codes:
            out.append(col)
    return out


def row_counters(lf: pl.LazyFrame, candidates: Collection[str]) -> set[str]:
    """The candidates that number rows: integers that rise at every row of the file (with the range
    :func:`counter_candidates` allows, the row positions, perhaps with a few numbers skipped), and
    text codes with a running number (:func:`_running_codes`)."""
    if not candidates:
        return set()
    schema = lf.collect_schema()
    numbers = [c for c in candidates if schema[c] != pl.String]
    found: set[str] = set()
    if numbers:
        rising = lf.select([(pl.col(c).diff().drop_nulls() > 0).all().alias(c) for c in numbers]).collect()
        found = {c for c, yes in rising.row(0, named=True).items() if yes}
    return found | {c for c in candidates if schema[c] == pl.String and _running_codes(lf, c)}


def _running_codes(lf: pl.LazyFrame, col: str) -> bool:
    """Whether every value of ``col`` is a text part and a number ('2015-000001', 'INV-42', 'A7'),
    with ``CODE_VALUES`` numbers or more per text part on average, filling ``CODE_FILLED`` of their
    range (the order numbers of a shop, not a few sizes 'S1'..'S5' nor times '11:38:36')."""
    value = pl.col(col)
    parts = (lf.select(value.unique())
             .select(value.str.replace(r"\d+$", "").alias("text"),
                     value.str.extract(r"(\d{1,18})$", 1).cast(pl.Int64).alias("number"))
             .group_by("text")
             .agg(pl.col("number").null_count().alias("other"), pl.col("number").n_unique().alias("numbers"),
                  (pl.col("number").max() - pl.col("number").min() + 1).alias("span"))
             .collect())
    if parts["other"].sum() or not len(parts):
        return False
    numbers = int(parts["numbers"].sum())
    return numbers >= CODE_VALUES * len(parts) and numbers >= CODE_FILLED * int(parts["span"].sum())


def frame_roles(df: pl.DataFrame, target: str | None) -> list[SchemaEntry]:
    """:func:`infer_schema` for a frame in memory, from the facts the rule reads (nulls, distinct
    values of integer and text columns, text dates, min and max of integers)."""
    prof: dict[str, dict[str, Any]] = {}
    for name, dtype in df.schema.items():
        col = df[name]
        p: dict[str, Any] = {"nulls": col.null_count(), "distinct": 2}  # 2: not 'ignored' (unused by prep)
        if dtype.is_integer() or dtype == pl.String:
            p["distinct"] = col.n_unique()
        if dtype.is_integer() and len(col):
            p["min"], p["max"] = col.min(), col.max()
        if dtype == pl.String and dates.infer_format(col):
            p["date_format"] = True
        prof[name] = p
    counters = row_counters(df.lazy(), counter_candidates(dict(df.schema), prof, df.height))
    return infer_schema(dict(df.schema), prof, df.height, target, counters)


def check_categorical(columns: Collection[str], schema: dict[str, pl.DataType], target: str | None,
                      source: str) -> None:
    """Refuse a ``--categorical`` column that is not in the file, is the target, or holds values no
    category list keeps (floats, dates): one line naming it."""
    for col in columns:
        if col not in schema:
            raise UserError(f"{source}: --categorical {col!r} is not a column (columns: {', '.join(schema)})")
        if col == target:
            raise UserError(f"{source}: --categorical {col!r} is the target; a classifier's target is categories already")
        dtype = schema[col]
        if not (dtype.is_integer() or dtype in (pl.String, pl.Boolean) or isinstance(dtype, pl.Categorical | pl.Enum)):
            raise UserError(f"{source}: --categorical {col!r} is {dtype}; only whole-number or text columns are codes")


def category_columns(entries: list[SchemaEntry]) -> list[str]:
    """The columns of a stored schema the user marked categorical (role ``category``)."""
    return [e["name"] for e in entries if e.get("role") == "category"]


def as_categories(df: pl.DataFrame, entries: list[SchemaEntry]) -> pl.DataFrame:
    """``df`` with its ``category`` columns as text, so training learns each code as a category (AER
    Affairs' rating 1-5, ISLR Auto's origin 1-3) and not as a quantity; a scoring file's numbers
    meet those categories as text again (signature.category_codes)."""
    return cast_categories(df, category_columns(entries))


def cast_categories(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """``df`` with the columns ``names`` (those it has) as text: :func:`as_categories` of a schema's
    names, as a run records them for workers that have the data but not the store."""
    cols = [c for c in names if c in df.columns]
    return df.with_columns(pl.col(cols).cast(pl.String)) if cols else df


def id_columns(entries: list[SchemaEntry]) -> list[str]:
    """The columns of a stored schema whose role is ``id``."""
    return [e["name"] for e in entries if e.get("role") == "id"]
