"""Dates written as text: which format a column uses, and reading it the same way everywhere.

Polars reads ISO dates (``2019-01-13``, ``2019-01-13 08:30:00``, ...) by itself, inferring the
format from the first value. Spreadsheets and other tools also write ``1/13/2019``, ``13.01.2019``,
``13/01/2019 8:30 PM``, a month by name (``26-Feb-2000``, ``26 February 2000``, ``Feb 26, 2000``)
or a month alone (``Jan-2018``, ``2018-01``): :func:`infer_format` tries those formats on a column's values and keeps
the first that reads every one of them. When a month-first and a day-first reading both fit (no
day above 12 in the sample) the month-first one wins, as US spreadsheets write dates; the format is
recorded with the model's features, so a scoring file is read the way the training data was even
when its own values would be ambiguous.
"""

from __future__ import annotations

import re

import polars as pl

ISO = "iso"  # let Polars infer an ISO-like format from the values
# ISO text with a time zone (2012-01-01T06:16:41Z, ...+01:00: what R, pandas and JSON APIs write of a
# zoned time), read as UTC: Polars infers no zone from text in a lazy query and refuses the column.
ISO_UTC = "iso-utc"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})$"
# %B reads a month's name or its abbreviation, in any case (Feb, FEB, February): what Excel and
# Oracle write (26-Feb-2000, 26-FEB-00), newspapers and reports (February 26, 2000; tidyr's billboard
# once exported) and British text (26 Feb 2000). A named month is never ambiguous.
_DAYS = ("%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y", "%d-%m-%Y", "%m/%d/%y", "%d/%m/%y", "%d.%m.%y",
         "%d-%B-%Y", "%d-%B-%y", "%d %B %Y", "%B %d, %Y")
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
# A month of a year (loan books, reports): Jan-2018, January 2018, 2018-01, 01/2018. Read as that
# month's first day, so a new month is a later date, not a category the model never saw.
_MONTHS = ("%b-%Y", "%b %Y", "%B %Y", "%B-%Y", "%Y-%m", "%Y/%m", "%m/%Y")
FORMATS = tuple(day + time for day in _DAYS for time in _TIMES) + _MONTHS
# year first (4 digits), or day and month first and a 2- or 4-digit year: not "1.2.3" (a version);
# a day and a month's name (26-Feb-2000, 26 Feb 2000, Feb 26, 2000); or a whole value that is a
# month and a 4-digit year
_LOOKS_LIKE_A_DATE = (r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](\d{4}|\d{2})\b"
                      r"|\d{1,2}[- ][A-Za-z]{3,9}[- ](\d{4}|\d{2})\b|[A-Za-z]{3,9} \d{1,2}, \d{4}\b"
                      r"|[A-Za-z]{3,9}[- ]\d{4}$|\d{4}[-/]\d{1,2}$|\d{1,2}/\d{4}$)")
# %Y reads "20" as the year 20 (and "00" as the year 0), so these take %y
_TWO_DIGIT_YEAR = r"^\d{1,2}([-/.]\d{1,2}[-/.]|[- ][A-Za-z]{3,9}[- ])\d{2}\b"
SAMPLE = 1000


def looks_like_date(text: str) -> bool:
    """Whether a value starts like a date (a cheap test before :func:`infer_format` reads a sample)."""
    return re.match(_LOOKS_LIKE_A_DATE, text.strip()) is not None


def looks_like_date_expr(col: pl.Expr) -> pl.Expr:
    """:func:`looks_like_date` of each value of a text column, as an expression."""
    return col.str.strip_chars().str.contains(_LOOKS_LIKE_A_DATE)


def infer_format(col: pl.Series) -> str | None:
    """The format every non-empty value of a text column (a sample of 1,000) reads with: ``ISO``,
    ``ISO_UTC`` (ISO with a time zone on some value), one of :data:`FORMATS`, or None when the column
    is not dates."""
    values = col.drop_nulls().str.strip_chars()
    values = values.filter(values != "")
    if values.len() == 0:
        return None
    values = values.gather_every(max(1, values.len() // SAMPLE))  # spread over the file, not its head
    if not values.str.contains(_LOOKS_LIKE_A_DATE).all():
        return None
    if values.str.contains(r"^\d{4}-\d{2}-\d{2}").all():
        if values.str.contains(_ZONE).any():
            return ISO_UTC if values.str.to_datetime(strict=False, time_zone="UTC").null_count() == 0 else None
        try:
            return ISO if values.str.to_datetime(strict=False).null_count() == 0 else None
        except pl.exceptions.ComputeError:  # Polars found no format it knows
            return None
    short_year = values.str.contains(_TWO_DIGIT_YEAR).all()
    for fmt in FORMATS:
        if ("%y" in fmt) == short_year and values.str.to_datetime(fmt, strict=False).null_count() == 0:
            return fmt
    return None


def parse(col: pl.Expr, fmt: str | None) -> pl.Expr:
    """Text → Datetime with a format from :func:`infer_format` (None: as ``ISO``, the rule of
    signatures written before formats were recorded). A value that does not fit becomes null."""
    col = col.str.strip_chars()
    if fmt == ISO_UTC:
        return col.str.to_datetime(strict=False, time_zone="UTC")
    if fmt is None or fmt == ISO:
        # As UTC, then without a zone: a value with one (2012-01-01T06:16:41Z) reads as its UTC time
        # instead of failing the column (Polars refuses zoned text in a query without a zone, and
        # read a scoring file's 48 good email times as missing behind one 'never-seen-value');
        # a value without one keeps its wall time.
        return col.str.to_datetime(strict=False, time_zone="UTC").dt.replace_time_zone(None)
    return col.str.to_datetime(fmt, strict=False)


def _day_month_swapped(fmt: str | None) -> str | None:
    """``fmt`` with its day and month exchanged (%m/%d/%Y ↔ %d/%m/%Y), None for a format without both."""
    if fmt is None or "%d" not in fmt or "%m" not in fmt:
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def ambiguity(col: pl.Series, fmt: str | None) -> str | None:
    """When every value of a text date column reads with ``fmt`` and with its day/month swap too, and
    some value reads differently (no day above 12: '01/05/2017', 5 January or 1 May), a note naming
    that value and both readings; None otherwise. :func:`infer_format` then took month first, a guess
    a model that recorded no format of its own (it learnt typed dates) cannot check."""
    other = _day_month_swapped(fmt)
    if other is None:
        return None
    values = col.drop_nulls().str.strip_chars()
    values = values.filter(values != "")
    read, swapped = values.str.to_datetime(fmt, strict=False), values.str.to_datetime(other, strict=False)
    if swapped.null_count() > read.null_count():  # some value reads only one way: not ambiguous
        return None
    differ = (read != swapped).fill_null(False).arg_true()
    if not len(differ):
        return None
    i = int(differ[0])
    return (f"{values[i]!r} read as {read[i]:%Y-%m-%d} ({fmt}); every value also reads as {other} "
            f"({swapped[i]:%Y-%m-%d}): write dates as ISO (YYYY-MM-DD) to be sure")
