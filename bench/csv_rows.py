"""The ragged-rows check `dataset add` and `score` run over every row of a CSV file, against the csv
module's pass it replaces for files without quotes, measured in the same run on the same file.

    .venv/bin/python bench/csv_rows.py [--rows 2000000] [--repeat 3]

Writes a diamonds-like CSV (an id, 9 numbers, 3 short text values, a date; no quotes) and prints the
best of ``--repeat`` for readers.row_widths (numpy, data.csv_widths) and for the csv module's pass,
both giving the same counts. Measured on 10 million rows (745 MB, a loaded 2-core machine): the csv
module 19.8 s, numpy 3.1 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_tui.data import csv_widths, readers  # noqa: E402


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    pl.DataFrame({
        "row_id": np.arange(1, rows + 1),
        **{f"x{i}": rng.normal(i, 1, rows).round(3) for i in range(9)},
        "cut": rng.choice(np.array(["Fair", "Good", "Very Good", "Premium", "Ideal"]), rows),
        "color": rng.choice(np.array(list("DEFGHIJ")), rows),
        "clarity": rng.choice(np.array(["I1", "SI2", "SI1", "VS2", "VVS1", "IF"]), rows),
        "sold_on": np.datetime64("2020-01-01") + rng.integers(0, 1400, rows).astype("timedelta64[D]"),
    }).write_csv(path, quote_style="necessary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        write_csv(path, args.rows)
        real_count = csv_widths.count
        fast_s, slow_s = [], []
        for _ in range(args.repeat):  # interleaved: the machine is shared
            t = time.perf_counter()
            fast = readers.row_widths(path, ",", True)
            fast_s.append(time.perf_counter() - t)
            csv_widths.count = lambda *a, **k: False  # type: ignore[assignment]  # the csv module's pass
            try:
                t = time.perf_counter()
                slow = readers.row_widths(path, ",", True)
                slow_s.append(time.perf_counter() - t)
            finally:
                csv_widths.count = real_count  # type: ignore[assignment]
        assert fast == slow and fast.rows == args.rows, (fast, slow)
        size = path.stat().st_size
    print(f"rows                     {args.rows:,} ({size / 1e6:.0f} MB)")
    print(f"baseline: csv module     {min(slow_s):7.2f} s   ({args.rows / min(slow_s):,.0f} rows/s)")
    print(f"row_widths (numpy)       {min(fast_s):7.2f} s   ({args.rows / min(fast_s):,.0f} rows/s, "
          f"{min(slow_s) / min(fast_s):.1f}x faster)")


if __name__ == "__main__":
    main()
