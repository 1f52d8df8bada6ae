"""What binning the rows once per tuning worker saves on millions of rows.

    .venv/bin/python bench/tune_bins.py [--rows 2000000] [--trials 3] [--rounds 40]

LightGBM bins a Dataset's rows (its feature histograms' bin edges) when it first trains on it. A
tuning worker's trials and its final model all train on the same rows with the same dataset
parameters, so the worker builds one Dataset of them (train.fitted_dataset) and every trial
reuses its bins. Before, each trial built a fresh Dataset: on 8M fitted rows (10M-row diamonds,
`tune --timeout 60`) binning took 20 s of a 46 s trial.

Prints, for ``--trials`` trials of ``--rounds`` rounds on the one-split protocol (a large set's;
the diamonds-like frame of bench/prepare_rows.py, regression on price):

- baseline: each trial on a fresh Dataset of the fitted rows (what every trial did before);
- the trials on the worker's one Dataset (the first of them bins it), and the ratio;
- the final refit on the fitted rows, on a fresh Dataset and on the worker's binned one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prepare_rows import make_frame  # noqa: E402

from mlops_tui.training import prep  # noqa: E402
from mlops_tui.training.tuning import protocol, train  # noqa: E402


def main() -> None:
    import lightgbm as lgb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    p = prep.prepare(make_frame(args.rows).drop("expensive"), target="price", seed=1)
    config = {"target": "price", "seed": 0, "protocol": {"kind": "holdout"}}
    folds = protocol.folds(config, p)
    params = {**train.full_params(config, {}, p), "num_threads": 1}
    fitted = train.fitted_dataset(p, params)

    def fresh() -> lgb.Dataset:
        return lgb.Dataset(fitted.X, label=fitted.y, feature_name=p.signature.model_feature_names,
                           categorical_feature=[i for i, f in enumerate(p.signature.features)
                                                if f.kind == "categorical"] or "auto",
                           free_raw_data=False, params={"feature_pre_filter": False})

    def trials(data: object) -> list[float]:
        times = []
        for number in range(args.trials):
            started = time.perf_counter()
            dataset = data() if callable(data) else data
            lgb.cv({**params, "num_leaves": 15 + 8 * number}, dataset, num_boost_round=args.rounds, folds=folds)
            times.append(time.perf_counter() - started)
        return times

    before, after = trials(fresh), trials(fitted.data)
    final = {**params, "num_boost_round": args.rounds}
    started = time.perf_counter()
    lgb.train({k: v for k, v in final.items() if k != "num_boost_round"}, fresh(), num_boost_round=args.rounds)
    refit_fresh = time.perf_counter() - started
    started = time.perf_counter()
    train.fit_final(p, final)
    refit_reused = time.perf_counter() - started
    print(f"rows                               {args.rows:,} ({len(fitted.y):,} fitted), {args.rounds} rounds a trial")
    print(f"baseline: a fresh Dataset a trial  {' '.join(f'{t:6.2f}' for t in before)} s  (sum {sum(before):.1f})")
    print(f"one Dataset per worker             {' '.join(f'{t:6.2f}' for t in after)} s  (sum {sum(after):.1f}, "
          f"{sum(after) / sum(before):.2f}x)")
    print(f"final refit: fresh {refit_fresh:.2f} s, on the worker's bins {refit_reused:.2f} s "
          f"({refit_reused / refit_fresh:.2f}x)")


if __name__ == "__main__":
    main()
