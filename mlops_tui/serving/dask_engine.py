"""Scoring on a Dask cluster: the input's partitions are scored on the workers, in parallel.

    client (this process)                              workers (processes, maybe other hosts)
    plan: schema check, partitions ──client.map──▶  read partition → score_batch → part file
    merge the partitions' stats     ◀──as_completed──  the partition's BatchStats (counts, drift)
    all parts done → rename the hidden folder into place

What is NOT different from a local job: every input is checked against the signature before any
work is sent (``scoring_io.plan``), a worker reads its rows with the same reader
(``scoring_io.file_batches``) and scores them with the same seam (``batch.score_batch``: encoding,
unseen and null counts, predict, output columns, drift counters), and the client merges the
partitions' ``BatchStats`` as the local pipeline merges its batches'. So the rows of the output,
the counts and the drift bins that monitoring sees are those of a local ``score``; only the
5,000-row sample behind the KS test is another uniform draw (the batches differ), so KS p-values
move a little while PSI, null rates and counts are equal.

What is different: the output is a folder of part files (``part-00000.parquet``, one per partition, in input
order), written into a hidden folder beside the target and renamed into place only once every
part succeeded. A worker writes its part under a hidden name and renames it when complete, so a
worker killed mid-part leaves no half part. Workers need the inputs and the output folder at the
same paths (a shared filesystem), and mlops-tui installed; both are checked up front on every
worker, with one line naming the worker when not.

Dask's wire format pickles tasks and results: run a scheduler only where whoever can reach it is
trusted (a private network, or TLS: ``tls://`` addresses). The cluster started when no scheduler
is given (a LocalCluster) listens on 127.0.0.1 only.

Parquet inputs are split into partitions of ``partition_rows`` rows (a slice Polars reads by row
groups); a CSV file is one partition (its rows cannot be found without reading it). On a 2-core
machine this is slower than local scoring (bench/scale_out.py): it pays with more cores or hosts.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.errors import UserError
from mlops_tui.serving import batch
from mlops_tui.serving import io as scoring_io
from mlops_tui.serving.sweep import temp_path

if TYPE_CHECKING:
    from distributed import Client

    from mlops_tui.store import ClusterWorker, JobCluster


PARTITION_ROWS = 500_000
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
PART = "part-{:05d}.parquet"


@dataclass(frozen=True)
class Partition:
    """Rows ``offset`` .. ``offset + rows`` of one input file (``rows`` None: to its end)."""

    index: int
    file: scoring_io.InputFile
    offset: int = 0
    rows: int | None = None

    def describe(self) -> str:
        if self.rows is None:
            return f"{self.file.path}"
        return f"{self.file.path} rows {self.offset:,}-{self.offset + self.rows:,}"


@dataclass(frozen=True)
class JobSpec:
    """What every task shares (sent once to each worker): where the parts go, what to read, how to score."""

    job_id: str
    folder: str  # the hidden folder the parts go into
    plan: scoring_io.Plan  # the checked inputs: columns to read, CSV type overrides
    batch: batch.BatchSpec  # signature, kept columns, provenance, drift reference
    model_sha256: str
    chunk_size: int


def partitions(p: scoring_io.Plan, partition_rows: int = PARTITION_ROWS) -> list[Partition]:
    """Parquet files in slices of ``partition_rows``; a CSV file (or an empty file) whole."""
    parts: list[Partition] = []
    for f in p.files:
        if f.rows is None or f.rows <= partition_rows:
            parts.append(Partition(len(parts), f))
            continue
        for offset in range(0, f.rows, partition_rows):
            parts.append(Partition(len(parts), f, offset, min(partition_rows, f.rows - offset)))
    return parts


# -- the cluster ---------------------------------------------------------------------------------------
def quiet_logs() -> None:
    """Only Dask's errors reach stderr: it logs recoveries ("Couldn't gather 1 keys, rescheduling")
    as warnings, and the job reports what matters in one line. Dask's logging config gives some of
    its loggers their own level (``distributed.client: warning``), which a level set on the parent
    ``distributed`` logger does not override: each one present is set too."""
    import distributed  # noqa: F401 - its import applies Dask's logging config, which this overrides

    names = [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def cluster(scheduler: str | None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a LocalCluster on 127.0.0.1 (one
    single-threaded worker process per core) that lives as long as the block."""
    from distributed import Client, LocalCluster

    quiet_logs()
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {_first_line(exc)}") from exc
        with client:
            yield client
        return
    with LocalCluster(n_workers=batch.cores(), threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as local, \
            Client(local, set_as_default=False) as client:
        yield client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _worker_check(paths: list[str], folder: str) -> dict[str, Any]:
    """Runs on every worker before the job: what it would need, and what it is."""
    from importlib.metadata import version

    return {"host": socket.gethostname(), "version": version("mlops-tui"),
            "missing": [p for p in paths if not os.path.exists(p)], "folder": os.access(folder, os.W_OK)}


def check_workers(client: Client, paths: list[Path], folder: Path) -> dict[str, str]:
    """{worker address: hostname}; one UserError naming the first worker that cannot do the job."""
    from importlib.metadata import version

    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        found = client.run(_worker_check, [str(p) for p in paths], str(folder))
    except (OSError, TimeoutError) as exc:
        raise UserError(f"the Dask cluster has no worker ready: {_first_line(exc)}") from exc
    except ModuleNotFoundError as exc:
        raise UserError(f"a Dask worker cannot import mlops_tui ({exc}): install mlops-tui where the "
                        f"workers run") from exc
    mine = version("mlops-tui")
    for address, info in sorted(found.items()):
        where = f"Dask worker {address} ({info['host']})"
        if info["missing"]:
            raise UserError(f"{where} cannot see input {info['missing'][0]}: workers need the inputs "
                            f"and the output folder at the same paths (a shared filesystem)")
        if not info["folder"]:
            raise UserError(f"{where} cannot write to {folder.parent}: workers need the output folder "
                            f"at the same path (a shared filesystem)")
        if info["version"] != mine:
            raise UserError(f"{where} runs mlops-tui {info['version']}, this client {mine}: "
                            f"install the same version on every worker")
    return {address: info["host"] for address, info in found.items()}


# -- on a worker ---------------------------------------------------------------------------------------
_BOOSTERS: dict[str, Any] = {}  # sha256 → Booster, per worker process: a model is parsed once


def _predictor(model_text: bytes, sha256: str) -> batch.Predict:
    """LightGBM on the worker's own threads (not the host's cores: other workers share them)."""
    import hashlib

    import lightgbm as lgb
    from distributed import get_worker

    if sha256 not in _BOOSTERS:
        if hashlib.sha256(model_text).hexdigest() != sha256:
            raise UserError(f"the model sent to worker {socket.gethostname()} fails its checksum")
        _BOOSTERS.clear()  # one model at a time: a long-lived worker does not collect them
        _BOOSTERS[sha256] = lgb.Booster(model_str=model_text.decode())
    return batch.lightgbm_predictor(_BOOSTERS[sha256], threads=get_worker().state.nthreads)


@dataclass(frozen=True)
class PartDone:
    """What a worker sends back for one partition: its merged statistics and who scored it."""

    index: int
    stats: batch.BatchStats
    worker: str  # the Dask worker's address
    host: str


def score_partition(part: Partition, spec: JobSpec, model_text: bytes) -> PartDone:
    """Score one partition into ``part-NNNNN.parquet`` of the job's hidden folder."""
    import dataclasses

    from distributed import get_worker

    folder = Path(spec.folder)
    if not folder.is_dir():  # the job was given up (its folder removed): write nothing
        raise UserError(f"job {spec.job_id} no longer has its output folder {folder}")
    predict = _predictor(model_text, spec.model_sha256)
    bspec, p = spec.batch, spec.plan
    stats = batch.BatchStats()
    out = scoring_io.AtomicParquet(folder / PART.format(part.index), spec.job_id)
    # A hidden name per attempt: Dask reruns a partition whose worker died, maybe while the first
    # attempt (a worker cut off, not dead) still writes.
    out.tmp = temp_path(out.path, f"{spec.job_id}-{uuid.uuid4().hex[:6]}")
    try:
        # First the output columns a local job takes from its first input: every part has them
        # (kept columns typed differently in another file are cast, or fail, as they would locally).
        empty = pl.DataFrame(schema={c: p.files[0].schema[c] for c in p.columns})
        out.write(batch.score_batch(empty, dataclasses.replace(bspec, drift_ref=None), predict).table)
        for number, frame in enumerate(scoring_io.file_batches(p, part.file, spec.chunk_size, part.offset,
                                                               part.rows), start=1):
            # Each batch of the job draws its drift sample keys from a seed of its own.
            scored = batch.score_batch(frame, bspec, predict, seed=(part.index + 1) * 1_000_000 + number)
            stats.merge(scored.stats)
            if stats.drift_error and bspec.drift_ref is not None:
                bspec = dataclasses.replace(bspec, drift_ref=None)
            out.write(scored.table)
        out.close()
        out.commit()
    except BaseException:
        out.abort()
        raise
    return PartDone(part.index, stats, get_worker().address, socket.gethostname())


# -- the client ----------------------------------------------------------------------------------------
def run(client: Client, parts: list[Partition], spec: JobSpec, model_text: bytes,
        on_part: Callable[[PartDone], None]) -> None:
    """Score every partition on the cluster, calling ``on_part`` with each result as it arrives;
    on the first failure cancel the rest and raise one UserError naming the partition."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    # Sent once to every worker, not with each task (the drift reference alone holds samples).
    shared = client.scatter([spec, model_text], broadcast=True, hash=False)
    futures = client.map(score_partition, parts, spec=shared[0], model_text=shared[1], pure=False,
                         key=[f"score-{spec.job_id}-{p.index}" for p in parts])
    by_key = {f.key: p for f, p in zip(futures, parts, strict=True)}
    try:
        for future in as_completed(futures, loop=client.loop):
            part = by_key[future.key]
            try:
                on_part(future.result())
            except KilledWorker as exc:
                raise UserError(f"a Dask worker died while scoring {part.describe()} "
                                f"(last on {exc.last_worker.address if exc.last_worker else 'unknown'})") from exc
            except (FutureCancelledError, OSError) as exc:
                raise UserError(f"lost the Dask cluster while scoring {part.describe()}: {_first_line(exc)}") from exc
    finally:
        client.cancel(futures)
        client.cancel(shared)


# -- the output folder ---------------------------------------------------------------------------------
class PartsFolder:
    """A folder of part files that appears at ``path`` only when every part is there: the
    counterpart of :class:`scoring_io.AtomicParquet` for a Dask job (same hidden name beside the
    target, so the sweep finds it after kill -9; same close/commit/abort steps)."""

    def __init__(self, path: Path, job_id: str) -> None:
        self.path = path
        self.tmp = temp_path(path, job_id)
        self.tmp.mkdir()

    def close(self, n_parts: int) -> None:
        """Keep only the parts (no leftover of a rerun attempt), check all are there, sync the folder."""
        expected = {PART.format(i) for i in range(n_parts)}
        for entry in self.tmp.iterdir():
            if entry.name not in expected:
                entry.unlink()
        missing = expected - {e.name for e in self.tmp.iterdir()}
        if missing:
            raise UserError(f"part {sorted(missing)[0]} is missing from {self.tmp}")
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def commit(self) -> None:
        """Put the folder at ``path``: a rename, or an atomic exchange with an earlier output there
        (which is then removed)."""
        if not os.path.lexists(self.path):
            os.rename(self.tmp, self.path)
            return
        _exchange(self.tmp, self.path)  # tmp now holds the earlier output
        if self.tmp.is_dir() and not self.tmp.is_symlink():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        """Remove the hidden folder. A worker still finishing a cancelled part races us: it renames
        or removes its file while rmtree lists the folder (FileNotFoundError for that file, not the
        folder), or adds one (ENOTEMPTY); so retry until the folder is gone, a few seconds at most."""
        for _ in range(25):
            with contextlib.suppress(OSError):
                shutil.rmtree(self.tmp)
            if not os.path.lexists(self.tmp):
                return
            time.sleep(0.2)


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); where that is missing, move ``b``
    aside first: never a partial output at ``b``, though briefly none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            return
        errno = ctypes.get_errno()
    except (AttributeError, OSError):
        errno = None
    if errno not in (None, 22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not supported here
        raise OSError(errno, f"cannot exchange {a} and {b}: {os.strerror(errno)}")
    aside = b.with_name(f".{b.name}.{uuid.uuid4().hex[:6]}.old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def rows_per_partition(total: int | None, n_workers: int, chunk_size: int) -> int:
    """About four partitions per worker (so a slow one does not hold the job), at least a batch each."""
    if not total:
        return PARTITION_ROWS
    return max(chunk_size, min(PARTITION_ROWS, math.ceil(total / (4 * max(1, n_workers)))))


# -- one job -------------------------------------------------------------------------------------------
def execute(p: scoring_io.Plan, bspec: batch.BatchSpec, model_text: bytes, model_sha256: str, out: PartsFolder,
            job_id: str, stats: batch.BatchStats, *, scheduler: str | None, chunk_size: int,
            partition_rows: int | None = None, progress: Callable[[int, int | None], None] | None = None,
            ) -> JobCluster:
    """Score the plan's inputs on the cluster into ``out`` (closed, not committed); merge every
    partition's statistics into ``stats``. Returns who did the work (the job record keeps it)."""
    done: dict[str, ClusterWorker] = {}

    def on_part(r: PartDone) -> None:
        stats.merge(r.stats)
        w = done.setdefault(r.worker, {"worker": r.worker, "host": r.host, "partitions": 0, "rows": 0})
        w["partitions"] += 1
        w["rows"] += r.stats.rows
        if progress:
            progress(stats.rows, p.total_rows)

    with cluster(scheduler) as client:
        hosts = check_workers(client, [f.path for f in p.files], out.tmp)
        parts = partitions(p, partition_rows or rows_per_partition(p.total_rows, len(hosts), chunk_size))
        run(client, parts, JobSpec(job_id, str(out.tmp), p, bspec, model_sha256, chunk_size), model_text, on_part)
    out.close(len(parts))
    return {"scheduler": scheduler or "local", "workers": sorted(done.values(), key=lambda w: w["worker"])}
