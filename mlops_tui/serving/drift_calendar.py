"""Calendar parts of a date column in drift: compared over the part of the calendar a job covers.

A date column becomes year, month, day, weekday and hour features (:mod:`mlops_tui.training.prep`).
A scoring job covers a window of time, usually after the training rows: its year lies past
training's by construction, and a window shorter than a year passes through only some months (one
shorter than a week, some weekdays). Compared with training's whole calendar those parts alerted on
every later job (seattlepets' license_issue_date: month PSI 6.8 on a later file), so users learnt to
ignore monitor's alerts. Each part is compared instead with the training rows whose part takes a
value the job's window passes through: a later year moves (the result's note says so) but does not
alert, while a month of rows that all fall on Sundays, or a year of rows crowded into January, still
does (the window is the job's first and last timestamp: a window of a month passes through every
weekday).

The window is built from each row's parts, so a source needs its year part (a model trained within
one calendar year has none: its parts are compared as before). Parts the model lacks count as their
first value (a monthly series has no day part: its rows sit on the 1st), which only widens the
window, i.e. restricts less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_tui.training.signature import Signature

_PARTS = ("year", "month", "day", "weekday", "hour")
_CYCLE = {"month": 12, "day": 31, "weekday": 7, "hour": 24}  # a window this long passes through all values


class CalendarWindow:
    """Where each date source's parts sit in the encoded matrix, and the first and last timestamp
    (hours since 1970) of the rows seen. Mergeable like the other drift counters."""

    def __init__(self, sig: Signature) -> None:
        parts: dict[str, dict[str, int]] = {}
        for i, f in enumerate(sig.features):
            if f.transform in _PARTS and f.kind == "numeric":
                parts.setdefault(f.source, {})[f.transform] = i
        self.parts = {s: p for s, p in parts.items() if "year" in p}
        self.source_of = {sig.features[i].name: s for s, p in self.parts.items() for i in p.values()}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def add(self, X: np.ndarray) -> None:
        for source, parts in self.parts.items():
            # The first and last row by one sortable number (YYYYMMDDHH, exact in a float): a pass
            # per part, where hours since 1970 for every row cost 0.24 s per million rows.
            key = X[:, parts["year"]] * 1e6
            for part, scale, default in (("month", 1e4, 1.0), ("day", 1e2, 1.0), ("hour", 1.0, 0.0)):
                key += X[:, parts[part]] * scale if part in parts else default * scale
            if not np.isnan(key).all():  # a row missing a part is left out
                first, last = _hours(np.array([np.nanmin(key), np.nanmax(key)]))
                self._widen(source, first, last)

    def merge(self, other: CalendarWindow) -> None:
        for source, first in other.first.items():
            self._widen(source, first, other.last[source])

    def _widen(self, source: str, first: float, last: float) -> None:
        self.first[source] = min(self.first.get(source, math.inf), first)
        self.last[source] = max(self.last.get(source, -math.inf), last)

    def covered(self, feature: str, part: str) -> tuple[np.ndarray, str] | None:
        """(the values ``part`` takes in the job's window, the window as text), or None when the
        window passes through all of them, or is unknown."""
        source = self.source_of.get(feature)
        if source is None or source not in self.first:
            return None
        t0 = np.datetime64(int(self.first[source]), "h")
        t1 = np.datetime64(int(self.last[source]), "h")
        span = f"{_text(t0)} to {_text(t1)}"
        m0, m1 = (t.astype("datetime64[M]").astype(np.int64) for t in (t0, t1))
        d0, d1 = (t.astype("datetime64[D]").astype(np.int64) for t in (t0, t1))
        h0, h1 = int(self.first[source]), int(self.last[source])
        if part == "year":
            return np.arange(m0 // 12 + 1970, m1 // 12 + 1971, dtype=float), span
        steps = {"month": m1 - m0, "day": d1 - d0, "weekday": d1 - d0, "hour": h1 - h0}[part]
        if steps + 1 >= _CYCLE[part]:
            return None
        if part == "month":
            values = np.arange(m0, m1 + 1) % 12 + 1
        elif part == "hour":
            values = np.arange(h0, h1 + 1) % 24
        else:
            days = np.arange(d0, d1 + 1).astype("datetime64[D]")
            values = (_day_of_month(days) if part == "day"
                      else (np.arange(d0, d1 + 1) + 3) % 7 + 1)  # 1970-01-01 was a Thursday; Monday = 1
        return np.unique(values).astype(float), span


def _hours(keys: np.ndarray) -> tuple[float, float]:
    """Hours since 1970 of two YYYYMMDDHH keys."""
    year, month, day, hour = (np.asarray(v, dtype=np.int64) for v in (keys // 1e6, keys // 1e4 % 100,
                                                                      keys // 1e2 % 100, keys % 100))
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    hours = (months.astype("datetime64[D]").astype(np.int64) + day - 1) * 24 + hour
    return float(hours[0]), float(hours[1])


def _day_of_month(days: np.ndarray) -> np.ndarray:
    first: np.ndarray = days.astype("datetime64[M]").astype("datetime64[D]")
    return np.asarray((days - first).astype(np.int64) + 1)


def _text(t: np.datetime64) -> str:
    text = str(t.astype("datetime64[m]")).replace("T", " ")
    return text.removesuffix(" 00:00")


@dataclass(frozen=True)
class Narrowed:
    """A calendar part's statistics restricted to the job's window (see the module docstring)."""

    ref_counts: list[int]
    cur_counts: np.ndarray
    ref_sample: np.ndarray
    sample: np.ndarray
    note: str


def narrow(ref: dict[str, Any], counts: np.ndarray, sample: np.ndarray, part: str,
           window: tuple[np.ndarray, str]) -> Narrowed | None:
    """The reference's and the job's bin counts and KS samples where the job's window falls, or None
    when it falls over all of the reference's bins.

    A year past the training rows' is read by the model as their last year (a tree's splits lie
    within the values it was fitted on), so the job's years are taken that way before comparing:
    a later job then compares as the training rows' last year, and its note says time moved."""
    values, span = window
    ref_sample = np.asarray([math.nan if v is None else v for v in ref["sample"]], dtype=float)
    known = ref_sample[~np.isnan(ref_sample)]
    note = ""
    if part == "year" and known.size:
        lo, hi = float(known.min()), float(known.max())
        if values.min() > hi:
            note = (f"time moved: the job's rows ({span}) are later than the training rows (to {hi:.0f}); "
                    f"the model reads their year as {hi:.0f}")
        sample = np.clip(sample, lo, hi)
        values = np.unique(np.clip(values, lo, hi))
    edges = np.asarray(ref["edges"], dtype=float)
    keep = np.zeros(len(edges) + 1, dtype=bool)
    keep[np.searchsorted(edges, values, side="left")] = True  # bins are (e_i-1, e_i]
    if keep.all():
        return None
    return Narrowed(np.asarray(ref["counts"])[keep].tolist(), counts[keep], ref_sample[np.isin(ref_sample, values)],
                    sample[np.isin(sample, values)],
                    note or f"{part} compared where the job's window ({span}) falls: {int(keep.sum())} of "
                            f"{keep.size} training bins")
