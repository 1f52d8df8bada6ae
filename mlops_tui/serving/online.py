"""The life of a running service behind its HTTP endpoints: the model it serves, monitoring
windows of its traffic, heartbeats and hot swaps. Nothing here runs on the request path.

* :class:`Served` — one loaded model version (signature + predictor). The app reads
  ``Online.served`` once per request, so a swap (a plain attribute assignment) never changes the
  model under a request that is already running: that request finishes on the version it started
  with, and the next one gets the new version. No request fails or waits for a swap.
* :class:`Online` — one background thread per worker process. It takes what the requests hand
  over through a bounded queue (a full queue drops the request from monitoring, never delays
  it) and gathers it into the open window. A window closes every ``window_minutes`` or
  ``window_rows`` rows (and on a swap and at shutdown) into a finished 'online' scoring job with
  its drift, measured by the same :class:`~mlops_tui.serving.drift.DriftTracker` batch jobs use,
  and a Parquet file of what was answered (request id, id columns, predictions), so `monitor`,
  the TUI and `feedback` treat it like a batch job. The output rows and drift counters of clean
  requests (most of them) are built when their window closes, for all of them at once: built
  per request, or even per tick, their fixed costs (a Polars frame, Arrow arrays: ~0.1 ms each)
  took the GIL from the requests (bench/serve_latency.py). The thread also writes the heartbeat
  and polls the deployment (a stat of the store file; an open only when it changed, or with the
  heartbeat); when the deployment points at another version, the thread loads that version and
  swaps it in (audited).

The store is opened only by this thread, briefly, with the store's usual retry: DuckDB lets one
process hold the file, so a service must never keep it open.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypedDict

import polars as pl

from mlops_tui.results import JsonDict
from mlops_tui.serving.batch import BatchSpec, BatchStats

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mlops_tui.serving.batch import Predict
    from mlops_tui.serving.predictor import PredictorFactory
    from mlops_tui.store import ModelVersion
    from mlops_tui.training.signature import Signature
    from mlops_tui.workspace import Workspace

log = logging.getLogger("mlops_tui.serving")
QUEUE_BATCHES = 10_000  # answered requests waiting for the monitor thread; past that they go unmonitored
TICK_S = 0.25  # the monitor thread wakes this often (and at once when the service stops)


@dataclass(frozen=True)
class Settings:
    """How a service runs; passed to every worker process (``to_json``/``from_json``)."""

    workspace: str
    deployment: str
    service_id: str
    engine: str | None = None  # None: the deployment's engine (see serving.predictor.ENGINES)
    max_body: int = 10 << 20  # bytes; a larger request gets 413
    lenient: bool = False  # accept what `score` accepts with a warning (numeric strings, extra columns, ...)
    window_minutes: float = 5.0
    window_rows: int = 10_000
    poll_s: float = 2.0  # how often the deployment is checked for a new version
    heartbeat_s: float = 5.0

    def to_json(self) -> JsonDict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: JsonDict) -> Settings:
        return cls(**d)


@dataclass(frozen=True)
class Target:
    model: ModelVersion
    engine: str
    keep: tuple[str, ...]
    known: tuple[str, ...] = ()  # the columns of the dataset version the model was trained on


@dataclass(frozen=True)
class Served:
    """One loaded version: what every request answered by it shares."""

    model: ModelVersion
    spec: BatchSpec  # signature, provenance and drift reference (scored_at and keep set per request)
    predict: Predict
    since: datetime
    engine: str
    inputs: tuple[str, ...]  # the input column of each feature, in the model's order (request.matrix_of)
    codes: tuple[tuple[int, dict[str, float]], ...]  # (feature's place, category → code) of categorical ones
    keep: tuple[str, ...] = ()  # the deployment's `score --keep` columns: request keys, like id columns
    # the training data's columns: a record shaped like its rows is no surprise, also with a column
    # the model left out (free text, a likely leak), so strict serving does not refuse it
    known: tuple[str, ...] = ()
    # a record's feature values in the model's order (request.clean_records)
    row_of: Callable[[dict[str, Any]], tuple[Any, ...]] = field(init=False, compare=False)
    class_names: tuple[str, ...] = field(init=False, compare=False)  # the answer's probability keys
    # request.columns_of: what a set of column names means for this model (callers send the same few)
    shapes: dict[tuple[str, ...], tuple[list[str], bool]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        inputs = self.inputs
        getter = itemgetter(*inputs) if len(inputs) > 1 else lambda r: (r[inputs[0]],)
        object.__setattr__(self, "row_of", getter)
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.sig.classes))

    @property
    def ref(self) -> str:
        return self.model.ref

    @property
    def sig(self) -> Signature:
        return self.spec.sig


@dataclass
class Scored:
    """A request of the checked route, handed to the monitor thread: its output table (request
    id, row, id columns, predictions, provenance: a batch job's output columns) and statistics."""

    served: Served
    table: pa.Table
    stats: BatchStats


@dataclass(slots=True)
class Raw:
    """A clean request (see ``request.clean_records``) handed to the monitor thread: its features
    and the model's raw output as row-major float64 bytes, its id columns.

    One small object, with no array, is all a request keeps alive until the monitor's next tick:
    under load a few hundred requests wait for it, and their numpy arrays, freed by then between
    LightGBM's own allocations, fragmented the heap, while every waiting object made the garbage
    collector's rounds longer (perf at concurrency 32: malloc's unlink_chunk/malloc_consolidate
    and the extra collections ~4 % of the service's CPU, next to nothing in the bare endpoint).
    """

    served: Served
    request_id: str
    rows: int
    X: bytes
    raw: bytes
    ids: dict[str, list[Any]]


@dataclass
class Rows:
    """Clean rows gathered by the monitor thread: one tick's requests (:meth:`of`), or a window's
    (:meth:`join`), of which it builds the output table and drift counters when the window closes."""

    served: Served
    X: np.ndarray
    raw: np.ndarray
    kept: dict[str, list[Any]]  # request_id, row, id columns

    @staticmethod
    def of(run: list[Raw]) -> Rows:
        import numpy as np

        X = np.frombuffer(b"".join([r.X for r in run])).reshape(-1, len(run[0].served.inputs))
        raw = np.frombuffer(b"".join([r.raw for r in run]))
        return Rows(run[0].served, X, raw if raw.size == len(X) else raw.reshape(len(X), -1), _joined(
            [({"request_id": [r.request_id] * r.rows, "row": range(r.rows), **r.ids}, r.rows) for r in run]))

    @staticmethod
    def join(parts: list[Rows]) -> Rows:
        import numpy as np

        return Rows(parts[0].served, np.concatenate([p.X for p in parts]), np.concatenate([p.raw for p in parts]),
                    _joined([(p.kept, len(p.X)) for p in parts]))


def _joined(parts: list[tuple[dict[str, Any], int]]) -> dict[str, list[Any]]:
    """The columns of (columns, rows) parts one after the other; null where a part lacks one."""
    names = dict.fromkeys(chain.from_iterable(cols for cols, _ in parts))
    return {c: list(chain.from_iterable(cols.get(c) or repeat(None, n) for cols, n in parts)) for c in names}


@dataclass
class _Window:
    served: Served
    opened: float = field(default_factory=time.monotonic)
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    requests: int = 0
    rows: int = 0
    stats: BatchStats = field(default_factory=BatchStats)  # the checked requests' until it closes
    parts: list[pa.Table | Rows] = field(default_factory=list)  # in the order answered


def store_stamp(path: Any) -> tuple[Any, ...]:
    """What changes whenever a process commits to the store: the file's and its WAL's size and
    modification time (cheap to compare; the store itself takes ~35-70 ms to open)."""
    stamp: list[Any] = []
    for f in (path, f"{path}.wal"):
        try:
            st = os.stat(f)
        except FileNotFoundError:
            stamp.append(None)
        else:
            stamp.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamp)


