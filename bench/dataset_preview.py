"""Opening a 10M-row dataset in the TUI's Datasets screen, against DuckDB reading the same pages.

    .venv/bin/python bench/dataset_preview.py [--rows 10000000] [--repeat 3]

Registers a generated Parquet file (``--rows`` rows x 12 columns) in a temp workspace, then drives
the real Workbench headless (``App.run_test`` at 100x30, Pilot) and times, per repeat:

- open: from the Datasets screen being shown until the schema table and the first preview page of
  the dataset are on screen;
- last page: from pressing ``G`` in the preview until the last rows are shown;
- back to the first page: ``g``.

Baselines measured in the same run on the same snapshot: DuckDB alone fetching the first and the
last 100 rows (``LIMIT 100 OFFSET n`` on the Parquet snapshot), which is the floor for any preview.
Prints medians and the ratios; the issue's target for "open" is under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_tui.data import datasets  # noqa: E402
from mlops_tui.workspace import Workspace  # noqa: E402


def make_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(10)}).with_columns(
        pl.Series("city", rng.choice(["oslo", "lima", "kyiv", "pune"], rows)),
        pl.Series("y", rng.integers(0, 2, rows)),
    )
    frame.write_parquet(path, row_group_size=200_000)


async def drive(ws: Workspace, total: int) -> dict[str, float]:
    from mlops_tui.screens.app import Workbench

    app = Workbench(ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        t0 = time.perf_counter()
        await wait(pilot, lambda: app.screen.query_one("#schema-table").row_count > 0
                   and app.screen.query_one("#preview-table").row_count > 0)
        opened = time.perf_counter() - t0
        await pilot.press("p")
        preview = app.screen.query_one("#preview-table")
        t0 = time.perf_counter()
        await pilot.press("G")
        await wait(pilot, lambda: preview.first_row + preview.row_count == total)
        last = time.perf_counter() - t0
        t0 = time.perf_counter()
        await pilot.press("g")
        await wait(pilot, lambda: preview.first_row == 0 and preview.row_count > 0)
        first = time.perf_counter() - t0
    return {"open": opened, "last page": last, "first page": first}


async def wait(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit("timed out waiting for the Datasets screen")
        await pilot.pause(0.005)


def duckdb_page(path: str, offset: int) -> float:
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SELECT * FROM read_parquet(?) LIMIT 100 OFFSET ?", [path, offset]).fetchall()
    con.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.parquet"
        make_file(src, args.rows)
        ws = Workspace.open(Path(tmp) / "ws", create=True)
        t0 = time.perf_counter()
        dv, _ = datasets.add(ws, str(src), name="big", target="y")
        print(f"dataset big:1  {dv.rows:,} rows x {dv.columns} cols  (registered in {time.perf_counter() - t0:.1f} s)")
        snapshot = str(datasets.snapshot_path(ws, dv))

        runs = [asyncio.run(drive(ws, dv.rows)) for _ in range(args.repeat)]
        base_first = statistics.median(duckdb_page(snapshot, 0) for _ in range(args.repeat))
        base_last = statistics.median(duckdb_page(snapshot, dv.rows - 100) for _ in range(args.repeat))

    tui = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"baseline DuckDB first 100 rows   {base_first * 1000:7.1f} ms")
    print(f"baseline DuckDB last 100 rows    {base_last * 1000:7.1f} ms")
    print(f"TUI open (schema + first page)   {tui['open'] * 1000:7.1f} ms  "
          f"({tui['open'] / base_first:.1f}x DuckDB first page; target < 1000 ms)")
    print(f"TUI G (last page)                {tui['last page'] * 1000:7.1f} ms  "
          f"({tui['last page'] / base_last:.1f}x DuckDB last page)")
    print(f"TUI g (first page again)         {tui['first page'] * 1000:7.1f} ms")
    print(f"medians of {args.repeat} runs")


if __name__ == "__main__":
    main()
