"""SQL over Parquet snapshots: column profiles, bin counts for drift, and pages of rows.

These run DuckDB over a Parquet file given as a parameter, on a private in-memory connection (not
the metadata store, so they never hold the store's lock). DuckDB streams the file: nothing here
loads a whole dataset into Python. Column names cannot be parameters, so they are quoted as
identifiers by :func:`ident` (double quotes doubled) — the only formatting allowed in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def ident(name: str) -> str:
    """A column name as a safely quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def summarize(path: str) -> list[dict[str, Any]]:
    """DuckDB's SUMMARIZE of the file: per column type, min, max, approx_unique, avg, std,
    q25/q50/q75, count, null_percentage (values as DuckDB prints them, strings)."""
    with _connect() as con:
        cur = con.execute("SUMMARIZE SELECT * FROM read_parquet(?)", [path])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def column_pass(
    path: str,
    *,
    columns: Sequence[str],
    histograms: dict[str, list[float]],
    value_counts: Sequence[str],
    exact_distinct: Sequence[str],
) -> dict[str, Any]:
    """One scan computing, per column: non-null count; for ``histograms`` (column → upper bin
    boundaries) the counts per bin; for ``value_counts`` a full value → count map (use only on
    low-cardinality columns); for ``exact_distinct`` count(DISTINCT). Returns
    ``{"rows": n, "count": {col: n}, "hist": {col: {edge: n}}, "values": {col: {v: n}},
    "distinct": {col: n}}``."""
    select: list[str] = ["count(*)"]
    params: list[Any] = []
    keys: list[tuple[str, str]] = []
    for c in columns:
        select.append(f"count({ident(c)})")
        keys.append(("count", c))
    for c, edges in histograms.items():
        select.append(f"histogram({ident(c)}::DOUBLE, ?::DOUBLE[])")
        params.append(list(edges))
        keys.append(("hist", c))
    for c in value_counts:
        select.append(f"histogram({ident(c)})")
        keys.append(("values", c))
    for c in exact_distinct:
        select.append(f"count(DISTINCT {ident(c)})")
        keys.append(("distinct", c))
    params.append(path)
    with _connect() as con:
        row = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?)", params).fetchone()
    assert row is not None
    result: dict[str, Any] = {"rows": row[0], "count": {}, "hist": {}, "values": {}, "distinct": {}}
    for (kind, col), value in zip(keys, row[1:], strict=True):
        result[kind][col] = value if value is not None or kind == "count" else {}
    return result


def top_values(path: str, column: str, k: int) -> list[tuple[Any, int]]:
    """The ``k`` most frequent non-null values of a column, with their counts."""
    c = ident(column)
    with _connect() as con:
        return con.execute(
            f"SELECT {c}, count(*) AS n FROM read_parquet(?) WHERE {c} IS NOT NULL "
            f"GROUP BY {c} ORDER BY n DESC, {c} LIMIT ?",
            [path, k],
        ).fetchall()


def quantiles(path: str, columns: Sequence[str], probs: Sequence[float]) -> dict[str, list[float] | None]:
    """Exact quantiles (``quantile_cont``) of numeric columns in one scan."""
    if not columns:
        return {}
    select = [f"quantile_cont({ident(c)}::DOUBLE, ?::DOUBLE[])" for c in columns]
    params: list[Any] = [list(probs)] * len(columns) + [path]
    with _connect() as con:
        row = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?)", params).fetchone()
    assert row is not None
    return dict(zip(columns, row, strict=True))


def null_counts(path: str, columns: Sequence[str]) -> dict[str, int]:
    """Missing values per column of any Parquet file, in one scan."""
    if not columns:
        return {}
    select = ", ".join(f"count(*) - count({ident(c)})" for c in columns)
    with _connect() as con:
        row = con.execute(f"SELECT {select} FROM read_parquet(?)", [path]).fetchone()
    assert row is not None
    return dict(zip(columns, row, strict=True))
