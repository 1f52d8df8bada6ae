"""Batch scoring: a deployment (or a model ref) over CSV/Parquet files → one Parquet (or CSV) output.

The job is a three-stage pipeline so the cores never wait on I/O:

    reader thread ──q_in(1)──▶ one worker per core: batch.score_batch ──q_out(1)──▶ writer thread
    (pyarrow/Polars batches)    (encode, predict on one thread,           (pyarrow ParquetWriter)
                                 drift counters; GIL released)

Both queues are bounded and at most one batch more than there are workers is in flight, so memory
holds a handful of batches whatever the input size (see bench/score_throughput.py). What happens to
one batch is :func:`mlops_tui.serving.batch.score_batch` (the seam other engines share); this
module adds files, the job record and the commit. Every input is checked against the model's
signature before the first row is scored (``scoring_io.plan``).

The commit order is what makes a job trustworthy after kill -9 (issue 11): everything that can
fail — closing and syncing the file, hashing the inputs, drift results, the job's figures in the
store — happens while the output is still a hidden temp file; the rename into place is the last
step but one, and the last (status ``succeeded``) is one small store write. A process killed
between the two leaves a job ``running`` under a dead pid whose output carries the job id in its
Parquet footer: :func:`mlops_tui.serving.sweep.sweep_jobs` then marks it succeeded, not failed.
Every job, failed ones too, leaves a record in ``store.jobs`` and an audit event.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from mlops_tui.errors import UserError
from mlops_tui.formatting import as_stored
from mlops_tui.registry import models as registry
from mlops_tui.serving import batch
from mlops_tui.serving import io as scoring_io
from mlops_tui.serving.predictor import engine_of, predictor
from mlops_tui.serving.sweep import audit_object, sweep_jobs
from mlops_tui.training.signature import Signature

if TYPE_CHECKING:
    import pyarrow as pa

    from mlops_tui.serving import dask_engine
    from mlops_tui.store import Deployment, DriftResult, JobCluster, ModelVersion, ScoringJob
    from mlops_tui.workspace import Workspace

CHUNK_SIZE = 100_000
QUEUE_DEPTH = 1  # batches waiting between stages; predict dominates, so deeper queues only cost memory
TAIL_PIECES = 4  # the last round of batches is scored in quarters (see _Pipeline._read) ...
TAIL_PIECE_ROWS = 10_000  # ... of at least this many rows (a batch's fixed costs stay small next to predict)
Progress = Callable[[int, int | None], None]
_END = object()
_CLOSE = object()  # to the writer: close the file after the tables before this
cores = batch.cores
T = TypeVar("T")


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Blocking put that gives up when the job is stopping (so no thread hangs on a full queue)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def even_chunk(total_rows: int | None, chunk_size: int, workers: int) -> int:
    """Rows per batch, at most ``chunk_size``, so that the batches of ``total_rows`` are a multiple
    of ``workers``: each worker predicts one batch on one thread, so a file of one batch (or an odd
    last one) kept the other cores idle (100k rows = 1 batch of 100k: 0.70 s vs 0.31 s for a naive
    2-thread read-predict-write)."""
    if not total_rows or workers <= 1:
        return chunk_size
    batches = -(-total_rows // chunk_size)
    batches = -(-batches // workers) * workers
    return max(1, -(-total_rows // batches))


class _Pipeline:
    """Reader thread → :func:`batch.score_batch` on ``workers`` threads → writer thread, with
    bounded queues (a ``with`` block: every thread is stopped on the way out).

    The threads start with the object, before the model and its drift reference load, so the
    first batches are read meanwhile. :meth:`run` scores every batch (the batches' statistics
    are merged into ``stats``); :meth:`close` lets the writer finish and sync the file on its
    own thread while the caller computes the job's drift; :meth:`wait` joins it and re-raises
    a write error.

    Each batch is scored whole on one thread (``predict`` single-threaded), ``workers`` batches at
    a time, rather than one batch at a time on every core: LightGBM splits a batch evenly between
    its threads and waits for the slowest, so whenever the reader, the writer or the hashing took
    a core, the other core idled (spinning) at the end of every predict. Batches are handed to the
    writer in input order (the oldest is always waited for first); one batch more than there are
    workers is in flight, so a worker that finishes first starts the next batch at once instead of
    waiting for the oldest."""

    def __init__(self, p: scoring_io.Plan, out: scoring_io.AtomicParquet, *, chunk_size: int, workers: int) -> None:
        self.plan, self.out, self.workers = p, out, workers
        self.q_in: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.q_out: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.stop = threading.Event()
        self.write_errors: list[BaseException] = []
        self.reader = threading.Thread(target=self._read, args=(chunk_size,), name="score-reader", daemon=True)
        self.writer = threading.Thread(target=self._write, name="score-writer", daemon=True)
        self.reader.start()
        self.writer.start()

    def _read(self, chunk_size: int) -> None:
        # The last round (one batch per worker) goes in quarters: a worker that is done takes the
        # next piece, so the workers finish within a quarter batch of each other instead of one
        # idling while another predicts a whole batch. The inputs' row count must be known (Parquet).
        total = self.plan.total_rows
        tail = total - self.workers * chunk_size if total and self.workers > 1 else None
        seen = 0
        try:
            for frame in scoring_io.batches(self.plan, chunk_size):
                last_round = tail is not None and seen >= tail
                seen += frame.height
                rows = max(TAIL_PIECE_ROWS, -(-frame.height // TAIL_PIECES)) if last_round else frame.height
                for piece in frame.iter_slices(rows) if rows < frame.height else [frame]:
                    if not _put(self.q_in, piece, self.stop):
                        return
            _put(self.q_in, _END, self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the scoring thread, raised there
            _put(self.q_in, exc, self.stop)

    def _write(self) -> None:
        while (table := self.q_out.get()) is not _END and table is not _CLOSE:
            if self.write_errors:
                continue  # keep draining so the scoring thread never blocks
            try:
                self.out.write(table)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the scoring thread
                self.write_errors.append(exc)
                self.stop.set()
        if table is _CLOSE and not self.write_errors:
            try:
                self.out.close()
            except BaseException as exc:  # noqa: BLE001 - re-raised by wait()
                self.write_errors.append(exc)

    def run(self, spec: batch.BatchSpec, predict: batch.Predict, stats: batch.BatchStats,
            progress: Progress | None) -> None:
        """Score every batch; returns when the last one is handed to the writer."""
        from concurrent.futures import Future, ThreadPoolExecutor

        total = self.plan.total_rows

        def collect(future: Future[batch.ScoredBatch]) -> None:
            scored = future.result()
            stats.merge(scored.stats)
            self.q_out.put(scored.table)
            if progress:
                progress(stats.rows, total)

        number = 0
        pending: collections.deque[Future[batch.ScoredBatch]] = collections.deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="score-predict") as pool:
            try:
                while (item := self.q_in.get()) is not _END:
                    if isinstance(item, BaseException):
                        raise item
                    if self.write_errors:
                        break
                    number += 1
                    pending.append(pool.submit(batch.score_batch, item, spec, predict, seed=number))
                    del item  # hold no batch while waiting for the next one
                    if len(pending) > self.workers:
                        collect(pending.popleft())
                    if stats.drift_error and spec.drift_ref is not None:
                        spec = dataclasses.replace(spec, drift_ref=None)  # stop counting for the rest of the job
                while pending and not self.write_errors:
                    collect(pending.popleft())
            finally:
                self.stop.set()  # the reader stops (it is at the end already unless this failed)
                for future in pending:
                    future.cancel()
        if self.write_errors:
            raise self.write_errors[0]

    def write(self, table: pa.Table) -> None:
        self.q_out.put(table)

    def close(self) -> None:
        """The writer closes and syncs the file once it has written every table handed to it."""
        self.q_out.put(_CLOSE)

    def wait(self) -> None:
        """Join the writer (after :meth:`close`); re-raise its error."""
        self.writer.join()
        if self.write_errors:
            raise self.write_errors[0]

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.writer.is_alive():
            self.q_out.put(_END)  # after a close(), only a finished writer's queue sees it
            self.writer.join()
        while self.reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                self.q_in.get(timeout=0.1)


def _output_path(ws: Workspace, dep: Deployment | None, model: ModelVersion, output: str | None,
                 job_id: str, engine: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{dep.name if dep else f'{model.name}-v{model.version}'}-{stamp}-{job_id}.parquet"
    if output is None:
        folder = registry.deployment_output_dir(ws, dep) if dep else ws.artifacts / "scores"
        return folder / name
    path = Path(output).expanduser().resolve()
    # A Dask job's output is itself a folder (of parts): an existing `X.parquet` folder is an
    # earlier output to replace, not a folder to write into.
    earlier_parts = engine == "dask" and path.suffix == ".parquet"
    path = path / name if (path.is_dir() and not earlier_parts) or output.endswith(os.sep) else path
    # Say what is wrong with the path before any work (mkdir would fail late, as "File exists").
    blocker = next((a for a in path.parents if a.exists() and not a.is_dir()), None)
    if blocker is not None:
        raise UserError(f"--output {output}: {blocker} is a file, so nothing can be written under it")
    return path


def _stored(ws: Workspace, path: Path) -> str:
    return ws.relpath(path) if path.is_relative_to(ws.root) else str(path)


def seen_ranges(ws: Workspace, model: ModelVersion) -> tuple[dict[str, tuple[float, float]], str]:
    """({numeric source column: (min, max)} of the dataset version ``model`` was trained on, from its
    profile; whose they are), for `score`'s far-outside warning (batch.far_bounds): carData SLID's age
    written in months scored without a word. Empty when the version is unknown or gone."""
    from mlops_tui.store import NotFoundError

    if not model.dataset or model.dataset_version is None:
        return {}, ""
    try:
        dv = ws.store.datasets.get(model.dataset, model.dataset_version)
    except NotFoundError:
        return {}, ""
    numeric = {f.source for f in Signature.from_json(model.signature).features if f.plain_number}
    ranges = {}
    for col in numeric:
        p = dv.profile.get(col) or {}
        lo, hi = p.get("min"), p.get("max")
        if p.get("kind") == "numeric" and isinstance(lo, int | float) and isinstance(hi, int | float) and hi > lo:
            ranges[col] = (lo, hi)  # as the profile holds them: a year's ends read 1952..2007
    return ranges, dv.ref


def _load_tracker(ws: Workspace, model: ModelVersion) -> tuple[Any, str | None]:
    """(the job's drift tracker, None), or (None, why not): drift must never fail a scoring job."""
    try:
        from mlops_tui.serving.drift import DriftTracker

        return DriftTracker(ws, model), None
    except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
        return None, f"drift tracking unavailable: {type(exc).__name__}: {exc}"


def _in_background(fn: Callable[[], T], name: str) -> Callable[[], T]:
    """Start ``fn`` on a daemon thread; the function returned waits for its result (or raises its error)."""
    from concurrent.futures import Future

    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - raised by the caller's wait
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future.result


def finish_drift(tracker: Any, stats: batch.BatchStats, job_id: str,
                  warnings: list[str]) -> tuple[dict[str, Any], list[DriftResult]]:
    """(job fields, drift results) from the merged batch statistics; nothing when not measured."""
    if tracker is None:
        return {}, []
    if stats.drift_error:
        warnings.append(f"drift tracking stopped: {stats.drift_error}")
        return {}, []
    try:
        tracker.merge(stats.drift)
        status, pred_drift, results, _summary = tracker.finish(job_id)
        return {"drift_status": status, "prediction_drift": pred_drift}, results
    except Exception as exc:  # noqa: BLE001 - drift must never fail a scoring job
        warnings.append(f"drift results not recorded: {type(exc).__name__}: {exc}")
        return {}, []


def _check_inputs(files: list[scoring_io.InputFile], hashes: list[str],
                  ragged: list[tuple[list[str], list[str]]]) -> None:
    """The background pass over the inputs: their sha256 (hashlib releases the GIL) and the CSV
    files' ragged rows; results are appended (read after join)."""
    hashes.extend(scoring_io.sha256_files([f.path for f in files]))
    try:
        ragged.append(scoring_io.ragged_rows(files))
    except UserError as exc:  # text that is not UTF-8: the reader names it too; say it once
        ragged.append(([str(exc)], []))


ENGINES = ("local", "compiled", "dask")


def all_unseen_prefix(column: str) -> str:
    """How :func:`_all_unseen`'s warning for ``column`` starts (`score` leaves that column out of its
    notes of unseen values: the warning says it all)."""
    return f"column {column!r}: none of its "


def _all_unseen(sig: Signature, stats: batch.BatchStats) -> list[str]:
    """A warning per categorical feature none of whose values training saw: the column is likely
    written another way (Sacramento's zip as 95838 where the model learnt z95838, a second important
    feature scored as missing on every row), which a count among the notes does not make plain."""
    found = []
    for f in sig.features:
        n = stats.unseen.get(f.name, 0)
        if f.kind == "categorical" and n and n == stats.rows - stats.nulls.get(f.source, 0):
            learnt = ", ".join(repr(c) for c in f.categories[:3]) + (", ..." if len(f.categories) > 3 else "")
            found.append(f"{all_unseen_prefix(f.source)}{n:,} values is one the model learnt ({learnt}): "
                         "all scored as missing; is the column written differently?")
    return found


def score(ws: Workspace, target_ref: str, inputs: list[str], output: str | None = None, *,
          keep: list[str] | None = None, progress: Progress | None = None,
          chunk_size: int = CHUNK_SIZE, engine: str | None = None, scheduler: str | None = None,
          partition_rows: int | None = None, stage: Callable[[str], None] | None = None) -> ScoringJob:
    """Score ``inputs`` with a deployment or model; returns the finished job record.

    ``keep``: input columns to carry into the output beside the id columns; None: the
    deployment's remembered ones. Given to a deployment, they are remembered for its later jobs
    (``[]`` forgets them). ``engine``: local
    (LightGBM) or compiled (default: the deployment's engine, local for a model), or dask:
    partitions (``partition_rows`` rows of Parquet each) scored on a Dask cluster, ``scheduler``'s
    or a LocalCluster, into a folder of part files (:mod:`mlops_tui.serving.dask_engine`). The job
    records which engine scored. ``stage`` hears about a compile that happens first (a compiled
    model not cached yet). Raises UserError (after recording the job as failed) on any problem;
    the output path is then untouched: an earlier output there stays as it was.
    """
    if engine is not None and engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if (scheduler or partition_rows) and engine != "dask":
        raise UserError(f"{'--scheduler' if scheduler else '--partition-rows'} needs --engine dask")
    with ws.session():  # one open of the store (each open costs a checkpoint) for the job's start
        sweep_jobs(ws)
        dep, model = registry.resolve_target(ws, target_ref)
        remember = dep is not None and keep is not None and list(keep) != list(dep.keep)
        kept_by = dep.name if dep is not None and keep is None else None
        if keep is None:
            keep = list(dep.keep) if dep else []
        if engine == "dask" and dep is not None and dep.engine != "local":
            # The executor (local | dask) and the predictor (LightGBM | compiled) are separate choices;
            # Dask workers load the LightGBM text model, a compiled artifact is not shipped to them yet.
            raise UserError(f"deployment {dep.name} scores with the {dep.engine} engine, which --engine dask "
                            f"cannot run yet: score it without --engine dask, or redeploy with --engine local")
        engine = engine if engine == "dask" else engine_of(dep, engine)
        ranges, ranges_of = seen_ranges(ws, model)
        # The drift reference (a JSON parse, ~0.05 s) loads while the job is recorded, the inputs
        # checked and the model loaded, instead of before the first batch.
        loaded_tracker = _in_background(lambda: _load_tracker(ws, model), "score-reference")
        job_id = uuid.uuid4().hex[:12]
        t0 = time.perf_counter()
        obj = audit_object(dep.name if dep else None, model.name, model.version)
        out_path = _output_path(ws, dep, model, output, job_id, engine)
        make_output = scoring_io.output_writer(out_path, engine)  # by the suffix: .parquet or .csv
        # The planned output, pid and host let `sweep_jobs` settle this job if the process is killed
        # (kill -9 runs no handler); the output is cleared again if the job fails.
        ws.store.jobs.start(job_id=job_id, model_name=model.name, model_version=model.version,
                            inputs=[{"path": i} for i in inputs], deployment=dep.name if dep else None,
                            output=_stored(ws, out_path), pid=os.getpid(), host=socket.gethostname(),
                            engine=engine)
    stats = batch.BatchStats()
    warnings: list[str] = []
    hashes: list[str] = []
    out: scoring_io.AtomicParquet | dask_engine.PartsFolder | None = None
    cluster: JobCluster | None = None  # a Dask job: the scheduler and the workers that scored
    record_inputs: list[dict[str, Any]] = [{"path": i} for i in inputs]
    with contextlib.ExitStack() as stack:
        try:
            paths = scoring_io.expand_inputs(inputs)
            record_inputs = [{"path": str(p)} for p in paths]
            if out_path in paths:
                raise UserError(f"output {out_path} is also an input; choose another --output")
            sig = Signature.from_json(model.signature)
            p = scoring_io.plan(scoring_io.open_inputs(paths), sig, model.ref, keep, kept_by)
            warnings += p.warnings
            # Hash the inputs and count ragged CSV rows beside the pipeline instead of before it.
            ragged: list[tuple[list[str], list[str]]] = []
            hasher = threading.Thread(target=_check_inputs, args=(p.files, hashes, ragged),
                                      name="score-hash", daemon=True)
            hasher.start()
            out_path.parent.mkdir(parents=True, exist_ok=True)
            pipe: _Pipeline | None = None
            if engine == "dask":
                from mlops_tui.serving import dask_engine

                out = folder = dask_engine.PartsFolder(out_path, job_id)
            else:  # reading starts now, while the model and its drift reference load
                scoring_io.lean_arrow_allocator()
                out = make_output(out_path, job_id)
                pipe = stack.enter_context(_Pipeline(p, out, chunk_size=even_chunk(p.total_rows, chunk_size, cores()),
                                                     workers=cores()))
            if pipe is not None:
                predict = predictor(ws, model, engine, stage=stage, threads=1)  # one thread per worker
            tracker, unavailable = loaded_tracker()
            warnings += [unavailable] if unavailable else []
            spec = batch.BatchSpec.for_model(model, datetime.now(UTC), keep=p.id_columns,
                                             drift_ref=tracker.ref if tracker is not None else None, ranges=ranges)
            if pipe is None:
                from mlops_tui.training.modelfile import verified_bytes

                cluster = dask_engine.execute(p, spec, verified_bytes(ws.abspath(model.path), model.sha256),
                                              model.sha256, folder, job_id, stats, scheduler=scheduler,
                                              chunk_size=chunk_size, partition_rows=partition_rows,
                                              progress=progress)
            else:
                pipe.run(spec, predict, stats, progress)
                if stats.rows == 0:
                    empty = pl.DataFrame(schema={c: p.files[0].schema[c] for c in p.columns})
                    pipe.write(batch.score_batch(empty, spec, predict).table)
                pipe.close()  # written and synced on the writer's thread while drift is computed below
            if stats.rows == 0:
                warnings.append("inputs have no rows; wrote an empty output")
            hasher.join()
            if not ragged:
                raise UserError("the inputs could not be read to the end")  # the thread's error was logged
            problems, found = ragged[0]
            if problems:
                raise UserError("; ".join(problems))
            warnings += found
            for col, n in stats.nulls.items():
                if n == stats.rows and stats.rows:
                    warnings.append(f"column {col!r} is entirely null ({n} rows): scored as missing")
            warnings += _all_unseen(sig, stats)
            for col, n in stats.not_dates.items():
                warnings.append(f"column {col!r} has {n:,} value(s) that are not dates: scored as missing")
            for col, note in stats.ambiguous_dates.items():
                warnings.append(f"column {col!r}: {note}")
            for col, n in stats.infinite.items():
                warnings.append(f"column {col!r} has {n:,} infinite value(s): scored past every split, "
                                "as no finite value would be")
            for col, n in stats.far.items():
                lo, hi = ranges[col]
                warnings.append(f"column {col!r} has {n:,} value(s) far outside the range {ranges_of} had "
                                f"({as_stored(lo)}..{as_stored(hi)}): scored as at its nearest end; is it in another unit?")
            drift, results = finish_drift(tracker, stats, job_id, warnings)
            if pipe is not None:
                pipe.wait()  # the output is complete and synced, still under its hidden temp name
            seconds = time.perf_counter() - t0
            # The job's figures go in while it is still running, so the commit below is a rename and
            # one status write; see the module docstring. One open of the store for all of it, the
            # status write after the rename included.
            stack.enter_context(ws.session())
            ws.store.jobs.finish(
                job_id, output=_stored(ws, out_path), rows_in=stats.rows, rows_out=stats.rows, seconds=seconds,
                rows_per_s=stats.rows / seconds if seconds > 0 else None, unseen=stats.unseen, warnings=warnings,
                inputs=[{"path": str(f), "sha256": h} for f, h in zip(paths, hashes, strict=True)],
                cluster=cluster, kept=p.id_columns, **drift)
            if results:
                ws.store.jobs.add_drift(results)
            if remember and dep is not None:
                ws.store.models.set_keep(dep.name, keep)
            out.commit()
        except BaseException as exc:
            stack.close()  # every thread stopped (and the store let go) before the output is removed
            if out is not None:
                out.abort()
            seconds = time.perf_counter() - t0
            reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
            ws.store.jobs.finish(job_id, status="failed", error=reason, rows_in=stats.rows, rows_out=0,
                                 seconds=seconds, unseen=stats.unseen, warnings=warnings,
                                 inputs=record_inputs, output=None, cluster=cluster)
            ws.store.audit.record("score", obj, "failed", {"job_id": job_id, "error": reason})
            if isinstance(exc, Exception) and not isinstance(exc, UserError):
                raise UserError(f"scoring job {job_id} failed: {reason}") from exc
            raise
        # Still in the store session of the figures above (each open costs a checkpoint): the
        # status, the audit event and the record.
        ws.store.jobs.finish(job_id, status="succeeded")
        ws.store.audit.record("score", obj, "ok", {"job_id": job_id, "rows": stats.rows, "output": str(out_path),
                                                    "model": model.ref, "engine": engine})
        return ws.store.jobs.get(job_id)
