"""Batch-scoring speed and memory, against baselines measured in the same run.

    .venv/bin/python bench/score_throughput.py [--rows 2000000] [--repeat 3]
        [--rss-rows 1000000 8000000] [--skip-rss] [--keep DIR]

Speed, for a small model (75 trees) and a large one (250 trees), on the same ``--rows``-row Parquet
file (an ``id`` + 20 float features): rows/s of

- raw ``Booster.predict`` on the feature matrix already in memory (all cores): the ceiling;
- the naive loop: read the whole file, predict, write the columns ``score`` writes with its codec
  (what most people write first; it needs memory for the whole file);
- ``mlops_tui.serving.scoring.score`` end to end (schema check, job record, input hashing, drift
  statistics, atomic output), in constant memory.

The three run interleaved ``--repeat`` times and the best of each is kept (the machine is shared:
the best run is the one least disturbed). Targets (issue 11): score >= 1.0x the naive loop for both
models and >= 0.8x raw predict for the large one.

Memory: peak RssAnon (anonymous memory: what the process allocated, not the page cache of the
files it reads) of ``mlops-tui score`` with the small model (memory is the pipeline's, not the
model's; the large one took ~3 of the bench's minutes here) in a child process, sampled from /proc every 20 ms, on
``--rss-rows`` rows, for a file written by Polars (``sink_parquet``, its default row groups) and
for one written as a single row group. Target: the larger within 20 % of the smaller, per layout.

Compiled engine (unless ``--skip-compiled``): the large model deployed with ``--engine compiled``
(lleaves; compile + check printed apart, paid once per model), scored end to end like the local one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
COEF = np.random.default_rng(42).standard_normal(N_FEATURES)
MODELS = {"small": 75, "large": 250}  # trees
TASKS = {"small": "binary", "large": "regression"}


def make_parquet(path: Path, rows: int, layout: str = "polars") -> Path:
    """``layout`` "polars": written by Polars' streaming sink with its default row groups, never
    all in memory; "single": one row group (built in memory once, as such files are)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    if layout == "polars":
        lf = pl.LazyFrame().select(pl.int_range(rows, dtype=pl.Int64).alias("id"))
        # Deterministic pseudo-random floats in [-3, 3) from hashes: no numpy array of the whole file.
        lf = lf.with_columns([((pl.col("id").hash(seed=i) % 2_000_003).cast(pl.Float64) / 2_000_003 * 6 - 3)
                              .alias(c) for i, c in enumerate(FEATURES)])
        lf.sink_parquet(path)
        return path
    parts = []
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        X = np.random.default_rng(start).uniform(-3, 3, (n, N_FEATURES))
        parts.append(pa.table({"id": np.arange(start, start + n, dtype=np.int64),
                               **{c: X[:, i] for i, c in enumerate(FEATURES)}}))
    pq.write_table(pa.concat_tables(parts), path, row_group_size=rows)
    return path


def train_models(ws) -> dict[str, object]:
    """Both models, registered as ``small`` and ``large`` (binary and regression) with a training
    dataset and the drift reference training writes, so scoring measures drift as a deployment would."""
    import lightgbm as lgb

    from mlops_tui.training import reference
    from mlops_tui.training.modelfile import save_model
    from mlops_tui.training.signature import Feature, Signature
    from tests.monitor_helpers import register_dataset

    X = np.random.default_rng(7).uniform(-3, 3, (50_000, N_FEATURES))
    y = X @ COEF + np.sin(X[:, 0] * 3) + 0.1 * np.random.default_rng(8).standard_normal(len(X))
    train = pl.DataFrame({"id": np.arange(len(X)), **{c: X[:, i] for i, c in enumerate(FEATURES)}, "y": y})
    register_dataset(ws, train, "train", "y", "regression")
    boosters = {}
    for name, trees in MODELS.items():
        task = TASKS[name]
        label = (y > np.median(y)).astype(int) if task == "binary" else y
        params = {"objective": task, "verbose": -1, "seed": 0, "num_leaves": 31 if name == "small" else 63}
        booster = lgb.train(params, lgb.Dataset(X, label=label, feature_name=FEATURES), num_boost_round=trees)
        sig = Signature(task, "y", tuple(Feature(c, "numeric", c, "Float64") for c in FEATURES),
                        classes=("0", "1") if task == "binary" else (), id_columns=("id",))
        path, digest = save_model(booster, {"signature": sig.to_json(), "task": task}, ws.artifacts / "models")
        # The drift reference beside the model, as training writes it: otherwise the first `score`
        # would build it from the dataset snapshot (once, ~1 s) inside a timed run.
        reference.write(path, reference.build(sig, booster, train, model_sha256=digest, dataset="train:1"))
        ws.store.models.register(name=name, path=ws.relpath(path), sha256=digest, task=task, signature=sig.to_json(),
                                 dataset="train", dataset_version=1, metrics={"primary_metric": "rmse", "rmse": 0.5})
        boosters[name] = booster
    return boosters


def raw_predict(booster, X: np.ndarray, threads: int) -> float:
    t = time.perf_counter()
    booster.predict(X, num_threads=threads)
    return time.perf_counter() - t


def naive(booster, name: str, path: Path, out: Path, threads: int) -> float:
    """Read everything, predict, write what ``score`` writes (ids, the prediction, a classifier's
    class probabilities, model name, version and time) with its codec."""
    from mlops_tui.serving.io import COMPRESSION

    t = time.perf_counter()
    df = pl.read_parquet(path)
    pred = pl.Series(booster.predict(df.select(FEATURES).to_numpy(), num_threads=threads))
    if TASKS[name] == "binary":
        outputs = [pl.when(pred > 0.5).then(pl.lit("1")).otherwise(pl.lit("0")).alias("prediction"),
                   (1 - pred).alias("proba_0"), pred.alias("proba_1")]
    else:
        outputs = [pred.alias("prediction")]
    df.select("id", *outputs, model_name=pl.lit(name), model_version=pl.lit(1, pl.Int32),
              scored_at=pl.lit(datetime.now(UTC))).write_parquet(out, compression=COMPRESSION)
    return time.perf_counter() - t


