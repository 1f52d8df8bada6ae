"""How long a run's data preparation takes on millions of rows, against the split it cannot avoid.

    .venv/bin/python bench/prepare_rows.py [--rows 3000000] [--repeat 3]

Every tuning worker prepares the run's data itself (`tune --jobs K`, `mlops-tui worker`): its start-up
is this, paid before its first trial. The frame is diamonds-like: 6 floats, an integer target and
an id, 3 low-cardinality text columns, a date (4 parts), and a binary label for the classifier case.

Prints, best of ``--repeat`` (the machine is shared):

- baseline: the seeded random split alone (sklearn ``train_test_split`` twice + the row gathers),
  what preparation has to do whatever else it decides;
- ``prep.prepare`` end to end for a regression and a binary target, and its ratio to the baseline.

Measured on 10 million rows (a loaded 2-core machine): 51 s before per-row Python (category lists,
labels) and exact distinct counts were taken out of it, 21.6 s after, of which the split is 15 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_tui.training import prep  # noqa: E402


def make_frame(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    carat = np.abs(rng.normal(0.8, 0.47, rows)).round(3)
    df = pl.DataFrame({
        "row_id": np.arange(1, rows + 1),
        "carat": carat,
        "cut": rng.choice(np.array(["Fair", "Good", "Very Good", "Premium", "Ideal"]), rows),
        "color": rng.choice(np.array(list("DEFGHIJ")), rows),
        "clarity": rng.choice(np.array(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]), rows),
        **{c: rng.normal(m, s, rows).round(3) for c, m, s in
           (("depth", 61.7, 1.4), ("table", 57.4, 2.2), ("x", 5.7, 1.1), ("y", 5.7, 1.1), ("z", 3.5, 0.7))},
        "sold_on": np.datetime64("2020-01-01") + rng.integers(0, 1400, rows).astype("timedelta64[D]"),
    })
    price = (carat * 4000 + rng.normal(0, 500, rows)).round(0).astype(np.int64)
    return df.with_columns(price=pl.Series(price), expensive=pl.Series(np.where(price > 3000, "yes", "no")))


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    df = make_frame(args.rows)
    from sklearn.model_selection import train_test_split  # imported before timing, as in a warm worker

    def split() -> None:
        n = df.height
        rest, test = train_test_split(np.arange(n), test_size=round(n * 0.2), random_state=1)
        train, valid = train_test_split(rest, test_size=round(n * 0.2), random_state=1)
        for idx in (train, valid, test):
            df[np.sort(idx)]

    split_s = best(split, args.repeat)
    reg_s = best(lambda: prep.prepare(df.drop("expensive"), target="price", seed=1), args.repeat)
    bin_s = best(lambda: prep.prepare(df.drop("price"), target="expensive", seed=1), args.repeat)
    print(f"rows                         {args.rows:,} x {df.width - 1} columns")
    print(f"baseline: the split alone    {split_s:7.2f} s")
    print(f"prepare, regression target   {reg_s:7.2f} s   ({reg_s / split_s:.1f}x the split)")
    print(f"prepare, binary target       {bin_s:7.2f} s   ({bin_s / split_s:.1f}x the split)")


if __name__ == "__main__":
    main()
