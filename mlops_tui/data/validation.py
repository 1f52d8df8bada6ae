"""A file checked against a dataset version's schema contract (`dataset validate`, a pipeline's
data stage): every problem listed, each naming the column and, where it helps, the row and value.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui import stats
from mlops_tui.data import dates, readers
from mlops_tui.data.categories import category_key
from mlops_tui.data.datasets import resolve
from mlops_tui.errors import UserError
from mlops_tui.formatting import as_stored, dtype_text
from mlops_tui.results import Result

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion
    from mlops_tui.workspace import Workspace


def _compatible(contract: str, actual: str) -> bool:
    """Same type, or integers where the contract has floats (no information lost)."""
    if contract == actual:
        return True
    ints = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    return (contract in {"Float32", "Float64"} and actual in ints) or (contract in ints and actual in ints)


@dataclass(frozen=True)
class Validation(Result):
    """A file checked against a version's contract: ``ok`` when there is no problem (warnings allowed)."""

    ref: str
    path: str
    ok: bool
    rows: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


def validate(ws: Workspace, ref: str, path: str) -> Validation:
    """Check ``path`` against version ``ref``'s schema contract; list every problem.

    Problems (``ok`` False): the file cannot be read, a contract column is missing (with a hint
    when an extra column of the same type has a similar name: a rename), a column has another type
    (integers where floats are expected are fine; text that reads as dates where the contract has
    dates is checked value by value instead, as ``add`` reads it), and missing values where the
    version had none in the target or an id column (a row without a target cannot be learnt from,
    an id must name every row) or, in any other column, in more than ``[drift] null_rate_alert`` of
    the rows (a feature that is mostly gone). Fewer missing values in a feature are a warning with
    the count and rate: LightGBM takes missing features, and one gap in six months of weather
    readings must not stop a pipeline. Other warnings: extra columns, text values the version never
    had, numbers outside the version's range (not in an id column: a later slice's keys are new by
    nature), text that is not a date in a column of dates. One lazy aggregate pass over the file; a
    CSV with a value past the rows its types were inferred from is read again with every row
    inferred, as ``add`` does (so the file a version was registered from always validates against it).
    """
    dv = resolve(ws, ref)
    null_alert = stats.limits(ws.config.get("drift"))["null_rate_alert"]
    try:
        return _validate(dv, path, readers.INFER_ROWS, null_alert)
    except _LateValue:
        return _validate(dv, path, None, null_alert)


def _first_bad_value(lf: pl.LazyFrame, name: str, dtype: str, contract: str) -> str:
    """``: row 8 has 'twelve'`` when a numeric, true/false or date column of the contract was read as text, so
    the user sees which value to fix (modeldata Chicago's `date` with one 'soon' only said "is
    String, the contract says Date"); empty otherwise."""
    if dtype != "String":
        return ""
    col = pl.col(name)
    if _is_dates(contract):
        if not lf.select(dates.looks_like_date_expr(col).any()).collect().item():
            return ""  # no dates at all (a column of words): no one value is the one to fix
        wrong = col.is_not_null() & (col.str.strip_chars() != "") & ~dates.looks_like_date_expr(col)
    elif getattr(pl, contract, pl.String).is_numeric():
        wrong = col.is_not_null() & col.str.strip_chars().cast(pl.Float64, strict=False).is_null()
    elif contract == "Boolean":  # as `score` reads one: true/false or 1/0 (hotel_rates' is_repeated_guest 'maybe')
        text = col.str.strip_chars().str.to_lowercase()
        wrong = col.is_not_null() & (text != "") & ~text.is_in(["true", "false", "1", "0"])
    else:
        return ""
    bad = lf.select(col).with_row_index("__row").filter(wrong).head(1).collect()
    return f": row {bad['__row'][0] + 1} has {bad[name][0]!r}" if bad.height else ""


class _LateValue(Exception):
    """A CSV value past the rows types were inferred from does not fit its column's type."""


def _renamed(name: str, dtype: str, extra: dict[str, str]) -> str:
    """``; renamed to 'windspeed'?`` when :func:`rename_of` finds one."""
    found = rename_of(name, dtype, extra)
    return f"; renamed to {found!r}?" if found else ""


