"""Frozen records returned by the store. JSON columns arrive decoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict


@dataclass(frozen=True)
class DatasetVersion:
    name: str
    version: int
    hash: str
    path: str
    source: str
    rows: int
    columns: int
    target: str | None
    task: str | None
    schema: list[dict[str, Any]]
    profile: dict[str, Any]
    created_at: datetime
    description: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Run:
    run_id: str
    name: str
    dataset: str
    dataset_version: int
    target: str
    task: str
    metric: str
    direction: str
    status: str
    n_trials_requested: int | None
    timeout_s: float | None
    n_jobs: int
    seed: int
    best_value: float | None
    best_params: dict[str, Any] | None
    config: dict[str, Any]
    prep: dict[str, Any] | None
    test_metrics: dict[str, Any] | None
    model_name: str | None
    model_version: int | None
    pid: int | None
    host: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    n_trials: int = 0  # trials recorded so far (complete + pruned + failed + running)
    # What the running run is doing now: 'searching' (trials) or 'training the final model';
    # None when it is doing neither, or was recorded before the column (store migration 10).
    phase: str | None = None


@dataclass(frozen=True)
class Trial:
    run_id: str
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    intermediate: dict[str, float] | None
    duration_s: float | None
    pid: int | None
    host: str | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class RunWorker:
    """A tuning worker of a run whose study is shared (PostgreSQL), as its coordinator last saw it."""

    run_id: str
    host: str
    pid: int
    state: str             # running | exited
    trials: int            # trials this worker ran
    alive: bool            # its entry changed within three heartbeats when the coordinator last looked
    reason: str | None     # why it left
    started_at: datetime | None
    seen_at: datetime | None  # when the coordinator last saw its entry change


@dataclass(frozen=True)
class Evaluation:
    eval_id: str
    run_id: str | None
    model_name: str | None
    model_version: int | None
    dataset: str
    dataset_version: int
    kind: str
    task: str
    metrics: dict[str, Any]
    details_path: str | None
    created_at: datetime


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    run_id: str | None
    path: str
    sha256: str
    task: str
    dataset: str | None
    dataset_version: int | None
    metrics: dict[str, Any] | None
    signature: dict[str, Any]
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class AliasChange:
    name: str
    alias: str
    version: int
    previous_version: int | None
    changed_at: datetime


@dataclass(frozen=True)
class Deployment:
    name: str
    model_name: str
    model_version: int
    signature: dict[str, Any]
    output_dir: str | None
    forced: bool
    gate: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    engine: str = "local"  # local (LightGBM) | compiled (a native artifact checked against LightGBM)
    engine_info: dict[str, Any] | None = None  # compiled: artifact, backend, max_abs_diff, rows checked
    follows: str | None = None  # an alias of model_name: promoting or rolling it back repoints this deployment
    keep: tuple[str, ...] = ()  # input columns its jobs carry into their outputs (score --keep)


class ClusterWorker(TypedDict):
    """A Dask worker's share of a job: its address, host, and the partitions and rows it scored."""

    worker: str
    host: str
    partitions: int
    rows: int


class JobCluster(TypedDict):
    """Who scored a Dask job (stored as JSON; `score --json` prints both keys)."""

    scheduler: str  # its address, or "local" for a cluster started on this machine
    workers: list[ClusterWorker]


@dataclass(frozen=True)
class ScoringJob:
    job_id: str
    deployment: str | None
    model_name: str
    model_version: int
    inputs: list[dict[str, Any]]
    output: str | None
    rows_in: int | None
    rows_out: int | None
    unseen: dict[str, int]
    warnings: list[str]
    seconds: float | None
    rows_per_s: float | None
    status: str
    error: str | None
    drift_status: str | None
    prediction_drift: float | None
    created_at: datetime
    ended_at: datetime | None
    pid: int | None = None  # the scoring process, on ``host`` (a sweep fails the job if it died)
    host: str | None = None
    engine: str | None = None  # the engine that scored (local | compiled | ...); None before migration 4
    kind: str = "batch"  # batch | online (a window of a service's traffic, see mlops_tui.serving.online)
    cluster: JobCluster | None = None  # who scored a dask job
    kept: tuple[str, ...] = ()  # input columns the output carries (id columns and --keep)


@dataclass(frozen=True)
class Service:
    """One `mlops-tui serve` process: where it listens, what it serves, how it is doing."""

    service_id: str
    deployment: str
    status: str  # starting | running | stopping | stopped | failed | died
    host: str
    pid: int
    url: str
    workers: int
    model_name: str | None
    model_version: int | None
    log_path: str | None
    stats: dict[str, dict[str, Any]]  # per worker pid: requests, rows, errors, rate (requests/s), ...
    error: str | None
    started_at: datetime
    heartbeat_at: datetime | None
    ended_at: datetime | None

    @property
    def requests(self) -> int:
        return sum(int(s.get("requests", 0)) for s in self.stats.values())

    @property
    def rate(self) -> float:
        """Requests per second over the last heartbeat interval, all workers together."""
        return sum(float(s.get("rate", 0.0)) for s in self.stats.values())


@dataclass(frozen=True)
class DriftResult:
    job_id: str
    feature: str
    kind: str
    psi: float | None
    ks_stat: float | None
    ks_pvalue: float | None
    null_rate_ref: float | None
    null_rate_cur: float | None
    new_categories: int | None
    status: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Feedback:
    feedback_id: str
    deployment: str
    job_id: str | None
    rows_matched: int
    metrics: dict[str, Any]
    status: str
    created_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    at: datetime
    user: str
    host: str
    command: str
    object: str
    outcome: str
    details: dict[str, Any] | None


@dataclass(frozen=True)
class PipelineRun:
    """One `mlops-tui pipeline run`: which pipeline, from which file, how it ended."""

    run_id: str
    pipeline: str
    file: str
    status: str  # running | ok | refused | failed | skipped | interrupted
    trigger: str  # manual | when-drift
    pid: int
    host: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class PipelineStage:
    """One stage of a pipeline run: what it decided, why, and the objects it made (``outputs``)."""

    run_id: str
    stage: str
    kind: str
    position: int
    status: str  # running | ran | skipped | refused | failed | not run
    reason: str | None
    fingerprint: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    pid: int | None
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)
