"""Monitoring windows of a service's traffic: what the requests hand the monitor thread, and how
the open window closes into a finished 'online' scoring job.

A window closes every ``window_minutes`` or ``window_rows`` rows (and on a swap and at shutdown)
into a job with its drift, measured by the same :class:`~mlops_tui.serving.drift.DriftTracker`
batch jobs use, and a Parquet file of what was answered (request id, id columns, predictions), so
`monitor`, the TUI and `feedback` treat it like a batch job. The output rows and drift counters of
clean requests (most of them: :class:`Raw`) are built when their window closes, for all of them at
once: built per request, or even per tick, their fixed costs (a Polars frame, Arrow arrays: ~0.1 ms
each) took the GIL from the requests (bench/serve_latency.py). A checked request (:class:`Scored`)
comes with its output table and statistics already made by ``batch.score_batch``.

Only the monitor thread (``online.Online``) uses a :class:`Windows`; it opens the store briefly,
to record a closed window.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.serving.batch import BatchStats

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mlops_tui.serving.online import Counters, Served, Settings
    from mlops_tui.workspace import Workspace

log = logging.getLogger("mlops_tui.serving")


def guard(what: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)``, or None when it fails (logged): a store that stays busy or a window that
    fails must never stop the service."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - logged; the service keeps answering
        log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
        return None


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
class Window:
    """The open window: what the requests answered since it opened, until it closes into a job."""

    served: Served
    opened: float = field(default_factory=time.monotonic)
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    requests: int = 0
    rows: int = 0
    stats: BatchStats = field(default_factory=BatchStats)  # the checked requests' until it closes
    parts: list[pa.Table | Rows] = field(default_factory=list)  # in the order answered


class Windows:
    """The open window of one worker process and the count of those it closed."""

    def __init__(self, ws: Workspace, settings: Settings, counters: Counters) -> None:
        self.ws, self.settings, self.counters = ws, settings, counters
        self.open: Window | None = None
        self.closed = 0

    def due(self, now: float) -> bool:
        """Whether the open window has its rows, or its minutes, and should close."""
        w = self.open
        return w is not None and (w.rows >= self.settings.window_rows
                                  or now - w.opened >= self.settings.window_minutes * 60)

    def add(self, item: Scored | list[Raw]) -> None:
        """One checked request, or a run of clean ones answered by the same version."""
        part = item if isinstance(item, Scored) else Rows.of(item)
        w = self.open
        if w is not None and w.served.model.ref != part.served.model.ref:
            self.close()  # a request answered by the old version, after the swap
            w = None
        if w is None:
            w = self.open = Window(part.served)
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

    def _tables(self, w: Window) -> list[pa.Table]:
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

    def close(self) -> None:
        import pyarrow as pa

        from mlops_tui.registry import models as registry
        from mlops_tui.serving.drift import DriftTracker
        from mlops_tui.serving.io import AtomicParquet
        from mlops_tui.serving.scoring import finish_drift

        w, self.open = self.open, None
        if w is None or w.rows == 0:
            return
        tables = self._tables(w)
        job_id = uuid.uuid4().hex[:12]
        model = w.served.model
        warnings: list[str] = []
        if self.counters.unmonitored:
            warnings.append(f"{self.counters.unmonitored} request(s) so far went unmonitored (monitor behind)")
        tracker = guard("loading the drift reference", DriftTracker, self.ws, model)
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
        self.closed += 1
        log.info("monitoring window %s closed: %d rows, drift %s", job_id, w.stats.rows, drift.get("drift_status"))
