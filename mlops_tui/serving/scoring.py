"""Batch scoring: a deployment (or a model ref) over CSV/Parquet files → one Parquet output.

The job is a three-stage pipeline so the cores never wait on I/O:

    reader thread ──q_in(1)──▶ this thread: encode + Booster.predict ──q_out(1)──▶ writer thread
    (Polars streaming batches)   (LightGBM on all cores, GIL released)          (pyarrow ParquetWriter)

Both queues are bounded, so memory holds a handful of batches whatever the input size (peak RSS
for 8M rows stays within a few percent of 1M rows; see bench/score_throughput.py). Every input is
checked against the model's signature before the first row is scored (``scoring_io.plan``), the
output appears only complete (``AtomicParquet``), and every job, failed ones too, leaves a record
in ``store.jobs`` and an audit event.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.errors import UserError
from mlops_tui.registry import models as registry
from mlops_tui.serving import io as scoring_io
from mlops_tui.serving.sweep import audit_object, sweep_jobs
from mlops_tui.training.signature import Signature, encode

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np

    from mlops_tui.store import Deployment, ModelVersion, ScoringJob
    from mlops_tui.workspace import Workspace

CHUNK_SIZE = 100_000
QUEUE_DEPTH = 1  # batches waiting between stages; predict dominates, so deeper queues only cost memory
Progress = Callable[[int, int | None], None]
_END = object()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class _Stats:
    rows: int = 0
    unseen: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Scorer:
    """Turns one raw batch into one output table (and feeds the drift tracker)."""

    def __init__(self, booster: lgb.Booster, sig: Signature, model: ModelVersion, id_columns: list[str],
                 scored_at: datetime, tracker: Any, stats: _Stats) -> None:
        self.booster, self.sig, self.ids = booster, sig, id_columns
        self.threads = cores()
        self.tracker, self.stats = tracker, stats
        self.classes = pl.Series("prediction", list(sig.classes)) if sig.task != "regression" else None
        self.consts = [pl.lit(model.name).alias("model_name"),
                       pl.lit(model.version, dtype=pl.Int32).alias("model_version"),
                       pl.lit(scored_at, dtype=pl.Datetime("us", "UTC")).alias("scored_at")]

    def __call__(self, frame: pl.DataFrame) -> Any:
        import numpy as np

        features, unseen = encode(frame, self.sig)
        for k, v in unseen.items():
            self.stats.unseen[k] = self.stats.unseen.get(k, 0) + v
        for k, v in frame.select(pl.col(self.sig.source_columns).null_count()).row(0, named=True).items():
            self.stats.nulls[k] = self.stats.nulls.get(k, 0) + v
        raw = self.booster.predict(features.to_numpy(), num_threads=self.threads)
        self._drift(features, raw, unseen)
        cols: list[pl.Series] = [frame[c] for c in self.ids]
        if self.classes is None:
            cols.append(pl.Series("prediction", raw))
        else:
            proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
            cols.append(self.classes.gather(proba.argmax(axis=1)))
            cols += [pl.Series(f"proba_{c}", proba[:, i]) for i, c in enumerate(self.sig.classes)]
        self.stats.rows += frame.height
        out = pl.DataFrame(cols).with_columns(self.consts)
        return out.to_arrow(compat_level=pl.CompatLevel.oldest())

    def _drift(self, features: pl.DataFrame, raw: np.ndarray, unseen: dict[str, int]) -> None:
        if self.tracker is None:
            return
        try:
            self.tracker.update(features, raw, unseen)
        except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
            self.stats.warnings.append(f"drift tracking stopped: {type(exc).__name__}: {exc}")
            self.tracker = None


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Blocking put that gives up when the job is stopping (so no thread hangs on a full queue)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _pipeline(p: scoring_io.Plan, score_batch: _Scorer, out: scoring_io.AtomicParquet, *,
              chunk_size: int, progress: Progress | None) -> None:
    """Reader thread → score here → writer thread, with bounded queues; re-raises any stage's error."""
    q_in: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    q_out: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    write_errors: list[BaseException] = []

    def read() -> None:
        try:
            for frame in scoring_io.batches(p, chunk_size):
                if not _put(q_in, frame, stop):
                    return
            _put(q_in, _END, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the scoring thread, raised there
            _put(q_in, exc, stop)

    def write() -> None:
        while (table := q_out.get()) is not _END:
            if write_errors:
                continue  # keep draining so the scoring thread never blocks
            try:
                out.write(table)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the scoring thread
                write_errors.append(exc)
                stop.set()

    reader = threading.Thread(target=read, name="score-reader", daemon=True)
    writer = threading.Thread(target=write, name="score-writer", daemon=True)
    reader.start()
    writer.start()
    total = p.total_rows
    try:
        while (item := q_in.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            if write_errors:
                break
            q_out.put(score_batch(item))
            if progress:
                progress(score_batch.stats.rows, total)
    finally:
        stop.set()
        q_out.put(_END)
        writer.join()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                q_in.get(timeout=0.1)
    if write_errors:
        raise write_errors[0]


def _output_path(ws: Workspace, dep: Deployment | None, model: ModelVersion, output: str | None,
                 job_id: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{dep.name if dep else f'{model.name}-v{model.version}'}-{stamp}-{job_id}.parquet"
    if output is None:
        folder = registry.deployment_output_dir(ws, dep) if dep else ws.artifacts / "scores"
        return folder / name
    path = Path(output).expanduser().resolve()
    return path / name if path.is_dir() or output.endswith(os.sep) else path


def _stored(ws: Workspace, path: Path) -> str:
    return ws.relpath(path) if path.is_relative_to(ws.root) else str(path)


def _tracker(ws: Workspace, model: ModelVersion, warnings: list[str]) -> Any:
    try:
        from mlops_tui.serving.drift import DriftTracker

        return DriftTracker(ws, model)
    except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
        warnings.append(f"drift tracking unavailable: {type(exc).__name__}: {exc}")
        return None


def _finish_drift(ws: Workspace, tracker: Any, job_id: str, warnings: list[str]) -> dict[str, Any]:
    if tracker is None:
        return {}
    try:
        status, pred_drift, results, _summary = tracker.finish(job_id)
        if results:
            ws.store.jobs.add_drift(results)
        return {"drift_status": status, "prediction_drift": pred_drift}
    except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
        warnings.append(f"drift results not recorded: {type(exc).__name__}: {exc}")
        return {}


def score(ws: Workspace, target_ref: str, inputs: list[str], output: str | None = None, *,
          progress: Progress | None = None, chunk_size: int = CHUNK_SIZE) -> ScoringJob:
    """Score ``inputs`` with a deployment or model; returns the finished job record.

    Raises UserError (after recording the job as failed) on any problem; the output path is then
    untouched: an earlier file there stays as it was.
    """
    sweep_jobs(ws)
    dep, model = registry.resolve_target(ws, target_ref)
    sig = Signature.from_json(model.signature)
    job_id = uuid.uuid4().hex[:12]
    t0 = time.perf_counter()
    obj = audit_object(dep.name if dep else None, model.name, model.version)
    out_path = _output_path(ws, dep, model, output, job_id)
    # The planned output, pid and host let `sweep_jobs` fail this job and delete its temp file if
    # the process is killed (kill -9 runs no handler); the output is cleared again if the job fails.
    ws.store.jobs.start(job_id=job_id, model_name=model.name, model_version=model.version,
                        inputs=[{"path": i} for i in inputs], deployment=dep.name if dep else None,
                        output=_stored(ws, out_path), pid=os.getpid(), host=socket.gethostname())
    stats = _Stats()
    hashes: list[str] = []
    out: scoring_io.AtomicParquet | None = None
    record_inputs: list[dict[str, Any]] = [{"path": i} for i in inputs]
    try:
        paths = scoring_io.expand_inputs(inputs)
        record_inputs = [{"path": str(p)} for p in paths]
        if out_path in paths:
            raise UserError(f"output {out_path} is also an input; choose another --output")
        p = scoring_io.plan(scoring_io.open_inputs(paths), sig, model.ref)
        stats.warnings += p.warnings
        # Hash the inputs beside the pipeline (hashlib releases the GIL) instead of before it.
        hasher = threading.Thread(target=lambda: hashes.extend(scoring_io.sha256_files(paths)),
                                  name="score-hash", daemon=True)
        hasher.start()
        booster, _ = registry.load(ws, model)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out = scoring_io.AtomicParquet(out_path, job_id)
        scored_at = datetime.now(UTC)
        tracker = _tracker(ws, model, stats.warnings)
        scorer = _Scorer(booster, sig, model, p.id_columns, scored_at, tracker, stats)
        _pipeline(p, scorer, out, chunk_size=chunk_size, progress=progress)
        if stats.rows == 0:
            stats.warnings.append("inputs have no rows; wrote an empty output")
            out.commit(scorer(pl.DataFrame(schema={c: p.files[0].schema[c] for c in p.columns})).schema)
        else:
            out.commit()
        hasher.join()
    except BaseException as exc:
        if out is not None:
            out.abort()
        seconds = time.perf_counter() - t0
        reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, KeyboardInterrupt):
            reason = "interrupted"
        ws.store.jobs.finish(job_id, status="failed", error=reason, rows_in=stats.rows, rows_out=0,
                             seconds=seconds, unseen=stats.unseen, warnings=stats.warnings,
                             inputs=record_inputs, output=None)
        ws.store.audit.record("score", obj, "failed", {"job_id": job_id, "error": reason})
        if isinstance(exc, Exception) and not isinstance(exc, UserError):
            raise UserError(f"scoring job {job_id} failed: {reason}") from exc
        raise
    for col, n in stats.nulls.items():
        if n == stats.rows and stats.rows:
            stats.warnings.append(f"column {col!r} is entirely null ({n} rows): scored as missing")
    drift = _finish_drift(ws, tracker, job_id, stats.warnings)
    seconds = time.perf_counter() - t0
    ws.store.jobs.finish(
        job_id, status="succeeded", output=_stored(ws, out_path), rows_in=stats.rows, rows_out=stats.rows,
        seconds=seconds, rows_per_s=stats.rows / seconds if seconds > 0 else None, unseen=stats.unseen,
        warnings=stats.warnings, inputs=[{"path": str(pa), "sha256": hashes[i] if len(hashes) == len(paths) else None}
                                         for i, pa in enumerate(paths)],
        **drift,
    )
    ws.store.audit.record("score", obj, "ok", {"job_id": job_id, "rows": stats.rows,
                                                "output": str(out_path), "model": model.ref})
    return ws.store.jobs.get(job_id)
