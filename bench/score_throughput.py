"""Batch-scoring speed and memory, against baselines measured in the same run.

    .venv/bin/python bench/score_throughput.py [--rows 2000000] [--rss-rows 1000000 8000000] [--keep DIR]

1. Generates a Parquet file of ``--rows`` rows (an `id` + 20 float features) and trains a 200-tree
   LightGBM regression model on 50k rows of the same distribution (registered in a temp workspace).
2. Measures, on the same rows:
   - raw ``Booster.predict`` on the feature matrix already in memory (all cores) — the ceiling;
   - a straightforward hand-written loop: read a batch → predict → write a batch, one after another;
   - ``mlops_tui.serving.scoring.score`` end to end (schema check, job record, input hashing, atomic output);
   - the same, through a deployment on the compiled engine (``deploy --engine compiled``: lleaves),
     compiled and checked first (the compile time is printed apart, it is paid once per model).
   and prints rows/s of each and the two ratios (scoring / raw predict, scoring / hand-written loop).
3. Peak RSS of ``mlops-tui score`` in a child process on 1M and 8M rows (each in a fresh wrapper
   process so ``RUSAGE_CHILDREN`` reports only that run) and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
COEF = np.random.default_rng(42).standard_normal(N_FEATURES)


def make_parquet(path: Path, rows: int, chunk: int = 500_000) -> Path:
    """Written chunk by chunk so generating 8M rows never holds them all."""
    import pyarrow.parquet as pq

    if path.exists():
        return path
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        X = np.random.default_rng(start).standard_normal((n, N_FEATURES))
        part = pl.DataFrame({"id": np.arange(start, start + n, dtype=np.int64),
                             **{c: X[:, i] for i, c in enumerate(FEATURES)}}).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, part.schema)
        writer.write_table(part, row_group_size=100_000)
    assert writer is not None
    writer.close()
    return path


def train_model(ws):
    import lightgbm as lgb

    from mlops_tui.data import datasets
    from mlops_tui.training.modelfile import save_model
    from mlops_tui.training.signature import Feature, Signature

    X = np.random.default_rng(7).standard_normal((50_000, N_FEATURES))
    y = X @ COEF + np.sin(X[:, 0] * 3) + 0.1 * np.random.default_rng(8).standard_normal(len(X))
    booster = lgb.train({"objective": "regression", "verbose": -1, "seed": 0}, lgb.Dataset(X, label=y,
                        feature_name=FEATURES), num_boost_round=200)
    sig = Signature("regression", "y", tuple(Feature(c, "numeric", c, "Float64") for c in FEATURES),
                    id_columns=("id",))
    path, digest = save_model(booster, {"signature": sig.to_json(), "task": "regression"}, ws.artifacts / "models")
    # The training rows as a dataset: the compiled engine checks itself against LightGBM on them.
    train = ws.root / "bench-train.parquet"
    pl.DataFrame({**{c: X[:, i] for i, c in enumerate(FEATURES)}, "y": y}).write_parquet(train)
    dv, _ = datasets.add(ws, str(train), name="bench-train", target="y")
    ws.store.models.register(name="bench", path=ws.relpath(path), sha256=digest, task="regression",
                             signature=sig.to_json(), metrics={"primary_metric": "rmse", "rmse": 0.5},
                             dataset=dv.name, dataset_version=dv.version)
    return booster


def raw_predict(booster, path: Path, threads: int) -> float:
    X = pl.read_parquet(path, columns=FEATURES).to_numpy(order="c")
    t = time.perf_counter()
    booster.predict(X, num_threads=threads)
    return time.perf_counter() - t


def hand_loop(booster, path: Path, out: Path, threads: int, batch: int = 100_000) -> float:
    """What most people write first: read a batch, predict, write, repeat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = time.perf_counter()
    writer = None
    for rb in pq.ParquetFile(path).iter_batches(batch_size=batch, columns=["id", *FEATURES]):
        df = pl.from_arrow(rb)
        pred = booster.predict(df.select(FEATURES).to_numpy(), num_threads=threads)
        table = pa.table({"id": df["id"].to_arrow(), "prediction": pa.array(pred)})
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return time.perf_counter() - t


