"""Which pruner helps `tune`: median, successive halving or none, on real data sets of the corpus.

    .venv/bin/python bench/tune_pruners.py [--only oj,carseats] [--trials 16]

For each set and pruner: one `tune --trials N --jobs 1 --seed 0` (the same trials budget, one worker,
so the only difference is the pruner, set by a `--space` file), on the set's 75 % (the split of
bench/vs_flaml.py). Prints the wall seconds, the trials pruned, the best cross-validated value and
the holdout score, with each pruner's time as a ratio of no pruning, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from bench.vs_flaml import METRIC, MLOPS, split  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="oj,carseats")
    ap.add_argument("--trials", type=int, default=16)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tune-pruners-"))
    print(f"{'set':<10} {'pruner':<8} {'seconds':>8} {'x none':>7} {'pruned':>6} {'best':>9} {'holdout':>9}")
    for src in corpus.materialise(corpus.DEFAULT_DIR, args.only.split(",")):
        task = corpus.BY_NAME[src.name].task
        folder = work / src.name
        folder.mkdir()
        train_csv, _ = split(src, task, folder)
        metric = METRIC[task][1]
        rows = {}
        for pruner in ("none", "median", "halving"):
            space = folder / f"{pruner}.toml"
            space.write_text(f'pruner = "{pruner}"\n')
            env = {**os.environ, "MLOPS_WORKSPACE": str(folder / f"ws-{pruner}"), "NO_COLOR": "1"}
            subprocess.run([MLOPS, "dataset", "add", str(train_csv), "--name", src.name, "--target", src.target],
                           check=True, capture_output=True, env=env)
            started = time.perf_counter()
            res = subprocess.run([MLOPS, "tune", src.name, "--trials", str(args.trials), "--jobs", "1", "--metric",
                                  metric, "--space", str(space), "--json"], capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - started
            if res.returncode != 0:
                print(f"{src.name} {pruner}: {res.stderr.strip()[-300:]}", file=sys.stderr)
                continue
            out = json.loads(res.stdout)
            shown = subprocess.run([MLOPS, "run", "show", out["run_id"], "--json"], capture_output=True, text=True,
                                   env=env, check=True)
            pruned = sum(t["state"] == "PRUNED" for t in json.loads(shown.stdout)["trials"])
            rows[pruner] = (seconds, pruned, out["best_value"], out["test_metrics"].get(metric))
        for pruner, (seconds, pruned, best, holdout) in rows.items():
            ratio = seconds / rows["none"][0] if "none" in rows else float("nan")
            print(f"{src.name:<10} {pruner:<8} {seconds:>8.1f} {ratio:>7.2f} {pruned:>6} {best:>9.4f} {holdout:>9.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
