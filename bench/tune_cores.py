"""Threads per trial or worker processes? LightGBM fits per second both ways, by data size.

    .venv/bin/python bench/tune_cores.py [--sizes 300,1500,5000,20000,60000]

For each size (rows x 20 features, regression, 100 rounds): one fit on 1 thread, one on every core
(threads), and one fit per core in parallel processes of 1 thread (workers). Prints fits per
second for threads and workers, measured in the same run. This chose the default of `tune`
(protocol.resources): on this 2-core machine, shared with other jobs, workers won at every size
(e.g. 300 rows: 21.7 vs 1.3 fits/s; 60,000 rows: 0.5 vs 0.04), because OpenMP threads spin waiting
for each other when a core is taken by someone else.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from mlops_tui.training.tuning.protocol import cores


def fit(args: tuple[int, int]) -> float:
    """Seconds per fit of ``n`` rows on ``threads`` threads (mean of 3)."""
    import lightgbm as lgb

    n, threads = args
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 20))
    y = X[:, 0] + np.sin(X[:, 1]) + rng.normal(size=n)
    params = {"objective": "regression", "verbosity": -1, "num_threads": threads, "deterministic": True,
              "force_row_wise": True}
    started = time.perf_counter()
    for _ in range(3):
        lgb.train(params, lgb.Dataset(X, y), num_boost_round=100)
    return (time.perf_counter() - started) / 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300,1500,5000,20000,60000")
    sizes = [int(s) for s in ap.parse_args().sizes.split(",")]
    k = cores()
    print(f"{k} core(s)")
    with ProcessPoolExecutor(k) as pool:
        list(pool.map(fit, [(300, 1)] * k))  # warm the workers (imports)
        for n in sizes:
            one, threads = fit((n, 1)), fit((n, k))
            started = time.perf_counter()
            list(pool.map(fit, [(n, 1)] * k))
            workers = k * 3 / (time.perf_counter() - started)  # each worker made 3 fits
            print(f"{n:>6} rows: 1 thread {one * 1000:7.1f} ms/fit; fits/s with {k} threads {1 / threads:6.2f}, "
                  f"with {k} workers {workers:6.2f} (workers/threads {workers * threads:.1f}x)", flush=True)

if __name__ == "__main__":
    main()
