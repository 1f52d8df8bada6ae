"""A model's input signature, and the one function that turns raw rows into model features.

Training and scoring both call :func:`encode`, so a model sees exactly the same encoding at
both ends. LightGBM aborts the whole process on Polars Categorical/Enum/String columns and
Polars' categorical codes depend on the order values were first seen in a process, so
categoricals are encoded through the category list stored here (``pl.Enum(categories)`` →
integer codes) and declared to LightGBM as ``categorical_feature``.

A signature (stored as JSON beside the model, in the registry and in deployments)::

    {
      "task": "binary" | "multiclass" | "regression",
      "target": "default",
      "classes": ["No", "Yes"],           # classifiers: label of each output column, in order
      "id_columns": ["customer_id"],      # carried into scoring output when present
      "features": [                        # the model's columns, in order
        {"name": "balance", "kind": "numeric", "source": "balance", "dtype": "Float64"},
        {"name": "student", "kind": "categorical", "source": "student", "dtype": "String",
         "categories": ["No", "Yes"]},
        {"name": "date__month", "kind": "numeric", "source": "date", "dtype": "Date",
         "transform": "month"},
        {"name": "signup__year", "kind": "numeric", "source": "signup", "dtype": "String",
         "transform": "year", "date_format": "%m/%d/%Y"},     # a text date, read as written
        {"name": "start", "kind": "numeric", "source": "start", "dtype": "Time"}  # seconds since midnight
      ]
    }
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from mlops_tui.data import dates
from mlops_tui.data.categories import category_key
from mlops_tui.errors import UserError

DATE_PARTS = ("year", "month", "day", "weekday", "hour")
TIME = str(pl.Time())  # the recorded dtype of a time-of-day column: a numeric feature in seconds (_seconds)
_LIGHTGBM_UNSAFE = re.compile(r'[\[\]{}:,"\s]')  # see Signature.model_feature_names
_ZONE_OF_DTYPE = re.compile(r"^Datetime\(.*time_zone='([^']+)'")  # str() of a zoned pl.Datetime


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # numeric | categorical
    source: str
    dtype: str
    categories: tuple[str, ...] = ()
    transform: str | None = None  # a date part, for features derived from a date column
    date_format: str | None = None  # how a text date column reads (mlops_tui.data.dates)

    @property
    def time_of_day(self) -> bool:
        """A Time column, fed to the model as seconds since midnight (:func:`_seconds`)."""
        return self.dtype == TIME

    @property
    def plain_number(self) -> bool:
        """A numeric feature read straight from its column's values: not a date part, not a time of day."""
        return self.kind == "numeric" and not self.transform and not self.time_of_day

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "source": self.source, "dtype": self.dtype}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        if self.transform:
            out["transform"] = self.transform
        if self.date_format:
            out["date_format"] = self.date_format
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Feature:
        return cls(d["name"], d["kind"], d.get("source", d["name"]), d.get("dtype", ""),
                   tuple(d.get("categories", ())), d.get("transform"), d.get("date_format"))


