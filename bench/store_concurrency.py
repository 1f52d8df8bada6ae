"""Many processes on one DuckDB store file at once: errors, lost writes, wall time, op latency.

    .venv/bin/python bench/store_concurrency.py [--writers 4] [--ops 200] [--readers 2] [--json]

DuckDB lets one process hold the file at a time, so the store opens, works and closes for every
call and retries a locked file with jittered backoff (store/_db.py). This script checks that this
holds up under a lock storm, the way the TUI, tuning workers and CLI calls will share a store:

* ``--writers`` processes each do ``--ops`` operations, cycling through three kinds of write:
  a new version of the one dataset every writer shares (so version numbers are assigned under
  contention), a trial upsert (first RUNNING, then the same trial again as COMPLETE) and an audit
  event;
* ``--readers`` processes poll what the TUI shows (latest datasets, runs, trials, audit events)
  until the writers are done;
* afterwards the store is checked for lost writes: every dataset version present, numbered
  1..N without gaps or repeats, every trial COMPLETE, every audit event present.

It prints processes, operations, errors, wall time and median/p99 latency per operation, and the
single-process latency of the same writes measured first in the same run (the baseline ratio).
``--without-gate`` makes the workers skip the store's inter-process gate (store/_db.py,
``_Gate``) and rely on DuckDB's own file lock alone, to see why the gate exists: under load that
intermittently loses a commit or fails with "Corrupt database file" while another process
checkpoints.
``tests/unit/test_store_concurrency.py`` runs a small version of it and checks the same things.
The worker processes are this same script (``worker`` sub-command), started with ``subprocess``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_tui.store import Store  # noqa: E402

SHARED_DATASET = "shared"
AUDIT_PREFIX = "stress:"
KINDS = ("dataset", "trial", "audit")


def run_id_of(writer: int) -> str:
    return f"stress-run-{writer:03d}"


def _write(store: Store, writer: int, k: int) -> str:
    """Operation ``k`` of ``writer``; returns its kind. Every write is one store call."""
    kind = KINDS[k % len(KINDS)]
    if kind == "dataset":
        store.datasets.add_version(
            name=SHARED_DATASET, hash=f"w{writer}-op{k}", path=f"artifacts/datasets/w{writer}-{k}.parquet",
            source="bench", rows=k, columns=1, target=None, task=None,
            schema=[{"name": "x", "dtype": "Int64", "nullable": False, "role": "feature"}],
            profile={"x": {"nulls": 0}},
        )
    elif kind == "trial":
        # The trial is first recorded RUNNING and completed by the next trial op, so the final
        # state proves the upsert replaced the row instead of losing or duplicating it.
        number = k // len(KINDS)
        store.runs.upsert_trial(run_id=run_id_of(writer), number=number, state="RUNNING",
                                value=None, params={"lr": 0.1}, pid=os.getpid())
        store.runs.upsert_trial(run_id=run_id_of(writer), number=number, state="COMPLETE",
                                value=float(k), params={"lr": 0.1}, pid=os.getpid(), duration_s=0.0)
    else:
        store.audit.record("bench write", f"{AUDIT_PREFIX}w{writer}:op{k}", "ok", {"k": k})
    return kind


def _read(store: Store, k: int) -> None:
    """What a TUI screen refreshes: one store call per poll, rotating through the lists."""
    which = k % 4
    if which == 0:
        store.datasets.latest()
    elif which == 1:
        store.runs.list(limit=50)
    elif which == 2:
        store.audit.events(obj=AUDIT_PREFIX, limit=50)
    else:
        store.runs.trials_of([run_id_of(0), run_id_of(1)])


def worker(args: argparse.Namespace) -> None:
    """One writer or reader process; prints one JSON line with latencies and errors."""
    if args.without_gate:
        from mlops_tui.store import _db

        _db._Gate._open_lock_file = lambda self: None  # threads still serialized; no flock
    store = Store(Path(args.store))
    latencies: list[float] = []
    errors: list[str] = []
    stop = Path(args.stop) if args.stop else None
    # Start together: a barrier file the parent creates once every worker has been spawned.
    if args.go:
        while not Path(args.go).exists():
            time.sleep(0.005)
    k = 0
    while True:
        if args.role == "writer" and args.ops is not None and k >= args.ops:
            break
        if stop is not None and stop.exists():
            break
        t0 = time.perf_counter()
        try:
            if args.role == "writer":
                _write(store, args.index, k)
            else:
                _read(store, k)
        except Exception as exc:  # noqa: BLE001 - counted and reported, that is the point
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - t0)
        k += 1
        if args.role == "reader" or args.ops is None:  # readers and the tests' background writer
            time.sleep(args.poll)
    print(json.dumps({"role": args.role, "index": args.index, "ops": k, "latencies": latencies,
                      "errors": errors}))


def _spawn(store: Path, role: str, index: int, *, ops: int | None, go: Path | None,
           stop: Path | None, poll: float = 0.05, gate: bool = True) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--store", str(store),
           "--role", role, "--index", str(index), "--poll", str(poll)]
    if not gate:
        cmd.append("--without-gate")
    if ops is not None:
        cmd += ["--ops", str(ops)]
    if go is not None:
        cmd += ["--go", str(go)]
    if stop is not None:
        cmd += ["--stop", str(stop)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_background_writer(store: Path, stop: Path, index: int = 900, pause: float = 0.05) -> subprocess.Popen[str]:
    """A writer that runs until ``stop`` exists: the 'store under concurrent writes' of the tests."""
    return _spawn(store, "writer", index, ops=None, go=None, stop=stop, poll=pause)


def collect(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0 or not out.strip():
        return {"ops": 0, "latencies": [], "errors": [f"worker exited {proc.returncode}: {err.strip()[-500:]}"]}
    return json.loads(out.strip().splitlines()[-1])


def verify(store: Store, writers: int, ops: int) -> list[str]:
    """Every write the workers made is in the store exactly once; returns the problems found."""
    problems = []
    counts = {kind: sum(1 for k in range(ops) if KINDS[k % len(KINDS)] == kind) for kind in KINDS}
    versions = store.datasets.versions(SHARED_DATASET) if counts["dataset"] else []
    expected_versions = writers * counts["dataset"]
    if [v.version for v in versions] != list(range(1, expected_versions + 1)):
        problems.append(f"dataset versions are not 1..{expected_versions}: {[v.version for v in versions]}")
    expected_hashes = {f"w{w}-op{k}" for w in range(writers) for k in range(ops) if KINDS[k % 3] == "dataset"}
    if {v.hash for v in versions} != expected_hashes:
        problems.append(f"dataset versions lost or invented: {len(versions)} of {len(expected_hashes)}")
    trials = store.runs.trials_of([run_id_of(w) for w in range(writers)])
    for w, got in trials.items():
        if len(got) != counts["trial"] or any(t.state != "COMPLETE" for t in got):
            problems.append(f"{w}: {len(got)} trials ({counts['trial']} expected), "
                            f"states {sorted({t.state for t in got})}")
    events = store.audit.events(obj=AUDIT_PREFIX, limit=1_000_000)
    objects = [e.object for e in events]
    expected_objects = {f"{AUDIT_PREFIX}w{w}:op{k}" for w in range(writers) for k in range(ops)
                        if KINDS[k % 3] == "audit"}
    if len(objects) != len(set(objects)) or set(objects) != expected_objects:
        problems.append(f"audit events: {len(objects)} recorded, {len(expected_objects)} expected")
    return problems


def stress(store_path: Path, *, writers: int, ops: int, readers: int, timeout: float = 600,
           gate: bool = True) -> dict[str, Any]:
    """Run the writers and readers at once on ``store_path``; returns figures and problems."""
    store = Store.open(store_path)
    tmp = Path(tempfile.mkdtemp(prefix="store-stress-"))
    go, stop = tmp / "go", tmp / "stop"
    procs = [_spawn(store_path, "writer", w, ops=ops, go=go, stop=None, gate=gate) for w in range(writers)]
    procs += [_spawn(store_path, "reader", r, ops=None, go=go, stop=stop, gate=gate) for r in range(readers)]
    time.sleep(0.5)  # let every interpreter start, so the storm begins at once
    t0 = time.perf_counter()
    go.touch()
    results = [collect(p, timeout) for p in procs[:writers]]
    wall = time.perf_counter() - t0
    stop.touch()
    results += [collect(p, timeout) for p in procs[writers:]]
    write_lat = [x for r in results[:writers] for x in r["latencies"]]
    read_lat = [x for r in results[writers:] for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    return {
        "processes": writers + readers, "writers": writers, "readers": readers,
        "write_ops": sum(r["ops"] for r in results[:writers]),
        "read_ops": sum(r["ops"] for r in results[writers:]),
        "errors": errors, "wall_s": wall,
        "write_latency_s": _summary(write_lat), "read_latency_s": _summary(read_lat),
        "lost_writes": verify(store, writers, ops),
    }


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {"median": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "max": ordered[-1]}


def baseline(store_path: Path, ops: int) -> dict[str, float]:
    """The same writes from one process with nobody else on the file."""
    store = Store.open(store_path)
    latencies = []
    for k in range(ops):
        t0 = time.perf_counter()
        _write(store, 0, k)
        latencies.append(time.perf_counter() - t0)
    return _summary(latencies)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help="internal: one writer or reader process")
    w.add_argument("--store", required=True)
    w.add_argument("--role", choices=["writer", "reader"], required=True)
    w.add_argument("--index", type=int, default=0)
    w.add_argument("--ops", type=int)
    w.add_argument("--go")
    w.add_argument("--stop")
    w.add_argument("--poll", type=float, default=0.05)
    w.add_argument("--without-gate", action="store_true")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--store", help="store file to use (default: a new temp file)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--without-gate", action="store_true",
                        help="workers rely on DuckDB's file lock alone (shows why the gate exists)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="store-bench-"))
    base = None if args.no_baseline else baseline(tmp / "baseline.duckdb", min(args.ops, 60))
    result = stress(Path(args.store) if args.store else tmp / "store.duckdb",
                    writers=args.writers, ops=args.ops, readers=args.readers, gate=not args.without_gate)
    result["baseline_write_latency_s"] = base
    if args.json:
        print(json.dumps(result))
        return
    wl, rl = result["write_latency_s"], result["read_latency_s"]
    print(f"processes        {result['processes']} ({args.writers} writers x {args.ops} ops, "
          f"{args.readers} readers polling)")
    print(f"operations       {result['write_ops']} writes, {result['read_ops']} reads")
    print(f"errors           {len(result['errors'])}" + (f"  first: {result['errors'][0]}" if result["errors"] else ""))
    print(f"lost writes      {'none' if not result['lost_writes'] else result['lost_writes']}")
    print(f"wall time        {result['wall_s']:.2f} s ({result['write_ops'] / result['wall_s']:.0f} writes/s)")
    print(f"write latency    median {wl['median'] * 1000:.1f} ms, p99 {wl['p99'] * 1000:.0f} ms, "
          f"max {wl['max'] * 1000:.0f} ms")
    print(f"read latency     median {rl['median'] * 1000:.1f} ms, p99 {rl['p99'] * 1000:.0f} ms, "
          f"max {rl['max'] * 1000:.0f} ms")
    if base:
        print(f"baseline         one process alone: write median {base['median'] * 1000:.1f} ms, "
              f"p99 {base['p99'] * 1000:.0f} ms -> contended/alone median ratio "
              f"{wl['median'] / base['median']:.1f}x")
    if result["errors"] or result["lost_writes"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
