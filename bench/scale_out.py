"""Scaling out: tuning trials/minute on PostgreSQL studies and rows/s of Dask scoring, each against
the single-machine default measured in the same run.

    .venv/bin/python bench/scale_out.py [--trials 24] [--rows 3000] [--score-rows 400000] [--score-files 8]
                                        [--only tuning|scoring]

Tuning: the same study (sample 'default', seed, search space, TPE) run end to end with `mlops-tui
tune` in real processes, as:

* journal, 1 worker     the baseline: the run's Optuna journal file, `--jobs 1`
* journal, 2 workers    `--jobs 2` on the journal file
* postgres, 1 worker    `--storage postgresql+psycopg://...`, `--jobs 1`
* postgres, 2 workers   the same with `--jobs 2`
* postgres, 2 hosts     the coordinator on one network-namespace "host" and `mlops-tui worker` on
                        another, PostgreSQL on a third (root only: namespaces; skipped otherwise)

Trials/minute is counted from the first trial's start to the last trial's end as the store recorded
them, so process start-up and the final refit are left out. On 2 cores, two workers of any kind can
at best double a 1-thread trial's rate; more hosts pay when they bring cores of their own, which
namespaces on one machine do not.

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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cli(ws: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "mlops_tui", "--workspace", str(ws), *map(str, args)]


# -- tuning on PostgreSQL ---------------------------------------------------------------------------
SPACE = """\
num_boost_round = 200
early_stopping_rounds = 20

[params.num_leaves]
low = 8
high = 63

[params.learning_rate]
low = 0.02
high = 0.2
log = true
"""


def _rate(ws: Path, run_id: str) -> tuple[float, int, int]:
    """(trials per minute between the first start and the last end, trials, hosts)."""
    from mlops_tui.workspace import Workspace

    trials = [t for t in Workspace.open(ws).store.runs.trials(run_id) if t.started_at and t.ended_at]
    span = (max(t.ended_at for t in trials) - min(t.started_at for t in trials)).total_seconds()
    return 60.0 * len(trials) / max(span, 1e-9), len(trials), len({t.host for t in trials})


def _workspace(base: Path, name: str, rows: int) -> tuple[Path, Path]:
    import polars as pl

    ws = base / name
    subprocess.run(_cli(ws, "init"), check=True, capture_output=True)
    data = base / "default.parquet"
    if not data.exists():
        pl.read_csv(ROOT / "sample_data" / "default.csv").head(rows).write_parquet(data)
    subprocess.run(_cli(ws, "dataset", "add", data, "--name", "default", "--target", "default"),
                   check=True, capture_output=True)
    space = base / "space.toml"
    space.write_text(SPACE)
    return ws, space


def local_row(base: Path, name: str, rows: int, trials: int, jobs: int, storage: str | None) -> tuple[float, int, int]:
    ws, space = _workspace(base, name, rows)
    argv = _cli(ws, "tune", "default", "--trials", trials, "--jobs", jobs, "--space", space, "--json")
    if storage:
        argv += ["--storage", storage]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: {proc.stderr.strip()}")
    return _rate(ws, json.loads(proc.stdout)["run_id"])


def hosts_row(base: Path, rows: int, trials: int) -> tuple[float, int, int]:
    """Coordinator on host 'coord', one `mlops-tui worker` on 'w1', PostgreSQL on 'db'. The
    coordinator is paused (SIGSTOP) until the worker has joined, so both start trials together (a
    process takes seconds to start on a busy machine and the budget is small)."""
    import signal

    from mlops_tui.workspace import Workspace
    from tests.infra.netns import Network
    from tests.infra.postgres import Postgres

    ws, space = _workspace(base, "hosts", rows)
    with Network("bn") as net:
        db, coord, w1 = net.add_host("db"), net.add_host("coord", hostname=socket.gethostname()), net.add_host("w1")
        with Postgres(network=net, host=db) as pg:
            proc = net.run(coord, _cli(ws, "tune", "default", "--trials", trials, "--space", space, "--json",
                                       "--storage", pg.url(), "--detach"), timeout=600)
            if proc.returncode != 0:
                raise SystemExit(f"hosts: {proc.stderr.strip()[-500:]}")
            run = json.loads(proc.stdout)
            os.kill(run["pid"], signal.SIGSTOP)
            log = base / "w1.log"
            with open(log, "w") as err:
                worker = net.popen(w1, [sys.executable, "-m", "mlops_tui", "worker", run["run_id"], "--storage",
                                        pg.url()], stdout=subprocess.DEVNULL, stderr=err)
            try:
                for _ in range(1200):  # bounded: 120 s for the worker to start and join
                    if "joined run" in log.read_text() or worker.poll() is not None:
                        break
                    time.sleep(0.1)
            finally:
                os.kill(run["pid"], signal.SIGCONT)
            for _ in range(36000):  # bounded: one hour for the run
                status = Workspace.open(ws).store.runs.get(run["run_id"]).status
                if status not in ("queued", "running", "stopping"):
                    break
                time.sleep(0.1)
            if status != "completed":
                raise SystemExit(f"hosts: run {status}; see {ws}/runs/{run['run_id']}/run.log")
            worker.wait(timeout=120)
            return _rate(ws, run["run_id"])


def tuning(trials: int, rows: int) -> None:
    from tests.infra.postgres import PASSWORD, Postgres

    print(f"tuning: {trials} trials of the same study (default sample, {rows} rows, 1 LightGBM thread a worker); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    results: list[tuple[str, tuple[float, int, int]]] = []
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        base = Path(tmp)
        results.append(("journal, 1 worker", local_row(base, "j1", rows, trials, 1, None)))
        results.append(("journal, 2 workers", local_row(base, "j2", rows, trials, 2, None)))
        if os.geteuid() == 0:
            with Postgres() as pg:
                os.environ["PGPASSWORD"] = PASSWORD  # as a user would, instead of a password in the URL
                url = pg.url(password=None)
                results.append(("postgres, 1 worker", local_row(base, "p1", rows, trials, 1, url)))
                results.append(("postgres, 2 workers", local_row(base, "p2", rows, trials, 2, url)))
            results.append(("postgres, 2 hosts", hosts_row(base, rows, trials)))
        else:
            print("  (postgres rows skipped: the test PostgreSQL and namespaces need root)")
    baseline = results[0][1][0]
    for label, (rate, n, hosts) in results:
        print(f"  {label:<22} {rate:7.1f} trials/min  ({n} trials, {hosts} host(s))  x{rate / baseline:.2f}")


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
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--score-rows", type=int, default=400_000)
    parser.add_argument("--score-files", type=int, default=8)
    parser.add_argument("--only", choices=("tuning", "scoring"))
    args = parser.parse_args()
    if args.only != "scoring":
        tuning(args.trials, args.rows)
    if args.only != "tuning":
        scoring(args.score_rows, args.score_files)


if __name__ == "__main__":
    main()
