"""What drift tracking costs a scoring job, against the same job without it, in the same run.

    .venv/bin/python bench/drift_overhead.py [--rows 1000000] [--trees 200]

One booster (``--trees`` trees, 20 float features) is registered twice in a temp workspace: once
with its training data recorded (so scoring measures drift: bins, null counts, KS sample) and
once without (the tracker is a no-op). Both score the same Parquet file; the bench prints rows/s
of each and their ratio, plus the one-off cost of building the model's drift reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--trees", type=int, default=200)
    args = ap.parse_args()

    from mlops_tui.serving import scoring
    from mlops_tui.serving.drift import load_reference
    from mlops_tui.workspace import Workspace
    from tests.monitor_helpers import register_dataset
    from tests.scoring_helpers import signature_for, synthetic, train_register, write_synthetic_parquet

    tmp = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    ws = Workspace.open(tmp / "ws", create=True)
    train = synthetic(50_000, 20)
    register_dataset(ws, train, "synth", "y", "regression")
    sig = signature_for(train, "y", "regression", id_columns=("id",))
    with_drift = train_register(ws, train, sig, name="tracked", rounds=args.trees, num_leaves=31, dataset="synth")
    ws.store.models.register(name="untracked", path=with_drift.path, sha256=with_drift.sha256, task=with_drift.task,
                             signature=with_drift.signature)
    data = write_synthetic_parquet(tmp / "in.parquet", args.rows, 20)

    t0 = time.perf_counter()
    load_reference(ws, with_drift)
    ref_s = time.perf_counter() - t0
    timings = {}
    for ref in ("untracked:1", "tracked:1") * 3:  # alternated, best of three each (noisy machines)
        t0 = time.perf_counter()
        job = scoring.score(ws, ref, [str(data)], str(tmp / f"{ref.replace(':', '_')}.parquet"))
        timings[ref] = min(timings.get(ref, float("inf")), time.perf_counter() - t0)
        assert job.status == "succeeded"
    base, tracked = args.rows / timings["untracked:1"], args.rows / timings["tracked:1"]
    print(f"drift reference (once per model, cached): {ref_s:.2f} s")
    print(f"scoring without drift: {base:,.0f} rows/s")
    print(f"scoring with drift:    {tracked:,.0f} rows/s")
    print(f"ratio with/without drift: {tracked / base:.2f}x (drift status of the last job: {job.drift_status})")


if __name__ == "__main__":
    main()
