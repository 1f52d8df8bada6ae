"""One `/predict` request: its rows (``body``), checked as `score` checks a file (``checks``) unless
they are clean, predicted, answered.

Two routes through here, one set of rules:

* **checked** (``checks.check_request`` + ``batch.score_batch``): the rows become a Polars frame and go
  through the very code `score` runs per batch — ``batch.check_schema`` (every problem in one 422),
  ``signature.encode``, the output table and the batch statistics (drift counters).
* **clean** (:func:`clean_records`, :func:`clean_columns`): a request whose every feature column is
  present, whose numeric features hold only JSON numbers or null and whose categorical features
  hold only known categories or null, with no other columns than ids and the target, has nothing
  to check and nothing ``encode`` could do but copy numbers and look up category codes; that is
  done straight into the float matrix, from records as a bare endpoint would (a test holds it
  equal to ``encode`` on such rows). Anything else takes the checked route. Why: a Polars frame
  costs ~0.1 ms per operation whatever its size, so a 1-row request spent ~3.5 ms in ~30
  operations where predict takes 0.1 ms (bench/serve_latency.py); the output table and drift
  counters of clean requests are built by the monitor thread when their window closes
  (``windows.Windows``), off the request path.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np
import polars as pl

from mlops_tui.serving.batch import score_batch
from mlops_tui.serving.body import parse, to_columns, to_frame
from mlops_tui.serving.checks import check_request
from mlops_tui.serving.io import id_columns, unused_columns
from mlops_tui.serving.windows import Raw, Scored

if TYPE_CHECKING:
    from mlops_tui.serving.online import Online, Served

INLINE_BYTES = 32 << 10  # smaller bodies are scored on the event loop: a thread hop costs more than they do
NUMBERS = frozenset({int, float, type(None)})  # what JSON gives a clean numeric column (bool is not int here)
ECHOED = frozenset({int, str, type(None)})  # id values that go back in an answer with no look at them


class Answer(TypedDict):
    """The JSON body of an answered ``POST /predict`` (README, Serving)."""

    deployment: str
    model: str
    version: int
    request_id: str
    predictions: list[Any]  # class labels or values, one per row
    probabilities: NotRequired[list[dict[str, float]]]  # classifiers: per row, class name → probability
    ids: NotRequired[dict[str, list[Any]]]  # the request's id (and --keep) columns, as sent
    warnings: NotRequired[list[str]]  # --lenient: what `score` would have warned about


def columns_of(names: tuple[str, ...], served: Served) -> tuple[list[str], bool]:
    """(the id columns among ``names``, whether they are exactly features + ids + target), cached
    per model: the id-like test is a regular expression per column, worth doing once."""
    found = served.shapes.get(names)
    if found is None:
        sig = served.sig
        ids = id_columns(list(names), set(names), sig)
        ids += [c for c in served.keep if c in names and c not in ids]  # the deployment's --keep columns
        exact = all(c in names for c in sig.source_columns) and not unused_columns(list(names), sig,
                                                                                   [*ids, *served.known])
        found = (ids, exact and not any(f.transform or f.time_of_day for f in sig.features))
        if len(served.shapes) < 256:
            served.shapes[names] = found
    return found


Clean = tuple["np.ndarray", dict[str, list[Any]]]  # the feature matrix and the id columns of clean rows


def clean_records(records: list[Any], served: Served) -> Clean | None:
    """:data:`Clean` records, or None. The matrix comes straight from the records' values, as a
    bare endpoint builds it: no columns between."""
    first = records[0] if records else None
    if type(first) is not dict:
        return None
    ids, clean = columns_of(tuple(first), served)
    if not clean:
        return None
    try:  # every record has exactly the first one's keys (a record that is not an object: TypeError)
        if len(records) > 1 and not all(map(first.keys().__eq__, map(dict.keys, records))):
            return None
    except TypeError:
        return None
    rows = list(map(served.row_of, records))
    if served.codes:  # category codes are looked up per column
        X = matrix_of(list(zip(*rows, strict=True)), served)
    else:
        X = float_matrix(rows, chain.from_iterable(rows))
    return _clean(X, {c: [r[c] for r in records] for c in ids})


def clean_columns(columns: dict[str, list[Any]], served: Served) -> Clean | None:
    """:data:`Clean` columns, or None."""
    ids, clean = columns_of(tuple(columns), served)
    X = matrix_of([columns[source] for source in served.inputs], served) if clean else None
    return _clean(X, {c: columns[c] for c in ids})


def _clean(X: np.ndarray | None, ids: dict[str, list[Any]]) -> Clean | None:
    """The clean rows, unless an id value cannot go back in the answer as it came."""
    if X is None or not all(map(_echoable, ids.values())):
        return None
    return X, ids


def _echoable(values: list[Any]) -> bool:
    """No NaN or ±Infinity among an id column's values: JSON cannot carry them back."""
    return ECHOED.issuperset(map(type, values)) or all(math.isfinite(v) for v in values if isinstance(v, float))