def compiled_engine(ws, data: Path, tmp: Path, t_local: float, n: int) -> None:
    """End-to-end `score` through a compiled deployment, against the local engine's run above."""
    from mlops_tui.registry import models as registry
    from mlops_tui.serving import scoring

    t = time.perf_counter()
    dep = registry.deploy(ws, "bench:1", "bench-compiled", engine="compiled")
    compile_s = time.perf_counter() - t
    check = dep.engine_info["check"]
    job = scoring.score(ws, "bench-compiled", [str(data)], str(tmp / "scored-compiled.parquet"))
    assert job.engine == "compiled"
    print(f"compiled engine: compile + check : {compile_s:.1f} s once (max abs diff {check['max_abs_diff']:.2g} "
          f"on {check['rows']:,} rows)")
    print(f"scoring.score, compiled engine  : {n / job.seconds:>12,.0f} rows/s  ({job.seconds:.2f} s, job {job.job_id})")
    print(f"ratio compiled / local (e2e)    : {t_local / job.seconds:.2f}   (target ≥ 2.50)")


def peak_rss_mb(ws_root: Path, data: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `mlops-tui score` on ``data`` in a child process."""
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t, r.returncode)"
    )
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "mlops_tui", "--workspace", str(ws_root),
           "score", "bench", str(data), "--output", str(out), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    mb, seconds, rc = res.stdout.split()
    if rc != "0":
        raise SystemExit(f"score failed on {data}: {res.stderr}")
    return float(mb), float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--rss-rows", type=int, nargs=2, default=[1_000_000, 8_000_000])
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-compiled", action="store_true", help="Leave out the compiled engine (needs the extra).")
    ap.add_argument("--keep", type=Path, help="Keep generated files in this folder (reused next time).")
    args = ap.parse_args()

    from mlops_tui.serving import scoring
    from mlops_tui.workspace import Workspace

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="score-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        ws_root = tmp / "ws"
        shutil.rmtree(ws_root, ignore_errors=True)
        ws = Workspace.open(ws_root, create=True)
        threads = scoring.cores()
        print(f"cores: {threads}; generating {args.rows:,} rows × {N_FEATURES} features ...", flush=True)
        data = make_parquet(tmp / f"rows_{args.rows}.parquet", args.rows)
        booster = train_model(ws)

        t_raw = raw_predict(booster, data, threads)
        t_loop = hand_loop(booster, data, tmp / "hand.parquet", threads)
        job = scoring.score(ws, "bench", [str(data)], str(tmp / "scored.parquet"))
        t_score = job.seconds
        n = args.rows
        print(f"raw Booster.predict (in memory) : {n / t_raw:>12,.0f} rows/s  ({t_raw:.2f} s)")
        print(f"hand-written read→predict→write : {n / t_loop:>12,.0f} rows/s  ({t_loop:.2f} s)")
        print(f"mlops_tui.serving.scoring.score         : {n / t_score:>12,.0f} rows/s  ({t_score:.2f} s, job {job.job_id})")
        print(f"ratio scoring / raw predict     : {t_raw / t_score:.2f}   (target ≥ 0.80)")
        print(f"ratio scoring / hand-written    : {t_loop / t_score:.2f}   (target > 1.00)")
        if not args.skip_compiled:
            compiled_engine(ws, data, tmp, t_score, n)

        if not args.skip_rss:
            small, big = args.rss_rows
            results = []
            for rows in (small, big):
                path = make_parquet(tmp / f"rows_{rows}.parquet", rows)
                mb, secs = peak_rss_mb(ws_root, path, tmp / f"rss_{rows}.parquet")
                results.append(mb)
                print(f"peak RSS scoring {rows:>10,} rows : {mb:8.0f} MB  ({secs:.1f} s)", flush=True)
            print(f"RSS ratio {big:,} / {small:,} rows   : {results[1] / results[0]:.2f}   (target ≤ 1.20)")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            for f in tmp.glob("*.parquet"):
                if not f.name.startswith("rows_"):
                    f.unlink()


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
