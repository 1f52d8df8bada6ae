"""One `/predict` request: parse the JSON, check it as `score` checks a file, predict, answer.

Two routes through here, one set of rules:

* **checked** (:func:`check_request` + ``batch.score_batch``): the rows become a Polars frame and go
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
  (``online.Online``), off the request path.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import chain, count
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np
import polars as pl

from mlops_tui.serving.batch import TextProbe, check_schema, frame_text_probe, score_batch
from mlops_tui.serving.io import id_columns, unused_columns
from mlops_tui.serving.online import Raw, Scored

if TYPE_CHECKING:
    from mlops_tui.serving.online import Online, Served
    from mlops_tui.training.signature import Signature

INLINE_BYTES = 32 << 10  # smaller bodies are scored on the event loop: a thread hop costs more than they do
SHAPE = "the body must be a list of records, an object of columns or one record"
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


class Refused(Exception):
    """A request answered with a 4xx: ``status`` and the JSON ``body`` (``error`` + ``problems``)."""

    def __init__(self, status: int, error: str, problems: list[str] | None = None, reason: str = "") -> None:
        super().__init__(error)
        self.status, self.reason = status, reason or {400: "malformed", 413: "too_large", 415: "content_type"}.get(
            status, "schema")
        self.body: dict[str, Any] = {"error": error}
        if problems is not None:
            self.body["problems"] = problems


class NonFinite(float):
    """A ``NaN``, ``Infinity`` or ``-Infinity`` token of the body: Python's json reads them, though
    JSON has no such numbers. Their own type keeps them off the clean route, so the checked route
    names them (:func:`value_checks`); Polars reads them as the floats they are."""


_DECODER = json.JSONDecoder(parse_constant=NonFinite)  # one decoder: json.loads(body, ...) makes one per call


def parse(body: bytes) -> Any:
    """The body's JSON document; 400 if empty, not JSON or with a key twice in one object."""
    if not body.strip():
        raise Refused(400, f"the body is empty: send JSON, {SHAPE[len('the body must be '):]}")
    try:
        text = body.decode()
        doc = _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"malformed JSON: {exc}") from exc
    if body.count(b'":') != _keys(doc):
        _refuse_duplicate_keys(text, records=type(doc) is list)
    return doc


def _keys(doc: Any) -> int:
    """How many keys the body's records (or its one object) hold: what ``"...":`` counts in a body
    whose keys are all different. json keeps the last of a key given twice in silence; a hook on
    every object would find it, but doubles the parse of a big body (10,000 records: 21 -> 31-44
    ms), so the cheap count decides whether to look (a key with a space before its colon, a '":'
    inside a text value or nested objects make them differ too: then the look finds nothing)."""
    if type(doc) is dict:
        return len(doc)
    try:
        return sum(map(len, doc)) if type(doc) is list else 0
    except TypeError:  # a record that is a number: let the look decide
        return -1


def _refuse_duplicate_keys(text: str, *, records: bool) -> None:
    """Parse again, checking each object's keys; a Refused(400) naming the first key given twice."""
    objects = count()

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        n, keys = next(objects), set()
        for key, _ in pairs:
            if key in keys:
                where = f"record {n}" if records else "the body's object"
                raise Refused(400, f"key {key!r} appears twice in {where} (a JSON reader keeps only one of "
                                   "them): send each key once")
            keys.add(key)
        return dict(pairs)

    json.loads(text, object_pairs_hook=once, parse_constant=NonFinite)


def to_columns(doc: Any) -> dict[str, list[Any]]:
    """JSON records, columns or one record → {column: values}, every column as long as the others."""
    if isinstance(doc, list):
        if doc and set(map(type, doc)) != {dict}:
            bad = [i for i, r in enumerate(doc) if not isinstance(r, dict)]
            raise Refused(422, SHAPE, [f"record {i} is not a JSON object" for i in bad[:10]])
        columns = transpose(doc, list(dict.fromkeys(chain.from_iterable(doc))))
    elif isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if lists and len(lists) != len(doc):
            raise Refused(422, SHAPE, [f"column {k!r} is a single value beside lists"
                                       for k, v in doc.items() if not isinstance(v, list)])
        columns = doc if lists else {k: [v] for k, v in doc.items()}
        if len({len(v) for v in columns.values()}) > 1:
            raise Refused(422, SHAPE, [f"columns have different lengths: {', '.join(f'{k}={len(v)}' for k, v in columns.items())}"])
    else:
        raise Refused(422, SHAPE, [f"got a JSON {type(doc).__name__}"])
    if not columns or not next(iter(columns.values())):
        raise Refused(422, "no rows to score", ["the body holds no rows"])
    return columns


def transpose(records: list[dict[str, Any]], names: list[str]) -> dict[str, list[Any]]:
    """Records → {column: values}; a column some records lack is null there."""
    if len(names) > 1:
        try:  # every record has every column (the usual case): transposed by zip, in C
            return dict(zip(names, map(list, zip(*map(itemgetter(*names), records), strict=True)), strict=True))
        except KeyError:
            pass
    return {n: [r.get(n) for r in records] for n in names}