def compiled(ws, data: Path, tmp: Path, t_local: float, n: int) -> None:
    """End-to-end ``score`` of the large model through a compiled deployment, against the local run."""
    from mlops_tui.registry import models as registry
    from mlops_tui.serving import scoring

    t = time.perf_counter()
    dep = registry.deploy(ws, "large:1", "large-compiled", engine="compiled")
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    job = scoring.score(ws, "large-compiled", [str(data)], str(tmp / "scored-compiled.parquet"))
    seconds = time.perf_counter() - t
    check = (dep.engine_info or {}).get("check", {})
    print(f"compiled engine (large model): compile + check {compile_s:.1f} s once "
          f"(max abs diff {check.get('max_abs_diff', float('nan')):.2g}); score {n / seconds:,.0f} rows/s, "
          f"{t_local / seconds:.2f}x the local engine (job engine: {job.engine})", flush=True)


def peak_rss(cmd: list[str], every: float = 0.02) -> tuple[float, float, float]:
    """(peak RssAnon MB, peak VmRSS MB, seconds) of ``cmd``, sampled from /proc/PID/status."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    anon = rss = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            anon = max(anon, int(fields["RssAnon"].split()[0]))
            rss = max(rss, int(fields["VmRSS"].split()[0]))
        except (OSError, KeyError, ValueError):
            pass  # between exit and reaping
        time.sleep(every)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return anon / 1024, rss / 1024, time.perf_counter() - t


def speed(ws, boosters, data: Path, tmp: Path, repeat: int) -> dict[str, float]:
    from mlops_tui.serving import scoring

    threads = scoring.cores()
    n = pl.scan_parquet(data).select(pl.len()).collect().item()
    X = pl.read_parquet(data, columns=FEATURES).to_numpy()
    for name, booster in boosters.items():
        best = {"raw": float("inf"), "naive": float("inf"), "score": float("inf")}
        for _ in range(repeat):  # interleaved, so a busy spell hurts all three alike
            best["raw"] = min(best["raw"], raw_predict(booster, X, threads))
            best["naive"] = min(best["naive"], naive(booster, name, data, tmp / "naive.parquet", threads))
            t = time.perf_counter()
            scoring.score(ws, name, [str(data)], str(tmp / "scored.parquet"))
            best["score"] = min(best["score"], time.perf_counter() - t)
        print(f"{name} model ({MODELS[name]} trees), {n:,} rows, best of {repeat}:")
        print(f"  raw Booster.predict (in memory)  : {n / best['raw']:>10,.0f} rows/s")
        print(f"  naive read all→predict→write     : {n / best['naive']:>10,.0f} rows/s")
        print(f"  mlops_tui score                  : {n / best['score']:>10,.0f} rows/s")
        print(f"  score / naive                    : {best['naive'] / best['score']:.2f}   (target ≥ 1.00)")
        target = "   (target ≥ 0.80)" if name == "large" else ""
        print(f"  score / raw predict              : {best['raw'] / best['score']:.2f}{target}", flush=True)
    del X
    return best


def memory(ws_root: Path, tmp: Path, rows: list[int]) -> None:
    for layout in ("polars", "single"):
        peaks = []
        for n in rows:
            path = make_parquet(tmp / f"{layout}_{n}.parquet", n, layout)
            cmd = [sys.executable, "-m", "mlops_tui", "--workspace", str(ws_root), "score", "small", str(path),
                   "--output", str(tmp / "rss.parquet"), "--json"]
            anon, rss, secs = peak_rss(cmd)
            peaks.append(anon)
            print(f"peak RssAnon, {layout:>6} row groups, {n:>10,} rows: {anon:7.0f} MB  (VmRSS {rss:.0f} MB, "
                  f"{secs:.1f} s)", flush=True)
        print(f"  ratio {rows[1]:,} / {rows[0]:,} rows: {peaks[1] / peaks[0]:.2f}   (target ≤ 1.20)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-rows", type=int, nargs=2, default=[1_000_000, 8_000_000])
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-compiled", action="store_true", help="Leave out the compiled engine (needs the extra).")
    ap.add_argument("--keep", type=Path, help="Keep generated files in this folder (reused next time).")
    args = ap.parse_args()

    from mlops_tui.workspace import Workspace

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="score-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        ws_root = tmp / "ws"
        shutil.rmtree(ws_root, ignore_errors=True)
        ws = Workspace.open(ws_root, create=True)
        print(f"cores: {os.cpu_count()} (load average {os.getloadavg()[0]:.1f}); preparing data ...", flush=True)
        boosters = train_models(ws)
        if not args.skip_speed:
            data = make_parquet(tmp / f"polars_{args.rows}.parquet", args.rows)
            best = speed(ws, boosters, data, tmp, args.repeat)
            if not args.skip_compiled:
                compiled(ws, data, tmp, best["score"], args.rows)
        if not args.skip_rss:
            memory(ws_root, tmp, args.rss_rows)
        print(f"bench took {time.perf_counter() - started:.0f} s (load average {os.getloadavg()[0]:.1f})")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            for f in tmp.glob("*.parquet"):
                if not f.name.startswith(("polars_", "single_")):
                    f.unlink()


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