@dataclass(frozen=True)
class Signature:
    task: str
    target: str
    features: tuple[Feature, ...]
    classes: tuple[Any, ...] = ()
    id_columns: tuple[str, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def model_feature_names(self) -> list[str]:
        """The feature names handed to LightGBM: it refuses JSON's special characters in a name
        (``[ ] { } : , "``: 'price[usd]', 'a:b') and writes spaces as '_', so each of those becomes
        '_' and a name made equal to another gets a suffix. Only the model file sees these names;
        everything the user reads (importances, signature, scoring) uses the real ones, by position."""
        names: list[str] = []
        for f in self.features:
            name = _LIGHTGBM_UNSAFE.sub("_", f.name)
            base, n = name, 1
            while name in names:
                n += 1
                name = f"{base}_{n}"
            names.append(name)
        return names

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def boolean_columns(self) -> list[str]:
        """The columns of features learnt from a Boolean column: their true/false text (any case) reads
        as 1/0 (:func:`text_number`), as a Boolean column does."""
        return [f.source for f in self.features if f.kind == "numeric" and f.dtype == "Boolean"]

    @property
    def source_columns(self) -> list[str]:
        """The input columns a file must have to be scored, in first-use order."""
        return list(dict.fromkeys(f.source for f in self.features))

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "target": self.target, "classes": list(self.classes),
                "id_columns": list(self.id_columns), "features": [f.to_json() for f in self.features]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Signature:
        return cls(d["task"], d["target"], tuple(Feature.from_json(f) for f in d["features"]),
                   tuple(d.get("classes", ())), tuple(d.get("id_columns", ())))


def text_number(col: pl.Expr, *, boolean: bool = False) -> pl.Expr:
    """Text of a numeric feature as the model's number: "3.5" -> 3.5, else missing. For a feature
    learnt from a Boolean column (``boolean``) also true/false in any case -> 1/0, as a JSON client
    sending a CSV's rows writes them ("False"); "1"/"0" read as numbers either way."""
    raw = col.str.strip_chars()
    number = raw.cast(pl.Float64, strict=False)
    if not boolean:
        return number
    word = raw.str.to_lowercase()
    return pl.when(word == "true").then(1.0).when(word == "false").then(0.0).otherwise(number)


def _numeric(col: pl.Expr, f: Feature, dtype: pl.DataType) -> pl.Expr:
    if f.time_of_day:
        return _seconds(col, dtype).alias(f.name)
    if dtype == pl.String:
        # Numeric text ("3.5", and "true"/"false" for a Boolean feature) is coerced; anything else
        # is caught before (`check_numeric_text`, the scoring and serving checks).
        return text_number(col, boolean=f.dtype == "Boolean").alias(f.name)
    return col.cast(pl.Float64).alias(f.name)


def _seconds(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A time of day as seconds since midnight: one number keeps the order and the distances
    (08:30 < 17:45, 30 minutes apart wherever they fall), which hour/minute parts would split.
    A scoring file may carry the times as text ("08:30:00") when its reader did not parse them."""
    if dtype == pl.String:
        col = col.str.strip_chars().str.to_time(strict=False)
    return col.cast(pl.Int64).cast(pl.Float64) / 1e9  # Polars keeps a Time as nanoseconds since midnight


def zone_of(f: Feature) -> str | None:
    """The time zone a date feature's parts were read in at training: its column's zone (a zoned
    Datetime), UTC for text with zones (read as UTC, :data:`dates.ISO_UTC`), None for wall times."""
    found = _ZONE_OF_DTYPE.search(f.dtype)
    if found:
        return found.group(1)
    return "UTC" if f.date_format == dates.ISO_UTC else None


def _date_part(col: pl.Expr, part: str, dtype: pl.DataType, fmt: str | None, zone: str | None) -> pl.Expr:
    """One part of a date column. A zoned value is read in the zone the model learnt its parts in
    (``zone``, :func:`zone_of`), whatever zone it comes in: a zoned Datetime's own zone gave 08:30 in
    Berlin, its CSV export ('2024-06-01T08:30:00+02:00', read as UTC) 06:30, so the same rows scored
    from a Parquet file and from its CSV export got other hours and days. Wall times stay as written."""
    aware = isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    if dtype == pl.String:
        col = dates.parse(col, fmt)
        aware = fmt == dates.ISO_UTC
    if aware and zone is not None:
        col = col.dt.convert_time_zone(zone)
    dt = col.dt
    expr = {"year": dt.year(), "month": dt.month(), "day": dt.day(),
            "weekday": dt.weekday(), "hour": dt.hour()}[part]
    return expr.cast(pl.Float64)


@functools.lru_cache(maxsize=256)
def _keyed_categories(categories: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """(key, code) of each category that is a number or true/false (:func:`category_key`) and the
    only category of its key: a value that matches no category's text matches such one by its key
    (categories "1" and "1.0" both: only by their text)."""
    c = pl.col("c")
    raw = c.str.strip_chars()
    valued = raw.cast(pl.Float64, strict=False).is_not_null() | raw.str.to_lowercase().is_in(["true", "false"])
    frame = pl.DataFrame({"c": categories}, schema={"c": pl.String}).select(
        category_key(c).alias("key"), valued.alias("valued"), pl.int_range(pl.len()).alias("code"))
    frame = frame.filter(pl.col("key").is_unique() & pl.col("valued"))
    return frame["key"].to_list(), frame["code"].to_list()


def category_codes(values: pl.Series, f: Feature) -> pl.Series:
    """A categorical feature's values as the model's codes (Float64; null when missing or never seen
    in training): the category of the same text, else of the same value (:func:`category_key`), so
    1.0 in a file of floats is the category "1" and a Boolean True is "True". The values no text
    matched are keyed once per distinct value: scoring a column whose every text matches costs no more."""
    text = values.cast(pl.String)
    coded = text.cast(pl.Enum(list(f.categories)), strict=False).to_physical().cast(pl.Float64)
    keys, codes = _keyed_categories(f.categories)
    if not keys:
        return coded
    missed = text.filter(coded.is_null() & text.is_not_null()).unique()
    if missed.is_empty():
        return coded
    found = missed.to_frame("text").with_columns(
        category_key(pl.col("text")).replace_strict(keys, codes, default=None, return_dtype=pl.Float64).alias("code"),
    ).drop_nulls("code")
    if found.is_empty():
        return coded
    return coded.fill_null(text.replace_strict(found["text"], found["code"], default=None, return_dtype=pl.Float64))


def check_numeric_text(df: pl.DataFrame, sig: Signature) -> None:
    """Refuse text in a numeric feature, naming the column and an example value."""
    for f in sig.features:
        if f.kind != "numeric" or f.transform or f.source not in df.columns or df.schema[f.source] != pl.String:
            continue
        raw = df[f.source].str.strip_chars()
        read = (raw.str.to_time(strict=False) if f.time_of_day
                else raw.to_frame().select(text_number(pl.col(f.source), boolean=f.dtype == "Boolean")).to_series())
        bad = raw.filter(raw.is_not_null() & (raw != "") & read.is_null())
        if len(bad):
            wanted = ("times of day (HH:MM:SS)" if f.time_of_day
                      else "true/false (or 1/0)" if f.dtype == "Boolean" else "numeric")
            raise UserError(f"column {f.source!r} should be {wanted} but has text, e.g. {bad[0]!r}")


def missing_named(missing: list[str], schema: Mapping[str, Any], sig: Signature) -> list[str]:
    """Each of the ``missing`` source columns, with "(renamed to 'flc_grp'?)" when a column of
    ``schema`` (name → dtype) the model does not read is likely it renamed (`dataset validate`'s
    hint, :func:`mlops_tui.data.validation.rename_of`): survival flchain's flc.grp exported as
    flc_grp was only "missing feature column(s): flc.grp"."""
    from mlops_tui.data.validation import rename_of

    known = {*sig.source_columns, sig.target, *sig.id_columns}
    extra = {c: str(t) for c, t in schema.items() if c not in known}
    dtypes = {f.source: f.dtype for f in reversed(sig.features)}
    out = []
    for c in missing:
        found = rename_of(c, dtypes[c], extra) if extra else None
        out.append(f"{c} (renamed to {found!r}?)" if found else c)
    return out


def encode(df: pl.DataFrame, sig: Signature) -> tuple[pl.DataFrame, dict[str, int]]:
    """Raw rows → the model's Float64 feature frame, and counts of unseen categories per feature.

    Categories never seen in training become missing (LightGBM routes them like NaN).
    Raises UserError when a source column is missing.
    """
    missing = [c for c in sig.source_columns if c not in df.columns]
    if missing:
        raise UserError(f"missing feature column(s): {', '.join(missing)}")
    exprs: list[pl.Expr] = []
    unseen_exprs: list[pl.Expr] = []
    for f in sig.features:
        dtype = df.schema[f.source]
        col = pl.col(f.source)
        if f.transform:
            # A date column the model learnt as dates, written as text in this file (a CSV export):
            # read by the same text-date rule as `dataset add` and `dataset validate`.
            fmt = f.date_format or (dates.infer_format(df[f.source]) if dtype == pl.String else None)
            exprs.append(_date_part(col, f.transform, dtype, fmt, zone_of(f)).alias(f.name))
        elif f.kind == "categorical":
            coded = category_codes(df[f.source], f)
            exprs.append(pl.lit(coded).alias(f.name))
            unseen_exprs.append((col.is_not_null() & pl.lit(coded).is_null()).sum().alias(f.name))
        else:
            exprs.append(_numeric(col, f, dtype))
    features = df.select(exprs)
    unseen: dict[str, int] = {}
    if unseen_exprs:
        counts = df.select(unseen_exprs).row(0, named=True)
        unseen = {k: int(v) for k, v in counts.items() if v}
    return features, unseen


def categories_of(values: Iterable[Any]) -> tuple[str, ...]:
    """The stored category list: the distinct non-null values as text, sorted (stable across runs)."""
    return tuple(sorted({str(v) for v in values if v is not None}))
