"""The checked route's look at a request's rows: every problem `score` would find in a file with
the same values, plus what only JSON can carry (true/false in a numeric feature, NaN/Infinity),
each naming the record it is in (:class:`Locator`). A strict service refuses what `score` would
only warn about; --lenient answers with those warnings.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.serving.batch import check_schema, frame_text_probe, not_date_rows
from mlops_tui.serving.body import Refused
from mlops_tui.serving.io import id_columns, unused_columns
from mlops_tui.training.signature import category_codes

if TYPE_CHECKING:
    from mlops_tui.serving.batch import TextProbe
    from mlops_tui.training.signature import Signature


def check_request(df: pl.DataFrame, columns: dict[str, list[Any]], sig: Signature, model_ref: str, *,
                  lenient: bool, known: tuple[str, ...] = (), ids: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The request's columns by the rules `score` applies to a file (``batch.check_schema``, the
    unused-columns note of ``io.plan``), plus what ``encode`` would quietly turn into missing values
    (categories never seen in training, with an example); every problem in one Refused(422).
    What `score` only warns about is refused too unless ``lenient``, except ``known`` columns (the
    training data's: not features, yet no surprise); returns the warnings left. ``columns`` are the
    request's values as JSON gave them (``df`` is made of them). A problem with a
    value names its record (and the value of the first of ``ids``, the request's id columns): in a
    batch of 10,000 records "e.g. '?'" alone leaves the client searching."""
    located = Locator(df, columns, ids)
    # true/false text in a Boolean feature ("False", as a CSV's rows sent as JSON) is read as 1/0, as
    # `score` reads it, with a warning: --lenient answers with it, a strict service refuses it as it
    # refuses any number sent as text.
    found = check_schema(dict(df.schema), sig, text_probe=located.text_probe(sig.boolean_columns))
    problems, warnings = [located.text_problem(p) for p in found.problems], found.warnings
    more_problems, more_warnings = value_checks(located, sig)
    problems, warnings = problems + more_problems, warnings + more_warnings
    for feat in sig.features:
        if feat.kind != "categorical" or feat.source not in df.columns:
            continue
        dtype = df.schema[feat.source]
        if dtype.is_nested():
            problems.append(f"column {feat.source!r} should be text or numbers but is {dtype}")
            continue
        values = df[feat.source]  # unseen: no category of the same text or value (signature.category_codes)
        unseen = (values.is_not_null() & category_codes(values, feat).is_null()).arg_true()
        if len(unseen):
            warnings.append(f"column {feat.source!r} has value(s) never seen in training, e.g. "
                            f"{located.value(feat.source, int(unseen[0]))}: scored as missing")
    warnings += _not_dates(df, sig, located)
    unused = unused_columns(df.columns, sig, [*id_columns(df.columns, set(df.columns), sig), *known])
    if unused:
        warnings.append(unused)
    if not lenient:
        problems, warnings = problems + [_refused(w) for w in warnings], []
    if problems:
        raise Refused(422, f"input does not match {model_ref}'s signature", problems)
    return warnings


def _not_dates(df: pl.DataFrame, sig: Signature, located: Locator) -> list[str]:
    """A date column's text values that read as no date (``batch.not_date_rows``, what `score` counts),
    with the first of them and its record."""
    return [f"column {c!r} has value(s) that are not dates, e.g. {located.value(c, int(bad.arg_true()[0]))}: "
            "scored as missing" for c, bad in not_date_rows(df, sig).items()]