def to_frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
    """One column per field, typed the way Polars reads JSON (numbers, text, booleans, null; mixed
    numbers and text become text, which the schema check then names)."""
    series, problems = [], []
    for name, values in columns.items():
        try:
            series.append(pl.Series(name, values, strict=False))
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
            problems.append(f"column {name!r} cannot be read: {str(exc).splitlines()[0]}")
    if problems:
        raise Refused(422, "the rows cannot be read", problems)
    return pl.DataFrame(series)


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
    found = check_schema(dict(df.schema), sig, text_probe=located.text_probe())
    problems, warnings = [located.text_problem(p) for p in found.problems], found.warnings
    odd_problems, odd_warnings = value_checks(located, sig)
    problems += odd_problems
    warnings += odd_warnings
    for feat in sig.features:
        if feat.kind != "categorical" or feat.source not in df.columns:
            continue
        dtype = df.schema[feat.source]
        if dtype.is_nested():
            problems.append(f"column {feat.source!r} should be text or numbers but is {dtype}")
            continue
        text = df[feat.source].cast(pl.String)
        unseen = (text.is_not_null() & ~text.is_in(list(feat.categories))).arg_true()
        if len(unseen):
            warnings.append(f"column {feat.source!r} has value(s) never seen in training, e.g. "
                            f"{located.value(feat.source, int(unseen[0]))}: scored as missing")
    unused = unused_columns(df.columns, sig, [*id_columns(df.columns, set(df.columns), sig), *known])
    if unused:
        warnings.append(unused)
    if not lenient:
        problems, warnings = problems + [_refused(w) for w in warnings], []
    if problems:
        raise Refused(422, f"input does not match {model_ref}'s signature", problems)
    return warnings


def value_checks(located: Locator, sig: Signature) -> tuple[list[str], list[str]]:
    """(problems, warnings) of values JSON carries that a file's typed column cannot: true/false in
    a numeric feature and NaN/±Infinity (``NaN`` tokens, or a number past float64 like 1e400).

    `score` reads a file's Boolean column as 1/0 and scores NaN as missing, ±Infinity beyond every
    split, without a word; a CSV's "true" among numbers it refuses as text. Here such values are
    warnings, so a strict service refuses them (with the fix: send null for a missing value) and a
    --lenient one scores them as `score` does and says so. Booleans are no surprise in a feature
    trained on a Boolean column. NaN/±Infinity in an id column are refused either way: ids go
    back in the answer, which JSON cannot carry them in."""
    problems: list[str] = []
    warnings: list[str] = []
    columns = located.columns
    for feat in sig.features:
        if feat.kind != "numeric" or feat.transform or feat.time_of_day or feat.source not in columns:
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
        shown = json.dumps(v) if type(v) is bool or isinstance(v, float) and not math.isfinite(v) else repr(v)
        return f"{shown} ({self.record(i, column)})"

    def non_finite(self, column: str) -> int | None:
        """The record of the column's first NaN or ±Infinity, if any."""
        s = self.df[column]
        if not s.dtype.is_float():
            return None
        bad = (s.is_nan() | s.is_infinite()).arg_true()
        return int(bad[0]) if len(bad) else None

    def text_probe(self) -> TextProbe:
        """``batch.frame_text_probe``, remembering the record of each example it gives."""
        probe = frame_text_probe(self.df)

        def located(column: str, overrides: dict[str, pl.DataType]) -> tuple[bool, str | None]:
            has_values, example = probe(column, overrides)
            if example is not None:
                self.examples[column] = int((self.df[column].str.strip_chars() == example).arg_true()[0])
            return has_values, example

        return located

    def text_problem(self, problem: str) -> str:
        """``check_schema``'s "column 'x' should be numeric but has text, e.g. '?'" with its record."""
        for column, i in self.examples.items():
            if problem.startswith(f"column {column!r} should be numeric but has text, e.g. "):
                return f"{problem} ({self.record(i)})"
        return problem


# What `score` does with a warning's values, and how a strict service says it refused them instead
# (nothing was scored, so "scored as missing" would be untrue).
_STRICT_WORDING = ((": scored as missing", ": refused (serve --lenient scores such values as missing)"),
                   (": read as 1/0", ": refused (serve --lenient reads true as 1, false as 0)"),
                   (": scored as `score` scores them (NaN as missing)",
                    ": refused (send null for a missing value; serve --lenient scores them as `score` does)"),
                   ("; numeric strings coerced", "; refused (serve --lenient coerces numeric strings)"),
                   (" were ignored: ", " are refused (serve --lenient ignores them): "))


def _refused(warning: str) -> str:
    for lenient, strict in _STRICT_WORDING:
        if lenient in warning:
            return warning.replace(lenient, strict)
    return warning


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
    """The clean rows, unless an id value cannot go back in the answer as it came (NaN, ±Infinity)."""
    if X is None or not all(ECHOED.issuperset(map(type, v)) or all(
            math.isfinite(x) for x in v if isinstance(x, float)) for v in ids.values()):
        return None
    return X, ids


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
        answer = head(online, served, request_id, [yes if p > 1.0 - p else no for p in values])
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
