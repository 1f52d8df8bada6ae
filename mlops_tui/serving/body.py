"""The body of a ``POST /predict`` request as rows: the JSON document (:func:`parse`), then its
columns (:func:`to_columns`) and, for the checked route, a Polars frame (:func:`to_frame`).

A body that is not rows is refused here, before any model is looked at: 400 for an empty body,
malformed JSON or a key given twice in one object, 422 for JSON of another shape.
"""

from __future__ import annotations

import json
from itertools import chain, count
from operator import itemgetter
from typing import Any

import polars as pl

ROWS = "a list of records, an object of columns or one record"  # what a body of rows is
SHAPE = f"the body must be {ROWS}"


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
    names them (``checks.value_checks``); Polars reads them as the floats they are."""


_DECODER = json.JSONDecoder(parse_constant=NonFinite)  # one decoder: json.loads(body, ...) makes one per call


def parse(body: bytes) -> Any:
    """The body's JSON document; 400 if empty, not JSON or with a key twice in one object."""
    if not body.strip():
        raise Refused(400, f"the body is empty: send JSON, {ROWS}")
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
