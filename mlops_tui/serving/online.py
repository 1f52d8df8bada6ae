"""The life of a running service behind its HTTP endpoints: the model it serves, heartbeats and
hot swaps, and the thread that feeds the monitoring windows (:mod:`~mlops_tui.serving.windows`).
Nothing here runs on the request path.

* :class:`Served` — one loaded model version (signature + predictor). The app reads
  ``Online.served`` once per request, so a swap (a plain attribute assignment) never changes the
  model under a request that is already running: that request finishes on the version it started
  with, and the next one gets the new version. No request fails or waits for a swap.
* :class:`Online` — one background thread per worker process. It takes what the requests hand
  over through a bounded queue (a full queue drops the request from monitoring, never delays
  it) and gathers it into the open monitoring window, which it closes when due. The thread also
  writes the heartbeat and polls the deployment (a stat of the store file; an open only when it
  changed, or with the heartbeat); when the deployment points at another version, the thread
  loads that version and swaps it in (audited).

The store is opened only by this thread, briefly, with the store's usual retry: DuckDB lets one
process hold the file, so a service must never keep it open.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypedDict

from mlops_tui.results import JsonDict
from mlops_tui.serving.batch import BatchSpec
from mlops_tui.serving.windows import Raw, Scored, Windows, guard

if TYPE_CHECKING:
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
        self.windows = Windows(ws, settings, self.counters)
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
                        guard("writing the heartbeat", self._beat)
                else:
                    guard("checking the deployment", self._poll, beat)
            if self.windows.due(now):
                guard("closing a monitoring window", self.windows.close)
        guard("closing the last monitoring window", self.windows.close)
        guard("writing the last heartbeat", self._beat)

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

        ref = guard("loading the drift reference", load_reference, self.ws, model)
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
        guard("writing the heartbeat", self._beat, "running")

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
        guard("closing a monitoring window", self.windows.close)
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
                guard("monitoring requests", self.windows.add, run)
            run = [item] if isinstance(item, Raw) else []
            if isinstance(item, Scored):
                guard("monitoring a request", self.windows.add, item)

    # -- heartbeat ------------------------------------------------------------------------------------
    def heartbeat(self) -> Heartbeat:
        """The figures now, and the request rate since the previous call."""
        now, requests = time.monotonic(), self.counters.requests
        then, before = self._last_beat
        self._last_beat = (now, requests)
        c, served = self.counters, self.served
        return Heartbeat(requests=c.requests, rows=c.rows, errors=c.errors, unmonitored=c.unmonitored,
                         rate=round((requests - before) / (now - then), 3) if now > then else 0.0,
                         swaps=self.swaps, windows=self.windows.closed,
                         at=datetime.now(UTC).isoformat(timespec="seconds"), model=served.ref if served else None)

    def _beat(self, status: str | None = None, audit: Any = None) -> None:
        served = self.served
        self.ws.store.services.heartbeat(
            self.settings.service_id, os.getpid(), dict(self.heartbeat()),
            model_name=served.model.name if served else None,
            model_version=served.model.version if served else None, status=status, audit=audit)

