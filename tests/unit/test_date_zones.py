"""encode reads a zoned time's date parts in the zone the model learnt them in (signature.zone_of)."""

from __future__ import annotations

import polars as pl

from mlops_tui.data import dates
from mlops_tui.training.signature import Feature, Signature, encode

BERLIN = pl.Series("t", ["2024-06-01 08:30:00", "2024-06-01 00:30:00"]).str.to_datetime().dt.replace_time_zone(
    "Europe/Berlin")
FORMS = {"berlin": BERLIN, "utc": BERLIN.dt.convert_time_zone("UTC"),
         "text": BERLIN.dt.to_string("%Y-%m-%dT%H:%M:%S%:z")}  # what a CSV export writes


def parts(dtype: str, fmt: str | None, form: str) -> list[tuple[float, ...]]:
    sig = Signature("regression", "y", tuple(Feature(f"t__{p}", "numeric", "t", dtype, transform=p, date_format=fmt)
                                             for p in ("day", "hour")))
    return encode(pl.DataFrame([FORMS[form]]), sig)[0].rows()


def test_a_model_of_berlin_times_reads_every_form_of_them_in_berlin():
    trained = str(BERLIN.dtype)
    assert {form: parts(trained, None, form) for form in FORMS} == dict.fromkeys(FORMS, [(1.0, 8.0), (1.0, 0.0)])


def test_a_model_of_zoned_text_reads_a_zoned_datetime_in_utc_as_it_read_the_text():
    fmt = dates.infer_format(FORMS["text"])
    assert fmt == dates.ISO_UTC
    got = {form: parts("String", fmt, form) for form in FORMS}
    assert got == dict.fromkeys(FORMS, [(1.0, 6.0), (31.0, 22.0)])  # 00:30 in Berlin is 22:30 the day before


def test_a_model_of_wall_times_keeps_a_zoned_datetime_s_wall_time():
    assert parts("Datetime(time_unit='us', time_zone=None)", None, "berlin") == [(1.0, 8.0), (1.0, 0.0)]
