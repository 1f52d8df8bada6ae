"""How a value reads in a table cell, for the CLI's Rich tables and the TUI's alike.

One set of rules so a run's best value reads the same in `mlops-tui run list` and on the Runs
screen: thousands separators, 4 significant digits, exponents only for tiny values (below 1e-4). The two
surfaces differ only in their missing-value mark (the CLI's em dash, the TUI's hyphen).
"""

from __future__ import annotations

import math
import re
from datetime import datetime


def as_stored(value: object) -> str:
    """A data value for a preview of rows: as stored (2013, not the figure 2,013: a year, a flight
    number), floats to 6 significant digits, ∅ for null."""
    if value is None:
        return "∅"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def year_like(low: object, high: object) -> bool:
    """A column whose whole-number values all lie in 1000..2999: years (gapminder's 1952..2007), whose
    mean reads as a year (1979.5), not as the figure 1,980."""
    ends = (low, high)
    return all(isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() for v in ends) and (
        1000 <= float(low) <= float(high) <= 2999)  # type: ignore[arg-type]


def dtype_text(dtype: str) -> str:
    """A stored dtype as a short cell: Polars names a timestamp ``Datetime(time_unit='us',
    time_zone=None)``, 41 characters that pushed the range and top values off an 80-column table
    (dslabs reported_heights); it reads ``Datetime[us]`` (``Datetime[us, UTC]``), as Polars' own
    frame headers write it."""
    m = re.fullmatch(r"(Datetime|Duration)\(time_unit='(\w+)'(?:, time_zone=(?:'([^']*)'|None))?\)", dtype)
    if m is None:
        return dtype
    return f"{m[1]}[{m[2]}{', ' + m[3] if m[3] else ''}]"


def fmt(value: object, digits: int = 4, *, missing: str = "-") -> str:
    """``value`` short and stable: 1,234 / 0.8123 / 4,185 / 0.0006909; ``missing`` for None."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e12:
            return f"{int(value):,}"
        if abs(value) >= 1e3:  # 246,662 and 1,680, as whole numbers print: '.4g' wrote 2.467e+05 and 1680
            return f"{value:,.0f}"
        # 0.0006909, 1e-05: exponents only when tiny; and a figure too small for ``digits`` decimals
        # (a KS p of 0.0035 at 2 read '0.00' in monitor's table beside 0.00096 read '0.00096')
        if abs(value) >= 1 or abs(value) < 1e-3 or abs(value) < 0.5 * 10**-digits:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def fmt_p(p: float | None, *, missing: str = "-") -> str:
    """A p-value as :func:`fmt` writes it to 2 digits, but one too small for a float to hold reads
    '<1e-300', not the '0' of a certainty no test gives (carData SLID's age written in months: the KS p
    of 2,425 scored rows underflowed and `monitor` printed 0)."""
    if p is not None and p < 1e-300:
        return "<1e-300"
    return fmt(p, 2, missing=missing)


def fmt_apart(a: float | None, b: float | None, *, missing: str = "—") -> tuple[str, str]:
    """``a`` and ``b`` as :func:`fmt` writes them, with as many more digits as it takes for two
    different values to read differently: dataset diff's 'mean 33,520 → 33,520' of two means that
    differ reads '33,520.1 → 33,520.4'; equal values stay as fmt writes them."""
    first, second = fmt(a, missing=missing), fmt(b, missing=missing)
    if first != second or a is None or b is None or a == b or not all(map(math.isfinite, (a, b))):
        return first, second
    tiny = max(abs(a), abs(b)) < 1e-3  # fmt writes these with an exponent: more significant digits
    for more in range(1, 18):
        first, second = (f"{a:.{4 + more}g}", f"{b:.{4 + more}g}") if tiny else (f"{a:,.{more}f}", f"{b:,.{more}f}")
        if first != second:
            break
    return first, second


def figure(value: float | None) -> str:
    """A figure inside a sentence: 4 significant digits (0.8295, 1.235e+05), — when missing."""
    return "—" if value is None else f"{value:.4g}"