def value_checks(located: Locator, sig: Signature) -> tuple[list[str], list[str]]:
    """(problems, warnings) of values JSON carries that a file's typed column cannot: true/false in
    a numeric feature and NaN/±Infinity (``NaN`` tokens, or a number past float64 like 1e400).

    `score` reads a file's Boolean column as 1/0 and scores NaN as missing, ±Infinity beyond every
    split, without a word; a CSV's "true" among numbers it refuses as text. Here such values are
    warnings, so a strict service refuses them (with the fix: send null for a missing value) and a
    --lenient one scores them as `score` does and says so. Booleans are no surprise in a feature
    trained on a Boolean column. NaN/±Infinity in an id column are refused either way: ids go
    back in the answer, and JSON cannot carry NaN or Infinity."""
    problems: list[str] = []
    warnings: list[str] = []
    columns = located.columns
    for feat in sig.features:
        if not feat.plain_number or feat.source not in columns:
            continue
        values = columns[feat.source]
        if feat.dtype != "Boolean" and bool in set(map(type, values)):
            first = next(i for i, v in enumerate(values) if type(v) is bool)
            warnings.append(f"column {feat.source!r} should be numeric but has true/false, e.g. "
                            f"{located.value(feat.source, first)}: read as 1/0")
        odd = located.non_finite(feat.source)
        if odd is not None:
            warnings.append(f"column {feat.source!r} has non-finite number(s), e.g. {located.value(feat.source, odd)}: "
                            "scored as `score` scores them (NaN as missing)")
    for c in located.ids:
        odd = located.non_finite(c)
        if odd is not None:
            problems.append(f"id column {c!r} has non-finite number(s), e.g. {located.value(c, odd)}: ids are sent "
                            "back in the answer, and JSON has no NaN or Infinity")
    return problems, warnings


class Locator:
    """Where a request's values are: "'?' (record 5000, row_id 5001)" for a value of a column."""

    def __init__(self, df: pl.DataFrame, columns: dict[str, list[Any]], ids: list[str] | tuple[str, ...]) -> None:
        self.df, self.columns = df, columns
        self.ids = [c for c in ids if c in columns]
        self.id = self.ids[0] if self.ids else None
        self.examples: dict[str, int] = {}  # numeric column with text → the record of its example

    def record(self, i: int, column: str = "") -> str:
        if self.id is None or self.id == column:
            return f"record {i}"
        return f"record {i}, {self.id} {self.columns[self.id][i]!r}"

    def value(self, column: str, i: int) -> str:
        """The value as JSON wrote it (true, NaN, 'text') and its record."""
        v = self.columns[column][i]
        shown = json.dumps(v) if type(v) is bool or (isinstance(v, float) and not math.isfinite(v)) else repr(v)
        return f"{shown} ({self.record(i, column)})"

    def non_finite(self, column: str) -> int | None:
        """The record of the column's first NaN or ±Infinity, if any."""
        s = self.df[column]
        if not s.dtype.is_float():
            return None
        bad = (s.is_nan() | s.is_infinite()).arg_true()
        return int(bad[0]) if len(bad) else None

    def text_probe(self, boolean: list[str]) -> TextProbe:
        """``batch.frame_text_probe``, remembering the record of each example it gives."""
        probe = frame_text_probe(self.df, boolean)

        def located(column: str, overrides: dict[str, pl.DataType]) -> tuple[bool, str | None]:
            has_values, example = probe(column, overrides)
            if example is not None:
                self.examples[column] = int((self.df[column].str.strip_chars() == example).arg_true()[0])
            return has_values, example

        return located

    def text_problem(self, problem: str) -> str:
        """``check_schema``'s "column 'x' should be numeric (or true/false) but has text, e.g. '?'" with
        its record."""
        for column, i in self.examples.items():
            if problem.startswith(f"column {column!r} should be ") and " but has text, e.g. " in problem:
                return f"{problem} ({self.record(i)})"
        return problem


# What `score` does with a warning's values, and how a strict service says it refused them instead
# (nothing was scored, so "scored as missing" would be untrue).
_STRICT_WORDING = ((": scored as missing", ": refused (serve --lenient scores such values as missing)"),
                   (": read as 1/0", ": refused (serve --lenient reads true as 1, false as 0)"),
                   (": scored as `score` scores them (NaN as missing)",
                    ": refused (send null for a missing value; serve --lenient scores them as `score` does)"),
                   ("; numeric strings coerced", "; refused (serve --lenient coerces numeric strings)"),
                   ("; true/false text read as 1/0", "; refused (serve --lenient reads true/false text as 1/0)"),
                   (" were ignored: ", " are refused (serve --lenient ignores them): "))


def _refused(warning: str) -> str:
    for lenient, strict in _STRICT_WORDING:
        if lenient in warning:
            return warning.replace(lenient, strict)
    return warning