def category_codes(sig: Signature) -> tuple[tuple[int, dict[str, float]], ...]:
    """Per categorical feature, its place and category → the code ``encode`` gives it (its place in the list)."""
    return tuple((j, {c: float(i) for i, c in enumerate(f.categories)})
                 for j, f in enumerate(sig.features) if f.kind == "categorical")


class Heartbeat(TypedDict):
    """One worker's figures in the store's ``services.stats`` (`serve list`, the TUI)."""

    requests: int
    rows: int
    errors: int
    unmonitored: int
    rate: float  # requests/s since the previous heartbeat
    swaps: int
    windows: int
    at: str
    model: str | None


@dataclass
class Counters:
    """What the heartbeat reports (``/metrics`` has the full Prometheus figures)."""

    requests: int = 0
    rows: int = 0
    errors: int = 0
    unmonitored: int = 0
    seed: int = 0  # the drift sample keys of each request's rows are drawn from their own seed


class Online:
    def __init__(self, ws: Workspace, settings: Settings, factory: PredictorFactory | None = None) -> None:
        self.ws, self.settings, self.factory = ws, settings, factory  # factory: overrides the engine
        self.served: Served | None = None
        self.error: str | None = None  # why no model is served (load failed)
        self.swaps = 0
        self.counters = Counters()
        # deque.append is atomic under the GIL: no lock or condition per request, unlike queue.Queue
        self.pending: deque[Scored | Raw] = deque()
        self.window: _Window | None = None
        self.windows_closed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serve-monitor", daemon=True)
        self._last_beat = (time.monotonic(), 0)
        self._seen: tuple[Any, ...] | None = None  # store_stamp() when the deployment was last read

    # -- called from requests ---------------------------------------------------------------------
    def hand_over(self, item: Scored | Raw) -> None:
        if len(self.pending) < QUEUE_BATCHES:
            self.pending.append(item)
        else:
            self.counters.unmonitored += 1

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Drain what the requests handed over, close the last window, write a last heartbeat."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        self._load_current()
        # What start-up made (imports, the model: ~170k objects) lives as long as the process.
        # Frozen, the garbage collector's full rounds skip it: under load one such round took
        # ~0.2 s, ~25 us of every request (gc callbacks, concurrency 32), about 1.5x the bare
        # endpoint's (bench/serve_latency.py), whose heap is that much smaller.
        gc.collect()
        gc.freeze()
        next_poll = next_beat = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            self._stop.wait(TICK_S)  # requests pile up meanwhile: one batch per tick, not one per request
            self._drain()
            now = time.monotonic()
            if stopping:
                break
            beat = now >= next_beat
            if beat:
                next_beat = now + self.settings.heartbeat_s
            if now >= next_poll or beat:
                next_poll = now + self.settings.poll_s
                if self.served is None:
                    self._load_current()  # writes the heartbeat once loaded
                    if beat and self.served is None:
                        self._guard("writing the heartbeat", self._beat)
                else:
                    self._guard("checking the deployment", self._poll, beat)
            if self.window and (self.window.rows >= self.settings.window_rows
                                or now - self.window.opened >= self.settings.window_minutes * 60):
                self._guard("closing a monitoring window", self._close_window)
        self._guard("closing the last monitoring window", self._close_window)
        self._guard("writing the last heartbeat", self._beat)

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        """A store that stays busy or a window that fails must never stop the service."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - logged; the service keeps answering
            log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
            return None

    # -- the model ------------------------------------------------------------------------------------
    def _load(self, target: Target) -> Served:
        from mlops_tui.serving.predictor import ENGINES

        model, engine = target.model, target.engine
        if self.factory is not None:
            factory, engine = self.factory, "custom"
        else:
            if engine not in ENGINES:
                log.warning("engine %r is not available here; %s is served by the local engine", engine, model.ref)
                engine = "local"
            factory = ENGINES[engine]
        from mlops_tui.serving.drift import load_reference

        ref = self._guard("loading the drift reference", load_reference, self.ws, model)
        spec = BatchSpec.for_model(model, datetime.now(UTC), drift_ref=ref)
        return Served(model, spec, factory(self.ws, model), datetime.now(UTC), engine,
                      tuple(f.source for f in spec.sig.features), category_codes(spec.sig), target.keep, target.known)

    def _target(self) -> Target:
        """What the deployment asks for now: the version, the engine, the columns its jobs keep, and
        the columns of the data the model was trained on."""
        from mlops_tui.registry import models as registry
        from mlops_tui.store import NotFoundError

        with self.ws.session():  # one open of the store for its reads
            dep = registry.get_deployment(self.ws, self.settings.deployment)
            model = self.ws.store.models.get(dep.model_name, dep.model_version)
            known: tuple[str, ...] = ()
            with contextlib.suppress(NotFoundError):  # a dataset deleted since: nothing more is known
                if model.dataset:
                    known = tuple(c["name"] for c in self.ws.store.datasets.get(model.dataset, model.dataset_version).schema)
            return Target(model, self.settings.engine or dep.engine, tuple(dep.keep), known)

    def _load_current(self) -> None:
        try:
            self.served = self._load(self._target())
            self.error = None
            log.info("serving %s for deployment %s", self.served.ref, self.settings.deployment)
        except Exception as exc:  # noqa: BLE001 - /ready says why; retried every poll
            self.error = f"{type(exc).__name__}: {exc}" if not str(exc).startswith("unknown") else str(exc)
            log.warning("model not loaded: %s", self.error)
            return
        self._guard("writing the heartbeat", self._beat, "running")

    def _poll(self, beat: bool) -> None:
        """The heartbeat (when ``beat``) and a look at the deployment, in one open of the store.

        Between heartbeats the store is opened only when its file changed since the deployment
        was last read (a stat: ~35-70 ms of opening saved per poll). Our own heartbeat changes
        the file too, so its stamp is taken after it; a repointing that lands during that very
        session is then read at the next heartbeat, a few seconds later."""
        stamp = store_stamp(self.ws.store_path)
        if not beat and stamp == self._seen:
            return
        with self.ws.session():
            if beat:
                self._beat()
            target = self._target()
        self._seen = store_stamp(self.ws.store_path) if beat else stamp
        self._swap_to(target)

    def _swap_to(self, target: Target) -> None:
        assert self.served is not None
        old = self.served
        if (target.model.ref, target.engine, target.keep) == (old.model.ref, old.engine, old.keep) or (
                target.model.ref == old.model.ref and self.factory is not None):
            return
        try:
            new = self._load(target)
        except Exception as exc:  # noqa: BLE001 - keep serving the old version, say why
            self.ws.store.audit.record("serve swap", f"deployment:{self.settings.deployment}", "failed", {
                "service": self.settings.service_id, "from": old.ref, "to": target.model.ref,
                "error": f"{type(exc).__name__}: {exc}"})
            log.warning("could not load %s, still serving %s: %s", target.model.ref, old.ref, exc)
            return
        self.served = new  # from here on, new requests get the new version
        self.swaps += 1
        self._drain()
        self._guard("closing a monitoring window", self._close_window)
        log.info("swapped %s -> %s", old.ref, new.ref)
        self._beat(audit=("serve swap", f"deployment:{self.settings.deployment}", "ok", {
            "service": self.settings.service_id, "pid": os.getpid(), "from": old.ref, "to": new.ref,
            "engine": new.engine}))

    # -- monitoring windows ---------------------------------------------------------------------------
    def _drain(self) -> None:
        """Everything queued into the open window, each run of clean requests joined into one part."""
        pending = self.pending
        items = [pending.popleft() for _ in range(len(pending))]  # more may arrive meanwhile: next tick
        run: list[Raw] = []
        for item in [*items, None]:
            if isinstance(item, Raw) and (not run or run[0].served is item.served):
                run.append(item)
                continue
            if run:
                self._guard("monitoring requests", self._add, run)
            run = [item] if isinstance(item, Raw) else []
            if isinstance(item, Scored):
                self._guard("monitoring a request", self._add, item)

    def _add(self, item: Scored | list[Raw]) -> None:
        """One checked request, or a run of clean ones answered by the same version."""
        part = item if isinstance(item, Scored) else Rows.of(item)
        w = self.window
        if w is not None and w.served.model.ref != part.served.model.ref:
            self._close_window()  # a request answered by the old version, after the swap
            w = None
        if w is None:
            w = self.window = _Window(part.served)
        w.requests += 1 if isinstance(item, Scored) else len(item)
        if isinstance(part, Scored):
            w.rows += part.stats.rows
            w.stats.merge(part.stats)
            w.parts.append(part.table)
        else:
            w.rows += len(part.raw)
            w.parts.append(part)

    def _output(self, part: Rows) -> tuple[pa.Table, BatchStats]:
        """The output table and statistics of clean rows (what ``score_batch`` gives a batch)."""
        import numpy as np

        from mlops_tui.serving.batch import output_table
        from mlops_tui.serving.drift import DriftStats

        served, X = part.served, part.X
        keep = pl.DataFrame(part.kept, strict=False)
        spec = dataclasses.replace(served.spec, scored_at=datetime.now(UTC), keep=tuple(keep.columns))
        nulls = np.isnan(X).sum(axis=0)
        stats = BatchStats(len(X), {}, {f.source: int(nulls[j]) for j, f in enumerate(served.sig.features)})
        if spec.drift_ref is not None:
            self.counters.seed += 1
            stats.drift = DriftStats(spec.drift_ref, served.sig)
            stats.drift.add(X, part.raw, {}, seed=self.counters.seed)
        return output_table(keep, spec, part.raw), stats

    def _tables(self, w: _Window) -> list[pa.Table]:
        """The window's output tables in order, each run of clean parts built as one table."""
        tables: list[pa.Table] = []
        run: list[Rows] = []
        for part in [*w.parts, None]:
            if isinstance(part, Rows):
                run.append(part)
                continue
            if run:
                table, stats = self._output(Rows.join(run))
                w.stats.merge(stats)
                tables.append(table)
                run = []
            if part is not None:
                tables.append(part)
        return tables

    def _close_window(self) -> None:
        import pyarrow as pa

        from mlops_tui.registry import models as registry
        from mlops_tui.serving.drift import DriftTracker
        from mlops_tui.serving.io import AtomicParquet
        from mlops_tui.serving.scoring import finish_drift

        w, self.window = self.window, None
        if w is None or w.rows == 0:
            return
        tables = self._tables(w)
        job_id = uuid.uuid4().hex[:12]
        model = w.served.model
        warnings: list[str] = []
        if self.counters.unmonitored:
            warnings.append(f"{self.counters.unmonitored} request(s) so far went unmonitored (monitor behind)")
        tracker = self._guard("loading the drift reference", DriftTracker, self.ws, model)
        drift, results = finish_drift(tracker, w.stats, job_id, warnings)
        dep = registry.get_deployment(self.ws, self.settings.deployment)
        stamp = w.opened_at.strftime("%Y%m%dT%H%M%S")
        path = registry.deployment_output_dir(self.ws, dep) / f"{dep.name}-online-{stamp}-{job_id}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        out = AtomicParquet(path, job_id)
        out.write(pa.concat_tables(tables, promote_options="default"))
        out.close()
        out.commit()
        stored = self.ws.relpath(path) if path.is_relative_to(self.ws.root) else str(path)
        self.ws.store.jobs.add_window(
            job_id=job_id, deployment=dep.name, model_name=model.name, model_version=model.version,
            inputs=[{"service": self.settings.service_id, "requests": w.requests, "pid": os.getpid()}],
            output=stored, rows=w.stats.rows, seconds=time.monotonic() - w.opened, unseen=w.stats.unseen,
            warnings=warnings, drift_status=drift.get("drift_status"), prediction_drift=drift.get("prediction_drift"),
            drift=results,
            pid=os.getpid(), host=socket.gethostname(), opened_at=w.opened_at, engine=w.served.engine)
        self.windows_closed += 1
        log.info("monitoring window %s closed: %d rows, drift %s", job_id, w.stats.rows, drift.get("drift_status"))

    # -- heartbeat ------------------------------------------------------------------------------------
    def heartbeat(self) -> Heartbeat:
        """The figures now, and the request rate since the previous call."""
        now, requests = time.monotonic(), self.counters.requests
        then, before = self._last_beat
        self._last_beat = (now, requests)
        c, served = self.counters, self.served
        return Heartbeat(requests=c.requests, rows=c.rows, errors=c.errors, unmonitored=c.unmonitored,
                         rate=round((requests - before) / (now - then), 3) if now > then else 0.0,
                         swaps=self.swaps, windows=self.windows_closed,
                         at=datetime.now(UTC).isoformat(timespec="seconds"), model=served.ref if served else None)

    def _beat(self, status: str | None = None, audit: Any = None) -> None:
        served = self.served
        self.ws.store.services.heartbeat(
            self.settings.service_id, os.getpid(), dict(self.heartbeat()),
            model_name=served.model.name if served else None,
            model_version=served.model.version if served else None, status=status, audit=audit)