def rename_of(name: str, dtype: str, extra: dict[str, str]) -> str | None:
    """The column of ``extra`` (name → dtype) that is likely missing column ``name`` renamed: of a
    compatible type and a name close to it (nycflights13 weather's wind_speed written as windspeed),
    or the two names start alike for at least half the shorter one and three letters (a name shortened
    or spelt out: seattlepets' zip_code as zip, Sacramento's baths as bathrooms), or one ends with the
    other, four letters or more (a prefix dropped or added: MplsStops' policePrecinct as precinct); None
    otherwise."""
    fits = {c.lower(): c for c, t in extra.items() if _compatible(dtype, t)}
    close = difflib.get_close_matches(name.lower(), list(fits), n=1, cutoff=0.8)
    if not close:
        def shared(c: str) -> int:
            return len(os.path.commonprefix([name.lower(), c]))

        close = sorted((c for c in fits if shared(c) >= max(3, (min(len(name), len(c)) + 1) // 2)),
                       key=lambda c: -shared(c))[:1]
    if not close:  # one name the other's end: a prefix dropped or added (MplsStops' policePrecinct as precinct)
        low = name.lower()
        close = sorted((c for c in fits if min(len(c), len(low)) >= 4 and (low.endswith(c) or c.endswith(low))),
                       key=lambda c: -min(len(c), len(low)))[:1]
    return fits[close[0]] if close else None


def _whole_floats(lf: pl.LazyFrame, name: str, contract: str, actual: str) -> bool:
    """Floats that are all whole numbers where the contract has integers: what pandas writes of an
    integer column once a value is missing (airquality's Temp as 68.0): the same numbers, so a
    warning, not a problem. A fraction (68.5) or an infinity is still a problem."""
    ints = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    if contract not in ints or actual not in ("Float32", "Float64"):
        return False
    col = pl.col(name)
    return not lf.select((col.is_not_null() & (col.is_infinite() | (col != col.round(0)))).any()).collect().item()


def _new_values(text: pl.Expr, known: list[str]) -> pl.Expr:
    """The distinct values of ``text`` that are none of ``known`` by their text or their value (1.0 is
    '1', True is 'True': :func:`~mlops_tui.data.categories.category_key`), as a model reads categories.
    The key (a strip, two casts, a lower-case copy) is computed for the distinct values only: for
    every value it cost ~0.3 s per million rows and column (bench/validate_rows.py)."""
    keys = pl.Series("k", known, dtype=pl.String).to_frame().select(category_key(pl.col("k"))).to_series()
    values = text.unique(maintain_order=True)  # each use of it below is evaluated again: the same order
    return values.filter(values.is_not_null() & ~values.is_in(known) & ~category_key(values).is_in(keys.implode()))


def _same_categories(lf: pl.LazyFrame, name: str, contract: str, actual: str, prof: dict[str, Any]) -> str | None:
    """'1.0 as '1'' when a column of numbers or true/false holds only values the version's text
    column has, by value (the codes of a text column, read as floats by pandas because a value is
    missing): a model of the version reads them as those categories. None otherwise."""
    if contract != "String" or not prof.get("top_complete") or not (
            actual == "Boolean" or getattr(pl, actual, pl.String).is_numeric()):
        return None
    known = [str(v) for v, _ in prof.get("top", [])]
    col = pl.col(name).cast(pl.String)
    found = lf.select(_new_values(col, known).len().alias("new"), col.drop_nulls().first().alias("one")).collect()
    one = found["one"][0]
    if found["new"][0] or one is None:
        return None
    same = pl.DataFrame({"k": known}).filter(category_key(pl.col("k")) == category_key(pl.lit(one)))["k"]
    return f"{one} as {same[0]!r}" if len(same) else None


_DATETIME = re.compile(r"Datetime\(time_unit='\w+'(?:, time_zone=(?:'([^']*)'|None))?\)")


def _zones(contract: str, actual: str) -> tuple[str | None, str | None] | None:
    """(the contract's time zone, the file's) when both columns are Datetimes (None: no zone); None
    when either is not. Another time unit (ns from pandas' Parquet, us from a CSV) is the same times."""
    ours, theirs = _DATETIME.fullmatch(contract), _DATETIME.fullmatch(actual)
    return (ours[1], theirs[1]) if ours and theirs else None


def _zone_warning(name: str, ref: str, contract: str | None, actual: str | None) -> str:
    """The file's times carry another zone than the version's, said as a warning with how a model of
    the version reads them (signature.zone_of): carData MplsStops' stops written without their 'Z'
    were a problem, "column 'date' is Datetime[us], the contract says Datetime[us, UTC]", though
    `score` reads them, as UTC times."""
    if actual is None:
        return (f"column {name!r} has times without a zone; {ref}'s are {contract}: a model of {ref} reads them "
                f"as {contract} times")
    if contract is None:
        return (f"column {name!r} has times in zone {actual}; {ref}'s had none: a model of {ref} reads their "
                "wall time")
    return f"column {name!r} has times in zone {actual}; {ref}'s are {contract}: a model of {ref} converts them"


def _is_dates(dtype: str) -> bool:
    return dtype == "Date" or dtype.startswith("Datetime")


def _text_date_format(lf: pl.LazyFrame, name: str, contract: str, actual: str) -> tuple[str | None, str | None]:
    """The text-date format (``mlops_tui.data.dates``) of a text column where the contract has dates,
    as ``add`` would read it (``07/01/2013 04:00``), None when it is not dates or not text; and
    :func:`dates.ambiguity`'s note when every value reads day first too, as `score` warns of it
    (carData MplsStops' times written 10/01/2017: validate said the file matches, score that 1 October
    might be 10 January)."""
    if actual != "String" or not _is_dates(contract):
        return None, None
    values = lf.select(name).collect().to_series()
    fmt = dates.infer_format(values)
    return fmt, dates.ambiguity(values, fmt) if fmt else None


def _validate(dv: DatasetVersion, path: str, infer_rows: int | None, null_alert: float) -> Validation:
    problems: list[str] = []
    warnings: list[str] = []

    def result(rows: int) -> Validation:
        return Validation(dv.ref, path, not problems, rows, tuple(problems), tuple(warnings))

    try:
        lf, info = readers.read_file_info(path, infer_rows=infer_rows)
        schema = {c: str(t) for c, t in lf.collect_schema().items()}
    except UserError as exc:
        problems.append(str(exc))
        return result(0)
    contract = {e["name"]: e for e in dv.schema}
    extra = {c: t for c, t in schema.items() if c not in contract}
    date_formats = {c: p["date_format"] for c, p in dv.profile.items()
                    if p.get("date_format") and schema.get(c) == "String"}
    # A column with no value in the version has no type to keep (a CSV reader calls it String):
    # any type fits; that it has values now is worth a word (found below).
    empty = {c for c, p in dv.profile.items() if p.get("count") == 0}
    for name, e in contract.items():
        if name not in schema:
            problems.append(f"missing column {name!r} ({dtype_text(e['dtype'])}, {e['role']})"
                            + _renamed(name, e["dtype"], extra))
        elif name not in empty and not _compatible(e["dtype"], schema[name]):
            if (zones := _zones(e["dtype"], schema[name])) is not None:
                if zones[0] != zones[1]:
                    warnings.append(_zone_warning(name, dv.ref, *zones))
                continue
            fmt, ambiguous = _text_date_format(lf, name, e["dtype"], schema[name])
            if fmt:
                date_formats[name] = fmt
                if ambiguous:
                    warnings.append(f"column {name!r}: {ambiguous}")
                continue
            if dv.profile.get(name, {}).get("date_format") and _is_dates(schema[name]):
                continue  # the version's dates were text (a Parquet of strings); these come typed (a CSV)
            if same := _same_categories(lf, name, e["dtype"], schema[name], dv.profile.get(name, {})):
                warnings.append(f"column {name!r} is {dtype_text(schema[name])}, the contract says "
                                f"{dtype_text(e['dtype'])}: its values are {dv.ref}'s ({same}); a model of {dv.ref} "
                                "reads them as those categories")
                continue
            example = _first_bad_value(lf, name, schema[name], e["dtype"])
            if e["dtype"] == "Boolean" and schema[name] == "String" and not example:
                warnings.append(f"column {name!r} is String, the contract says Boolean: true/false written as "
                                "text, which `score` and `evaluate` read as the same values")
                continue
            if _whole_floats(lf, name, e["dtype"], schema[name]):
                warnings.append(f"column {name!r} is {dtype_text(schema[name])} of whole numbers, the contract says "
                                f"{dtype_text(e['dtype'])} (pandas writes an integer column with a missing value so)")
                continue
            problems.append(f"column {name!r} is {dtype_text(schema[name])}, the contract says "
                            f"{dtype_text(e['dtype'])}" + example)
    warnings.extend(f"extra column {c!r} ({dtype_text(t)}) is not in {dv.ref}" for c, t in extra.items())

    common = [c for c in contract if c in schema]
    aggs = [pl.len().alias("__rows")]
    known: dict[str, list[str]] = {}
    for c in common:
        aggs.append(pl.col(c).null_count().alias(f"nulls:{c}"))
        prof = dv.profile.get(c, {})
        if contract[c]["role"] == "id":  # a later slice's keys are new ones: past the old range by nature
            pass
        elif prof.get("kind") == "numeric" and schema[c] not in ("String",) and prof.get("min") is not None:
            aggs.append(pl.col(c).min().cast(pl.Float64, strict=False).alias(f"min:{c}"))
            aggs.append(pl.col(c).max().cast(pl.Float64, strict=False).alias(f"max:{c}"))
        elif c in date_formats:  # dates written as text: each must read as one
            bad = pl.col(c).is_not_null() & dates.parse(pl.col(c), date_formats[c]).is_null()
            aggs += [bad.sum().alias(f"notdate:{c}"), pl.col(c).filter(bad).first().alias(f"notdate1:{c}"),
                     pl.int_range(pl.len()).filter(bad).first().alias(f"notdaterow:{c}")]
        elif (prof.get("kind") == "categorical" and prof.get("top_complete") and c not in empty
              # true/false of a Boolean contract print as the profile's True/False; against a contract of
              # words (NMES1988's afam yes/no exported TRUE/FALSE) they are the values written another way
              and not (schema[c] == "Boolean" and contract[c]["dtype"] == "Boolean")):
            known[c] = [str(v) for v, _ in prof["top"]]
            text, unseen = pl.col(c).cast(pl.String), _new_values(pl.col(c).cast(pl.String), known[c])
            aggs.append(unseen.sort().head(5).implode().alias(f"new:{c}"))
            aggs.append((text.is_not_null().sum() - text.is_in(unseen.implode()).sum()).alias(f"known:{c}"))
    try:
        found = lf.select(aggs).collect().row(0, named=True)
    except Exception as exc:  # noqa: BLE001 - a value the reader could not parse late in the file
        if info.kind == "csv" and infer_rows is not None:
            raise _LateValue from exc
        problems.append(f"{path}: cannot be read ({readers.first_line(exc)})")
        return result(0)
    for c in common:
        e, prof = contract[c], dv.profile.get(c, {})
        nulls = found[f"nulls:{c}"]
        if c in empty and nulls < found["__rows"]:
            warnings.append(f"column {c!r} has {found['__rows'] - nulls:,} value(s) ({dtype_text(schema[c])}); "
                            f"{dv.ref} had none")
        if nulls and not e["nullable"]:
            rate = nulls / found["__rows"]
            past = rate > null_alert
            (problems if past or e["role"] in ("target", "id") else warnings).append(
                f"column {c!r} has {nulls:,} missing value(s) ({rate:.2%})"
                + (f", more than [drift] null_rate_alert {null_alert:.0%}" if past else "") + f"; {dv.ref} has none")
        lo, hi = found.get(f"min:{c}"), found.get(f"max:{c}")
        if lo is not None and lo < prof["min"] or hi is not None and hi > prof["max"]:
            # the ends as stored (ggplot2 economics' pce 8470.3..12193.8, not the figures 8470..1.219e+04)
            low, high, was_low, was_high = (as_stored(v) for v in (lo, hi, prof["min"], prof["max"]))
            warnings.append(f"column {c!r} ranges {low}..{high}, outside {dv.ref}'s {was_low}..{was_high}")
        if found.get(f"notdate:{c}"):
            warnings.append(f"column {c!r} has {found[f'notdate:{c}']} value(s) that are not dates like {dv.ref}'s "
                            f"({date_formats[c]}): row {found[f'notdaterow:{c}'] + 1} has {found[f'notdate1:{c}']!r}")
        new = found.get(f"new:{c}")
        if new and not found[f"known:{c}"]:  # a column written another way: every value new (day 'Monday' for 'Mon')
            had = known[c][:3] + (["..."] if len(known[c]) > 3 else [])
            warnings.append(f"column {c!r}: none of its values is one {dv.ref} had ({', '.join(had)}), e.g. "
                            f"{', '.join(map(str, new[:3]))}; is the column written differently?")
        elif new:
            warnings.append(f"column {c!r} has values {dv.ref} never had: {', '.join(map(str, new))}")
    return result(found["__rows"])
