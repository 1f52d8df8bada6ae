"""How long `dataset add` takes on a 5M-row x 20-column Parquet file (snapshot + hash + profile).

Also the repeated-rows check of `dataset add` (an estimate, an exact count only near the warning's
threshold) against the exact DISTINCT of every row it used to run.

Prints seconds and rows/s for the whole `datasets.add`, for the profile alone, and two baselines
measured in the same run on the same file: DuckDB `SELECT count(*)` (metadata only) and one
full scan of every column (`SELECT min(..), max(..)` of each) — the floor for anything that reads
all values once.

    .venv/bin/python bench/profile_dataset.py [--rows 5000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_tui.store import profiling as profiling_sql  # noqa: E402
from mlops_tui.store.profiling import ident  # noqa: E402

from mlops_tui.data import (
    datasets,  # noqa: E402
    profiling,
)
from mlops_tui.workspace import Workspace  # noqa: E402


def make_frame(rows: int, seed: int = 0) -> pl.DataFrame:
    """12 float, 4 integer, 3 text (low and high cardinality) columns and a binary target, with nulls."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(12):
        x = rng.normal(i, 1 + i, rows)
        x[rng.random(rows) < 0.01] = np.nan
        cols[f"f{i}"] = x
    for i in range(4):
        cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), rows)
    cols["city"] = rng.choice(np.array(["Paris", "Lyon", "Nice", "Lille", "Brest"]), rows)
    cols["segment"] = rng.choice(np.array([f"s{k}" for k in range(40)]), rows)
    cols["code"] = rng.integers(0, 200_000, rows).astype(str)
    cols["label"] = (rng.random(rows) < 0.3).astype(np.int64)
    df = pl.DataFrame(cols)
    return df.with_columns(pl.col(c).fill_nan(None) for c in df.columns if c.startswith("f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.parquet"
        t = time.perf_counter()
        make_frame(args.rows).write_parquet(src, row_group_size=500_000)
        print(f"generated {args.rows:,} x 20 Parquet ({src.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.1f}s", file=sys.stderr)
        columns = pl.read_parquet_schema(src)

        with duckdb.connect(":memory:") as con:
            t = time.perf_counter()
            con.execute("SELECT count(*) FROM read_parquet(?)", [str(src)]).fetchone()
            count_s = time.perf_counter() - t
            scan = ", ".join(f"min({ident(c)}), max({ident(c)})" for c in columns)
            t = time.perf_counter()
            con.execute(f"SELECT {scan} FROM read_parquet(?)", [str(src)]).fetchone()
            scan_s = time.perf_counter() - t

        ws = Workspace.open(Path(tmp) / "ws", create=True)
        t = time.perf_counter()
        dv, new = datasets.add(ws, str(src), name="big", target="label")
        add_s = time.perf_counter() - t
        t = time.perf_counter()
        profiling.profile(str(ws.abspath(dv.path)))
        profile_s = time.perf_counter() - t
        t = time.perf_counter()
        _, again = datasets.add(ws, str(src), name="big", target="label")
        readd_s = time.perf_counter() - t
        snapshot = str(ws.abspath(dv.path))
        t = time.perf_counter()
        datasets._repeated_rows(snapshot, dv.schema, dv.rows)
        repeated_s = time.perf_counter() - t
        t = time.perf_counter()
        profiling_sql.distinct_rows(snapshot, [e["name"] for e in dv.schema if e["role"] != "id"])
        exact_s = time.perf_counter() - t

    assert new and not again and dv.rows == args.rows
    rows = args.rows
    print(f"rows                      {rows:,} x {len(columns)} columns")
    print(f"baseline count(*)         {count_s:8.3f} s")
    print(f"baseline full scan        {scan_s:8.3f} s   ({rows / scan_s:,.0f} rows/s)")
    print(f"profile (DuckDB)          {profile_s:8.3f} s   ({rows / profile_s:,.0f} rows/s, "
          f"{profile_s / scan_s:.1f}x full scan, {profile_s / count_s:,.0f}x count(*))")
    print(f"dataset add (snapshot+hash+profile) {add_s:8.3f} s   ({rows / add_s:,.0f} rows/s, "
          f"{add_s / scan_s:.1f}x full scan)")
    print(f"re-add same content (new=false)     {readd_s:8.3f} s")
    print(f"repeated-rows check       {repeated_s:8.3f} s   (baseline exact DISTINCT {exact_s:.3f} s: "
          f"{exact_s / repeated_s:.1f}x faster)")


if __name__ == "__main__":
    main()
