"""The window of time a scoring job covers, from its rows' date parts (serving.drift_calendar)."""

from __future__ import annotations

import numpy as np

from mlops_tui.serving.drift_calendar import CalendarWindow
from mlops_tui.training.signature import Feature, Signature


def _window(rows: list[tuple[int, int, int, int]]) -> CalendarWindow:
    parts = ("year", "month", "day", "weekday")
    sig = Signature("regression", "y", tuple(Feature(f"d__{p}", "numeric", "d", "Date", transform=p) for p in parts))
    w, other = CalendarWindow(sig), CalendarWindow(sig)
    X = np.array(rows, dtype=float)
    w.add(X[:1])
    other.add(X[1:])
    w.merge(other)  # batches scored apart make one job's window
    return w


def test_a_window_across_new_year_covers_the_months_it_passes_through_and_its_years():
    w = _window([(2013, 11, 20, 3), (2014, 2, 3, 1), (np.nan, 5, 5, 1)])  # a row without its year is left out
    months, span = w.covered("d__month", "month")
    assert span == "2013-11-20 to 2014-02-03" and months.tolist() == [1, 2, 11, 12]
    assert w.covered("d__year", "year")[0].tolist() == [2013, 2014]
    assert w.covered("d__weekday", "weekday") is None  # longer than a week: every weekday
    assert w.covered("d__day", "day") is None


def test_a_three_day_window_covers_three_weekdays_and_days():
    w = _window([(2014, 2, 28, 5), (2014, 3, 2, 7)])  # Friday to Sunday
    assert w.covered("d__weekday", "weekday")[0].tolist() == [5, 6, 7]  # Monday = 1, as Polars counts
    assert w.covered("d__day", "day")[0].tolist() == [1, 2, 28]
