"""Scoring one batch, and checking input columns: the seam every scoring engine shares.

Batch scoring here (:mod:`mlops_tui.serving.scoring`), on Dask workers, behind an HTTP endpoint
or with a compiled model all do the same two things, so they are here once:

* :func:`check_schema` — the columns of an input (a file's schema, a request's frame) against a
  model's signature: every problem in one list (missing features, text in numeric columns with
  an example value, unusable types), plus warnings and the CSV reading overrides.
  :func:`check_frame` applies it to an in-memory frame and raises one :class:`UserError`.
* :func:`score_batch` — raw rows in, the output table and the batch's statistics out::

      spec = BatchSpec.for_model(model, scored_at, keep=[...], drift_ref=load_reference(ws, model))
      result = score_batch(frame, spec, lightgbm_predictor(booster), seed=batch_number)
      result.table        # pyarrow Table: kept columns, prediction(s), model_name/version, scored_at
      result.stats        # BatchStats: rows, unseen categories, nulls, DriftStats — all mergeable

  ``spec`` holds everything that is the same for every batch of a job; it is plain data (picklable),
  so a worker process gets it once. The predictor is injected: any callable from the encoded
  float64 matrix (rows × signature features, NaN for missing, Fortran order) to the raw output in
  ``Booster.predict``'s convention (1-D for binary/regression, rows × classes for multiclass).
  Per-batch statistics add up with :meth:`BatchStats.merge`, wherever the batches were scored.

Why the output is built straight in Arrow: a batch's fixed costs are paid however cheap the model
is, so they must stay small next to ``predict`` of a 50-tree model (bench/score_throughput.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from mlops_tui.data import dates
from mlops_tui.errors import UserError
from mlops_tui.training.signature import Signature, encode, missing_named, text_number

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    import pyarrow as pa

    from mlops_tui.serving.drift import DriftStats
    from mlops_tui.store import ModelVersion

Predict = Callable[["np.ndarray"], "np.ndarray"]
# (has any value, first value that is not a number) of a text column, read with the given CSV
# overrides; see check_schema.
TextProbe = Callable[[str, dict[str, pl.DataType]], tuple[bool, "str | None"]]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def lightgbm_predictor(booster: lgb.Booster, threads: int | None = None) -> Predict:
    """``Booster.predict`` on every core (LightGBM releases the GIL while it predicts)."""
    n = threads or cores()

    def predict(X: np.ndarray) -> np.ndarray:
        # an array for dense input (the stubs allow a list too, for sparse contributions)
        return cast("np.ndarray", booster.predict(X, num_threads=n))

    return predict


# -- the schema check ------------------------------------------------------------------------------
@dataclass
class SchemaCheck:
    problems: list[str] = field(default_factory=list)  # any of these refuses the input
    warnings: list[str] = field(default_factory=list)
    overrides: dict[str, pl.DataType] = field(default_factory=dict)  # read these CSV columns as Float64


def check_schema(schema: dict[str, pl.DataType], sig: Signature, *, text_probe: TextProbe | None = None,
                 where: str = "", csv: bool = False) -> SchemaCheck:
    """One input's column types against ``sig``: every problem found, never just the first.

    ``text_probe(column)`` looks into a numeric feature that arrived as text (a file scan, a
    request's values); without one, such a column is only coerced. ``where`` (" in FILE") goes
    into each message; ``csv`` asks for integer features to be read as floats (an integer guess
    from a CSV's first rows would fail on a later "3.5").
    """
    out = SchemaCheck()
    missing = [c for c in sig.source_columns if c not in schema]
    if missing:
        out.problems.append(f"missing feature column(s){where}: {', '.join(missing_named(missing, schema, sig))}")
    if csv:
        out.overrides = {f.source: pl.Float64() for f in sig.features
                         if f.plain_number and f.source in schema and schema[f.source].is_integer()}
    for feat in sig.features:
        dtype = schema.get(feat.source)
        if dtype is None or feat.kind != "numeric":
            continue
        if feat.transform:
            if not (dtype.is_temporal() or dtype == pl.String):
                out.problems.append(f"column {feat.source!r}{where} should be a date/time but is {dtype}")
            continue
        if feat.time_of_day:  # text that reads as no time is scored as missing
            if dtype not in (pl.Time, pl.String, pl.Null):
                out.problems.append(f"column {feat.source!r}{where} should be a time of day but is {dtype}")
            continue
        if dtype == pl.String:
            has_values, example = text_probe(feat.source, out.overrides) if text_probe else (True, None)
            if example is not None:
                wanted = "true/false (or 1/0)" if feat.dtype == "Boolean" else "numeric"
                out.problems.append(f"column {feat.source!r}{where} should be {wanted} but has text, e.g. {example!r}")
            elif has_values and not csv:  # in a CSV every value is text: numbers that read as numbers are no news
                coerced = "true/false text read as 1/0" if feat.dtype == "Boolean" else "numeric strings coerced"
                out.warnings.append(f"column {feat.source!r}{where} arrived as text; {coerced}")
        elif not (dtype.is_numeric() or dtype in (pl.Boolean, pl.Null)):
            out.problems.append(f"column {feat.source!r}{where} should be numeric but is {dtype}")
    return out


def frame_text_probe(df: pl.DataFrame, boolean: Collection[str] = ()) -> TextProbe:
    """A :data:`TextProbe` over an in-memory frame; the ``boolean`` columns' true/false text (any case)
    reads as 1/0 (``signature.text_number``), as ``encode`` reads it."""

    def probe(column: str, _overrides: dict[str, pl.DataType]) -> tuple[bool, str | None]:
        v = df[column].str.strip_chars()
        present = v.is_not_null() & (v != "")
        read = v.to_frame().select(text_number(pl.col(column), boolean=column in boolean)).to_series()
        bad = v.filter(present & read.is_null())
        return bool(present.any()), (bad[0] if len(bad) else None)

    return probe


def check_frame(df: pl.DataFrame, sig: Signature, model_ref: str) -> list[str]:
    """Check an in-memory frame (e.g. an HTTP request's rows); returns warnings, raises one UserError."""
    found = check_schema(dict(df.schema), sig, text_probe=frame_text_probe(df, sig.boolean_columns))
    if found.problems:
        raise UserError(f"input does not match {model_ref}'s signature: " + "; ".join(found.problems))
    return found.warnings


# -- scoring one batch -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSpec:
    """What every batch of one job shares (plain data, picklable)."""

    sig: Signature
    model_name: str
    model_version: int
    scored_at: datetime
    keep: tuple[str, ...] = ()  # input columns copied into the output, in this order
    drift_ref: dict[str, Any] | None = None  # the model's drift reference; None: drift not measured
    # binary: class 1 where p >= this (`tune --threshold-for`); None: where it is the likelier (p > 0.5)
    threshold: float | None = None
    ranges: dict[str, tuple[float, float]] | None = None  # numeric source column -> (min, max) the model's data had

    @classmethod
    def for_model(cls, model: ModelVersion, scored_at: datetime, *, keep: list[str] | tuple[str, ...] = (),
                  drift_ref: dict[str, Any] | None = None,
                  ranges: dict[str, tuple[float, float]] | None = None) -> BatchSpec:
        from mlops_tui.training.metrics import model_threshold

        return cls(Signature.from_json(model.signature), model.name, model.version, scored_at, tuple(keep), drift_ref,
                   model_threshold(model.metrics), ranges)


@dataclass
class BatchStats:
    """What a batch (or, merged, a job) counted besides its output."""

    rows: int = 0
    unseen: dict[str, int] = field(default_factory=dict)  # values of categories never seen in training
    nulls: dict[str, int] = field(default_factory=dict)  # missing values per source column
    infinite: dict[str, int] = field(default_factory=dict)  # ±inf per numeric source column that has any
    not_dates: dict[str, int] = field(default_factory=dict)  # text in a date column that reads as no date
    far: dict[str, int] = field(default_factory=dict)  # values far outside the range the model's data had
    ambiguous_dates: dict[str, str] = field(default_factory=dict)  # date column -> dates.ambiguity's note
    drift: DriftStats | None = None
    drift_error: str | None = None  # counting drift failed (drift must never fail scoring)

    def merge(self, other: BatchStats) -> None:
        self.rows += other.rows
        self.drift_error = self.drift_error or other.drift_error
        for mine, theirs in ((self.unseen, other.unseen), (self.nulls, other.nulls), (self.infinite, other.infinite),
                             (self.not_dates, other.not_dates), (self.far, other.far)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        for k, note in other.ambiguous_dates.items():
            self.ambiguous_dates.setdefault(k, note)
        if other.drift is not None:
            if self.drift is None:
                self.drift = other.drift
            else:
                self.drift.merge(other.drift)


@dataclass
class ScoredBatch:
    table: pa.Table
    stats: BatchStats


def score_batch(frame: pl.DataFrame, spec: BatchSpec, predict: Predict, *, seed: int = 0) -> ScoredBatch:
    """Encode ``frame`` with the signature, predict, and build the output table and the statistics.

    ``seed`` draws this batch's drift sample keys: give each batch of a job its own (its number).
    """
    from mlops_tui.serving.drift import DriftStats

    sig = spec.sig
    features, unseen = encode(frame, sig)
    X = features.to_numpy()  # Fortran order: LightGBM takes it without a copy, drift reads columns
    raw = predict(X)
    nulls = frame.select(pl.col(sig.source_columns).null_count()).row(0, named=True)
    stats = BatchStats(frame.height, unseen, {k: int(v) for k, v in nulls.items()}, _infinite(X, sig),
                       not_dates={c: int(bad.sum()) for c, bad in not_date_rows(frame, sig).items()},
                       ambiguous_dates=ambiguous_dates(frame, sig), far=_far_outside(X, sig, spec.ranges))
    if spec.drift_ref is not None:
        try:
            stats.drift = DriftStats(spec.drift_ref, sig)
            stats.drift.add(X, raw, unseen, seed=seed)
        except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
            stats.drift, stats.drift_error = None, f"{type(exc).__name__}: {exc}"
    return ScoredBatch(output_table(frame, spec, raw), stats)


def not_date_rows(frame: pl.DataFrame, sig: Signature) -> dict[str, pl.Series]:
    """Per date column written as text, which rows hold a value that reads as no date by the rule
    ``encode`` reads it with (the model's recorded format, else the one the values share): the
    model's date parts are missing there. A job counts them (openintro email's `time` with one
    'never-seen-value', scored as missing), the checked route names the first ('zzz-unseen' was
    served without a word); only columns with such a row."""
    out: dict[str, pl.Series] = {}
    for f in {f.source: f for f in sig.features if f.transform}.values():  # the parts share one reading
        if frame.schema.get(f.source) != pl.String:
            continue
        col = frame[f.source]
        fmt = f.date_format or dates.infer_format(col)
        read = frame.select(dates.parse(pl.col(f.source), fmt)).to_series()
        bad = (col.str.strip_chars().fill_null("") != "") & read.is_null()
        if bad.any():
            out[f.source] = bad
    return out


def ambiguous_dates(frame: pl.DataFrame, sig: Signature) -> dict[str, str]:
    """Per date column written as text that the model recorded no format for (it learnt typed dates),
    :func:`dates.ambiguity`'s note when the batch's values read day first as well as month first:
    hotel bookings written 01/05/2017 (1 May) were read as 5 January without a word."""
    out: dict[str, str] = {}
    for f in {f.source: f for f in sig.features if f.transform}.values():
        if f.date_format or frame.schema.get(f.source) != pl.String:
            continue
        col = frame[f.source]
        if note := dates.ambiguity(col, dates.infer_format(col)):
            out[f.source] = note
    return out


def _infinite(X: np.ndarray, sig: Signature) -> dict[str, int]:
    """±inf per numeric feature (``X``'s columns are ``sig.features``) that has any: LightGBM scores
    them past every split, which a finite value in the data would never be; the job says so (NaN is
    a missing value, counted in nulls). NaN-ignoring max/min find the columns, in one pass each."""
    import numpy as np

    if X.size == 0:
        return {}
    odd = np.flatnonzero(np.isinf(np.fmax.reduce(X, axis=0)) | np.isinf(np.fmin.reduce(X, axis=0)))
    return {sig.features[j].source: int(np.isinf(X[:, j]).sum()) for j in odd}


def far_bounds(lo: float, hi: float) -> tuple[float, float]:
    """Where a value is far outside ``lo..hi``: beyond either end by more than the range's width
    (a tree scores any value past its last split as that split's side: age in months, 12 times the
    years learnt, is scored as the oldest age)."""
    return lo - (hi - lo), hi + (hi - lo)


def _far_outside(X: np.ndarray, sig: Signature, ranges: dict[str, tuple[float, float]] | None) -> dict[str, int]:
    """Per plain numeric feature with a known range (``X``'s columns are ``sig.features``), how many
    values lie far outside it (:func:`far_bounds`); only columns with such a value."""
    import numpy as np

    if not ranges or X.size == 0:
        return {}
    out = {}
    for j, f in enumerate(sig.features):
        if f.plain_number and f.source in ranges:
            low, high = far_bounds(*ranges[f.source])
            if n := int(np.count_nonzero((X[:, j] < low) | (X[:, j] > high))):
                out[f.source] = n
    return out


def output_table(frame: pl.DataFrame, spec: BatchSpec, raw: np.ndarray) -> pa.Table:
    """Kept columns, then ``prediction`` (+ ``proba_<class>`` for classifiers), then provenance.

    Arrow types are those of Polars' oldest compat level (large_string), so every batch of every
    job writes the same file schema.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = frame.height
    sig = spec.sig
    names: list[str] = list(spec.keep)
    arrays: list[Any] = []
    if spec.keep:
        kept = frame.select(spec.keep).to_arrow(compat_level=pl.CompatLevel.oldest())
        arrays += [kept.column(i) for i in range(kept.num_columns)]
    if sig.task == "regression":
        names.append("prediction")
        arrays.append(pa.array(np.asarray(raw, dtype=np.float64)))
    else:
        labels = pl.Series(list(sig.classes)).to_arrow(compat_level=pl.CompatLevel.oldest())
        if sig.task == "multiclass":
            # A multiclass model's prediction of 0 rows comes back from LightGBM as shape (0,).
            proba = raw.reshape(n, len(sig.classes))
            best, columns = proba.argmax(axis=1), [np.ascontiguousarray(proba[:, i]) for i in range(proba.shape[1])]
        else:  # class 1 where it is the more likely, as argmax over (1 - p, p) picks (no n x 2 copy), or past the
            p = np.asarray(raw, dtype=np.float64)  # model's tuned threshold
            columns = [1.0 - p, p]
            best = (columns[1] > columns[0] if spec.threshold is None else p >= spec.threshold).view(np.int8)
        names.append("prediction")
        arrays.append(pc.take(labels, pa.array(best)))
        names += [f"proba_{c}" for c in sig.classes]
        arrays += [pa.array(c) for c in columns]
    names += ["model_name", "model_version", "scored_at"]
    arrays += [pa.repeat(pa.scalar(spec.model_name, pa.large_string()), n),
               pa.repeat(pa.scalar(spec.model_version, pa.int32()), n),
               pa.repeat(pa.scalar(spec.scored_at, pa.timestamp("us", tz="UTC")), n)]
    return pa.Table.from_arrays(arrays, names=names)
