"""Scaling out: rows/s of Dask scoring by worker count against local `score` (tuning on PostgreSQL: the other half).

    .venv/bin/python bench/scale_out.py [--score-rows 400000] [--score-files 8]

Scoring: the same Parquet inputs (an `id` + 20 float features) scored end to end with `mlops-tui
score` in real processes, as:

* local score                 the baseline: the local pipeline, LightGBM on every core
* dask, own LocalCluster      `--engine dask` with no scheduler: the job starts (and pays for) a
                              cluster of one worker per core
* dask, running, N worker(s)  `--scheduler` of a LocalCluster started beforehand with N
                              single-threaded workers (warmed up with one job first)
* dask, 2 namespace hosts     a scheduler and two workers each in a network namespace of its own,
                              the CLI in a third (root only: namespaces; skipped otherwise)

Each partition is a whole input file, so every row does the same work; rows/s is what the job
recorded (its own wall time, cluster start-up included where the job starts one), printed with its
ratio to local scoring measured in the same run. The machine is shared: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cli(ws: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "mlops_tui", "--workspace", str(ws), *map(str, args)]


# -- scoring on Dask ---------------------------------------------------------------------------------
def _score(ws: Path, model: str, inputs: list[Path], out: Path, *extra: object, net=None, host=None) -> dict:
    argv = _cli(ws, "score", model, *inputs, "--output", out, "--json", *extra)
    if net is not None:
        proc = net.run(host, argv, timeout=3600, env={**os.environ, "NO_COLOR": "1"})
    else:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"score {' '.join(map(str, extra))}: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def scoring(rows: int, files: int) -> None:
    """rows/s of `mlops-tui score` by engine and worker count, against local scoring in the same run."""
    from distributed import LocalCluster

    from mlops_tui.workspace import Workspace
    from tests.scoring_helpers import synthetic_model, write_synthetic_parquet

    print(f"scoring: {rows:,} rows x 20 features in {files} Parquet files, a 100-tree model; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        base = Path(tmp)
        ws = base / "ws"
        model = synthetic_model(Workspace.open(ws, create=True), n_features=20, rounds=100, num_leaves=31,
                                n_train=20_000).ref
        inputs = [write_synthetic_parquet(base / f"in-{i}.parquet", rows // files, n_features=20)
                  for i in range(files)]
        per_file = rows // files
        results: list[tuple[str, dict]] = [("local score", _score(ws, model, inputs, base / "local.parquet"))]
        # Each partition a whole file: the same work per task whatever the worker count.
        dask = ("--engine", "dask", "--partition-rows", per_file)
        results.append(("dask, own LocalCluster", _score(ws, model, inputs, base / "own.parquet", *dask)))
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                address = cluster.scheduler_address
                _score(ws, model, inputs[:1], base / "warm.parquet", *dask, "--scheduler", address)  # imports
                results.append((f"dask, running, {n} worker(s)",
                                _score(ws, model, inputs, base / f"run{n}.parquet", *dask, "--scheduler", address)))
        if os.geteuid() == 0:
            from tests.dask_helpers import DaskHosts
            from tests.infra.netns import Network

            with Network("bd") as net, DaskHosts(net, workers=("w1", "w2")) as hosts:
                _score(ws, model, inputs[:1], base / "warm.parquet", *dask, "--scheduler", hosts.address,
                       net=net, host=hosts.client)
                results.append(("dask, 2 namespace hosts", _score(ws, model, inputs, base / "hosts.parquet", *dask,
                                                                  "--scheduler", hosts.address, net=net,
                                                                  host=hosts.client)))
        else:
            print("  (namespace hosts skipped: they need root)")
    baseline = results[0][1]["rows_per_s"]
    for label, job in results:
        workers = job.get("workers") or []
        print(f"  {label:<26} {job['rows_per_s']:10,.0f} rows/s  ({job['seconds']:.1f} s, "
              f"{len(workers) or 1} worker(s))  x{job['rows_per_s'] / baseline:.2f}")
    print("  Dask pays with cores or hosts of its own: on one 2-core machine its workers share the cores that")
    print("  local scoring already keeps busy, and each job adds scheduling, per-task start and (own cluster)")
    print("  cluster start-up. Several real servers with the inputs on shared storage multiply the rate.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score-rows", type=int, default=400_000)
    parser.add_argument("--score-files", type=int, default=8)
    args = parser.parse_args()
    scoring(args.score_rows, args.score_files)


if __name__ == "__main__":
    main()
