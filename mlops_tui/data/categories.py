"""The value a category's text stands for (:func:`category_key`), so one value is one category
however a file typed it: a model's signature (``training.signature.category_codes``), `serve`'s
checks and `dataset validate` match by it when the text differs.
"""

from __future__ import annotations

import polars as pl


def category_key(text: pl.Expr) -> pl.Expr:
    """The value a category's text stands for, so the same value matches however a file typed it: a
    number as its shortest text (1, 1.0, "1.0", " 1" -> "1"; 2.50 -> "2.5"), true/false in any
    case as "true"/"false" (a Boolean column, "True" written by pandas); other text as it is.
    A file where pandas or Polars read a column of codes as floats (a missing value) or as
    Booleans then finds the categories a text column of the same values taught the model."""
    raw = text.str.strip_chars()
    whole = raw.cast(pl.Int64, strict=False)
    number = raw.cast(pl.Float64, strict=False)
    exact = number.is_finite() & (number == number.round(0)) & (number.abs() < 2.0**53)
    word = raw.str.to_lowercase()
    return (pl.when(whole.is_not_null()).then(whole.cast(pl.String))
            .when(exact).then(number.cast(pl.Int64, strict=False).cast(pl.String))
            .when(number.is_not_null()).then(number.cast(pl.String))
            .when(word.is_in(["true", "false"])).then(word)
            .otherwise(text))
