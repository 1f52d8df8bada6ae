import sys, time, numpy as np, lightgbm as lgb
from concurrent.futures import ProcessPoolExecutor
def fit(args):
    n, threads = args
    rng = np.random.default_rng(0); X = rng.normal(size=(n, 20)); y = X[:, 0] + np.sin(X[:, 1]) + rng.normal(size=n)
    t = time.perf_counter()
    for _ in range(3):
        lgb.train({"objective": "regression", "verbosity": -1, "num_threads": threads, "deterministic": True, "force_row_wise": True},
                  lgb.Dataset(X, y), num_boost_round=100)
    return (time.perf_counter() - t) / 3
if __name__ == "__main__":
    for n in (300, 1500, 5000, 20000, 60000):
        t1 = fit((n, 1)); t2 = fit((n, 2))
        with ProcessPoolExecutor(2) as ex:
            list(ex.map(fit, [(300, 1)] * 2))
            t = time.perf_counter(); par = list(ex.map(fit, [(n, 1)] * 2)); wall = time.perf_counter() - t
        print(f"n={n:6d}  1 thread {t1*1000:7.1f} ms  2 threads {t2*1000:7.1f} ms  -> fits/s: threads {1/t2:6.1f}  2 workers {2/max(par):6.1f}", flush=True)
