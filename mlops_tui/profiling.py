"""Column profiles of a dataset snapshot, computed by DuckDB over the Parquet file.

Why DuckDB and not Polars in Python: a 5M-row snapshot is profiled by a few streaming scans
(SUMMARIZE, one aggregate pass, a top-values query per high-cardinality text column) without the
rows ever becoming Python objects. The SQL lives in ``store.profiling``; this module decides what
to ask for and shapes the answer.

A profile is ``{column: stats}``; ``stats`` always has ``dtype``, ``kind`` (numeric, categorical,
temporal, other), ``count`` (non-null), ``nulls``, ``null_rate`` and ``distinct``; numeric columns add
``min``, ``max``, ``mean``, ``std``, ``q25``, ``q50``, ``q75`` and ``histogram`` (``edges``: n+1
boundaries, ``counts``: n); categorical columns add ``top`` (list of ``[value, count]``, the full
value counts when ``top_complete``); temporal columns add ``min`` and ``max`` as ISO text.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from store import profiling as sql

HIST_BINS = 20
TOP_K = 10
FULL_COUNTS_MAX = 50  # text columns with at most this many values keep every value's count
EXACT_DISTINCT_MAX_ROWS = 2_000_000  # above this, distinct is DuckDB's HyperLogLog estimate


def kind_of(dtype: pl.DataType) -> str:
    """numeric / categorical / temporal / other — what kind of statistics a column gets."""
    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "categorical"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "temporal"
    return "other"


def _num(text: Any) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def hist_edges(lo: float, hi: float, integer: bool, bins: int = HIST_BINS) -> list[float]:
    """Bin boundaries covering [lo, hi]: one bin per value for small integer ranges."""
    if integer and hi - lo + 1 <= bins:
        return [lo - 0.5 + i for i in range(int(hi - lo) + 2)]
    if hi <= lo:
        return [lo, hi]
    step = (hi - lo) / bins
    return [lo + i * step for i in range(bins)] + [hi]


def bin_counts(edges: list[float], hist: dict[float, int] | None) -> tuple[list[int], int]:
    """DuckDB ``histogram(x, uppers)`` map → counts per bin (first bin also takes values below
    the range) and the count above the last boundary."""
    uppers = edges[1:]
    hist = hist or {}
    counts = [int(hist.get(u, 0)) for u in uppers]
    over = sum(int(n) for k, n in hist.items() if k not in set(uppers))
    return counts, over


def profile(path: str) -> tuple[int, dict[str, pl.DataType], dict[str, dict[str, Any]]]:
    """``(rows, schema, profile)`` of a Parquet file (see the module docstring)."""
    schema = dict(pl.read_parquet_schema(path))
    summary = {row["column_name"]: row for row in sql.summarize(path)}
    rows = int(next(iter(summary.values()))["count"]) if summary else 0

    kinds = {c: kind_of(t) for c, t in schema.items()}
    histograms: dict[str, list[float]] = {}
    for c, kind in kinds.items():
        s = summary[c]
        lo, hi = _num(s["min"]), _num(s["max"])
        if kind == "numeric" and lo is not None and hi is not None:
            histograms[c] = hist_edges(lo, hi, schema[c].is_integer())
    small_text = [c for c, k in kinds.items()
                  if k == "categorical" and int(summary[c]["approx_unique"] or 0) <= FULL_COUNTS_MAX * 2]
    exact = list(schema) if rows <= EXACT_DISTINCT_MAX_ROWS else []
    scan = sql.column_pass(path, columns=list(schema), histograms=histograms,
                           value_counts=small_text, exact_distinct=exact)

    out: dict[str, dict[str, Any]] = {}
    for c, dtype in schema.items():
        s, kind = summary[c], kinds[c]
        count = int(scan["count"][c])
        stats: dict[str, Any] = {
            "dtype": str(dtype), "kind": kind, "count": count, "nulls": rows - count,
            "null_rate": (rows - count) / rows if rows else 0.0,
            "distinct": int(scan["distinct"][c]) if c in scan["distinct"] else int(s["approx_unique"] or 0),
            "distinct_exact": c in scan["distinct"],
        }
        if kind == "numeric":
            stats.update(min=_num(s["min"]), max=_num(s["max"]), mean=_num(s["avg"]), std=_num(s["std"]),
                         q25=_num(s["q25"]), q50=_num(s["q50"]), q75=_num(s["q75"]))
            if c in histograms:
                counts, _ = bin_counts(histograms[c], scan["hist"].get(c))
                stats["histogram"] = {"edges": histograms[c], "counts": counts}
        elif kind == "categorical":
            values = scan["values"].get(c)
            if c in scan["values"] and len(values) <= FULL_COUNTS_MAX:
                pairs = sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0])))
                stats["top"] = [[_plain(v), int(n)] for v, n in pairs]
                stats["top_complete"] = True
            else:
                stats["top"] = [[_plain(v), int(n)] for v, n in sql.top_values(path, c, TOP_K)]
                stats["top_complete"] = False
            stats["min"], stats["max"] = s["min"], s["max"]
        elif kind == "temporal":
            stats["min"], stats["max"] = s["min"], s["max"]
        out[c] = stats
    return rows, schema, out


def _plain(value: Any) -> Any:
    """JSON-friendly category value (bools stay bools, everything else text)."""
    return value if isinstance(value, bool) else str(value)


# --- comparing two distributions ------------------------------------------------------------

PSI_EPS = 1e-4


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two count vectors over the same bins (shares smoothed by
    ``PSI_EPS`` so an empty bin does not make it infinite)."""
    te, ta = sum(expected), sum(actual)
    if te <= 0 or ta <= 0:
        return 0.0
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / te, PSI_EPS), max(a / ta, PSI_EPS)
        total += (pa - pe) * math.log(pa / pe)
    return total


def numeric_drift(ref: dict[str, Any], cur_counts: list[int], cur_over: int) -> float:
    """PSI of a numeric column: the reference's histogram bins against the current data's counts in
    the same bins (values above the reference's range get their own bin)."""
    return psi(list(ref["histogram"]["counts"]) + [0], list(cur_counts) + [cur_over])


def category_drift(ref: dict[str, Any], cur: dict[str, Any]) -> tuple[float, list[Any], list[Any]]:
    """``(psi, new categories, vanished categories)`` from two profiles' value counts. When either
    side kept only its top values, the rest are pooled in one "other" bucket."""
    a = {str(v): n for v, n in ref.get("top", [])}
    b = {str(v): n for v, n in cur.get("top", [])}
    complete = ref.get("top_complete") and cur.get("top_complete")
    cats = sorted(set(a) | set(b))
    ea, eb = [a.get(c, 0) for c in cats], [b.get(c, 0) for c in cats]
    if not complete:
        ea.append(max(ref["count"] - sum(a.values()), 0))
        eb.append(max(cur["count"] - sum(b.values()), 0))
    new = sorted(set(b) - set(a)) if complete else []
    gone = sorted(set(a) - set(b)) if complete else []
    return psi(ea, eb), new, gone
