"""Bench: `run compare` over 50 runs and `run list` over 1,000 runs on a generated store.

Generates a workspace with N runs (default 1,000), each with 20 trials and a holdout
evaluation, through the store's typed API only, then times:
  * in-process: compare.compare(ws, 50 ids), ws.store.runs.list() (all runs), and as a baseline
    one store open + one single-row read (ws.store.runs.get) measured in the same run;
  * as CLI subprocesses (wall time incl. interpreter start): `run compare <50 ids> --json`,
    `run list --json`, and `dataset list --json` as the baseline of a trivial command.
Prints medians and ratios to the baselines. Usage: python bench/compare_runs.py [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_tui.evaluation import compare  # noqa: E402
from mlops_tui.workspace import Workspace  # noqa: E402

PARAMS = ("learning_rate", "num_leaves", "min_child_samples", "feature_fraction", "lambda_l2")


def generate(ws: Workspace, n_runs: int, trials_per_run: int = 20, seed: int = 0) -> list[str]:
    """N completed binary runs on one dataset, with trials and holdout evaluations."""
    rng = random.Random(seed)
    ws.store.datasets.add_version(name="bench", hash="0" * 64, path="artifacts/datasets/x.parquet",
                                  source="generated", rows=10_000, columns=5, target="y", task="binary",
                                  schema=[], profile={})
    ids = []
    t0 = time.perf_counter()
    for n in range(n_runs):
        run_id = uuid.uuid4().hex[:12]
        params = {"learning_rate": round(rng.uniform(0.01, 0.3), 4), "num_leaves": rng.randint(8, 128),
                  "min_child_samples": rng.randint(5, 100), "feature_fraction": round(rng.uniform(0.5, 1), 3),
                  "lambda_l2": round(rng.uniform(0, 5), 3)}
        auc = round(rng.uniform(0.85, 0.95), 5)
        metrics = {"roc_auc": auc, "pr_auc": auc - 0.3, "log_loss": 1.1 - auc, "brier": (1 - auc) / 2,
                   "accuracy": auc + 0.02, "precision": 0.6, "recall": 0.4, "f1": 0.48,
                   "threshold": 0.5, "holdout_rows": 2000, "holdout_hash": "abc123"}
        ws.store.runs.create(run_id=run_id, name=f"bench-{n}", dataset="bench", dataset_version=1,
                             target="y", task="binary", metric="roc_auc", direction="maximize", seed=n,
                             config={"trials": trials_per_run}, n_trials_requested=trials_per_run,
                             status="completed")
        ws.store.runs.record_trials(run_id, [
            {"number": t, "state": "COMPLETE", "value": round(auc - 0.001 * t, 5), "params": params,
             "duration_s": 0.5} for t in range(trials_per_run)])
        ws.store.runs.update(run_id, best_value=auc, best_params=params, test_metrics=metrics)
        ws.store.runs.add_evaluation(eval_id=uuid.uuid4().hex[:12], run_id=run_id, dataset="bench",
                                     dataset_version=1, kind="holdout", task="binary", metrics=metrics)
        ids.append(run_id)
        if (n + 1) % 200 == 0:
            print(f"  generated {n + 1} runs ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return ids


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _cli(ws: Workspace, *args: str, repeat: int = 3) -> float | None:
    """Median wall time of the command as a child process; None (with a note) if it fails."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            print(f"  `{' '.join(args[:2])}` failed: {proc.stderr.strip()[-200:]}", file=sys.stderr)
            return None
    return statistics.median(times)


def _line(label: str, seconds: float | None, base: float | None) -> str:
    if seconds is None:
        return f"  {label:<40} n/a"
    ratio = f"  ({seconds / base:.2f}x baseline)" if base else ""
    return f"  {label:<40} {seconds * 1000:7.0f} ms{ratio}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--compare", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", help="keep (or reuse) the generated workspace in this folder")
    args = ap.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-compare-")) / "ws"
    reuse = (root / "store.duckdb").exists()
    ws = Workspace.open(root, create=True)
    if reuse:
        ids = [r.run_id for r in ws.store.runs.list()]
        print(f"reusing {root} with {len(ids)} runs", file=sys.stderr)
    else:
        t = time.perf_counter()
        ids = generate(ws, args.runs)
        print(f"generated {len(ids)} runs in {time.perf_counter() - t:.1f} s at {root}", file=sys.stderr)
    some = ids[: args.compare]

    base = _median_time(lambda: ws.store.runs.get(ids[0]), args.repeat)
    cmp_s = _median_time(lambda: compare.compare(ws, some), args.repeat)
    list_s = _median_time(lambda: ws.store.runs.list(), args.repeat)
    n_listed = len(ws.store.runs.list())
    print(f"in-process (median of {args.repeat}):")
    print(f"  baseline: one store open + get one run   {base * 1000:7.1f} ms")
    print(f"  compare {len(some)} runs                     {cmp_s * 1000:7.1f} ms  ({cmp_s / base:.1f}x baseline)")
    print(f"  list {n_listed} runs (store)               {list_s * 1000:7.1f} ms  ({list_s / base:.1f}x baseline)")

    cli_base = _cli(ws, "dataset", "list", "--json")
    print("CLI subprocess wall time (median of 3, incl. interpreter start):")
    print(_line("baseline: dataset list --json", cli_base, None))
    print(_line(f"run compare {len(some)} runs --json", _cli(ws, "run", "compare", *some, "--json"), cli_base))
    print(_line(f"run list ({n_listed} runs) --json", _cli(ws, "run", "list", "--json"), cli_base))
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