def matrix_of(cols: list[Any], served: Served) -> np.ndarray | None:
    """The matrix of the feature columns (in the model's order) if every value is clean, else None."""
    for j, codes in served.codes:
        try:  # a value that is not a known category's text (unseen, a number, a bool) is a KeyError
            cols[j] = [None if v is None else codes[v] for v in cols[j]]
        except (KeyError, TypeError):
            return None
    X = float_matrix(cols, chain.from_iterable(cols))
    return None if X is None else X.T  # rows x features, column-major like encode's


def float_matrix(values: Any, flat: Iterable[Any]) -> np.ndarray | None:
    """``values`` as float64 (None → NaN) if ``flat``, the same values in any order, are all JSON
    numbers or null; else None (text or booleans in a numeric column, an integer past float64, a
    number past it like 1e400, read as Infinity: the checked route says what they are)."""
    if not NUMBERS.issuperset(map(type, flat)):
        return None
    try:
        X = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    return None if np.isinf(X).any() else X


def head(online: Online, served: Served, request_id: str, predictions: list[Any]) -> Answer:
    """An answer with its predictions, before the keys only some answers have."""
    return Answer(deployment=online.settings.deployment, model=served.model.name, version=served.model.version,
                  request_id=request_id, predictions=predictions)


def answer_of(online: Online, served: Served, request_id: str, raw: np.ndarray) -> Answer:
    """The answer to clean rows from the model's raw output: ``predictions`` (class labels or
    values) and, for classifiers, ``probabilities`` per row."""
    values = raw.tolist()
    if served.sig.task == "regression":
        return head(online, served, request_id, values)
    classes, names = served.sig.classes, served.class_names
    if raw.ndim == 1:  # binary: P(classes[1]); in plain Python, as numpy's per-call cost is most of a small request
        no, yes = classes
        n0, n1 = names
        cut = served.spec.threshold  # the model's tuned threshold (None: the likelier class)
        labels = [yes if p > 1.0 - p else no for p in values] if cut is None else [yes if p >= cut else no for p in values]
        answer = head(online, served, request_id, labels)
        answer["probabilities"] = [{n0: 1.0 - p, n1: p} for p in values]
    else:
        answer = head(online, served, request_id, [classes[i] for i in raw.argmax(axis=1).tolist()])
        answer["probabilities"] = [dict(zip(names, row, strict=True)) for row in values]
    return answer


def score_request(online: Online, served: Served, body: bytes, request_id: str) -> Answer:
    """Check, encode and predict one request's rows; the answer's body. What monitoring needs
    (output rows, drift counters) is handed to the monitor thread."""
    doc = parse(body)
    clean = clean_records(doc, served) if type(doc) is list else None
    if clean is None:
        columns = to_columns(doc)
        clean = clean_columns(columns, served)
        if clean is None:
            return score_checked(online, served, columns, request_id)
    X, ids = clean
    raw = served.predict(X)
    online.hand_over(Raw(served, request_id, len(X), X.tobytes(), raw.astype(np.float64, copy=False).tobytes(), ids))
    answer = answer_of(online, served, request_id, raw)
    if ids:
        answer["ids"] = ids
    return answer


def score_checked(online: Online, served: Served, columns: dict[str, list[Any]], request_id: str) -> Answer:
    """The checked route: the rows as a frame through ``score``'s own code."""
    ids = columns_of(tuple(columns), served)[0]
    df = to_frame(columns)
    warnings = check_request(df, columns, served.sig, served.ref, lenient=online.settings.lenient,
                             known=served.known, ids=ids)
    frame = df.with_columns(pl.lit(request_id).alias("request_id"), pl.int_range(df.height).alias("row"))
    spec = dataclasses.replace(served.spec, scored_at=datetime.now(UTC), keep=("request_id", "row", *ids))
    online.counters.seed += 1
    scored = score_batch(frame, spec, served.predict, seed=online.counters.seed)
    online.hand_over(Scored(served, scored.table, scored.stats))
    table = scored.table
    answer = head(online, served, request_id, table.column("prediction").to_pylist())
    if served.sig.task != "regression":
        cols = [table.column(f"proba_{c}").to_pylist() for c in served.sig.classes]
        answer["probabilities"] = [dict(zip(served.class_names, row, strict=True)) for row in zip(*cols, strict=True)]
    if ids:
        answer["ids"] = {c: columns[c] for c in ids}
    if warnings:
        answer["warnings"] = warnings
    return answer
