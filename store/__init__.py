"""The DuckDB metadata store: persistence only, no ML and no UI.

Contract
--------
* One file, many processes. Every method opens the file, runs one transaction and closes it, so
  the TUI, detached tuning workers and CLI calls take turns; a process that finds the file locked
  retries with jittered backoff for ``MLOPS_STORE_TIMEOUT`` seconds (default 60), then raises
  :class:`StoreBusyError`. Methods are safe to call from any thread and any process. Inside
  ``with session(path):`` one thread's calls share a single connection (a screen's reads).
* Writes are atomic: a method either commits everything it wrote or nothing.
* Records are frozen dataclasses (``store.records``); JSON columns come back decoded.
* All SQL lives in this package and is parameterized. Unknown names raise :class:`NotFoundError`.
* ``Store.open`` creates or upgrades the file (numbered migrations, ``store.migrations``) and
  refuses a file written by a newer schema with :class:`SchemaVersionError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
from mlops_tui.store import migrations
from mlops_tui.store._area import utcnow
from mlops_tui.store._db import (
    NotFoundError,
    SchemaVersionError,
    StoreBusyError,
    StoreError,
    open_connection,
    session,
    transaction,
)
from mlops_tui.store.audit import Audit
from mlops_tui.store.datasets import Datasets
from mlops_tui.store.jobs import Jobs
from mlops_tui.store.models import Models
from mlops_tui.store.pipelines import Pipelines
from mlops_tui.store.records import (
    AliasChange,
    AuditEvent,
    ClusterWorker,
    DatasetVersion,
    Deployment,
    DriftResult,
    Evaluation,
    Feedback,
    JobCluster,
    ModelVersion,
    PipelineRun,
    PipelineStage,
    Run,
    RunWorker,
    ScoringJob,
    Service,
    Trial,
)
from mlops_tui.store.runs import Runs, TrialRow
from mlops_tui.store.services import Services

__all__ = [
    "AliasChange", "AuditEvent", "ClusterWorker", "DatasetVersion", "Deployment", "DriftResult", "Evaluation",
    "Feedback", "JobCluster", "ModelVersion", "NotFoundError", "PipelineRun", "PipelineStage", "Run", "RunWorker", "SchemaVersionError", "ScoringJob",
    "Service", "Store", "StoreBusyError", "StoreError", "Trial", "TrialRow", "session", "utcnow",
]

VIEWS = ("v_datasets", "v_runs", "v_trials", "v_models", "v_deployments", "v_jobs", "v_drift", "v_audit",
         "v_services", "v_pipeline_runs", "v_pipeline_stages")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.datasets = Datasets(self.path)
        self.runs = Runs(self.path)
        self.models = Models(self.path)
        self.jobs = Jobs(self.path)
        self.audit = Audit(self.path)
        self.services = Services(self.path)
        self.pipelines = Pipelines(self.path)

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Store:
        """Open (creating if asked) and upgrade the store at ``path``."""
        path = Path(path)
        if not path.exists() and not create:
            raise StoreError(f"no store at {path}; run `mlops-tui init` first")
        try:
            with open_connection(path) as con:
                version = migrations.current_version(con)
                if version > migrations.LATEST:
                    raise SchemaVersionError(
                        f"store {path} has schema v{version}, newer than this mlops-tui "
                        f"(v{migrations.LATEST}); upgrade mlops-tui to use it"
                    )
                if version < migrations.LATEST:
                    migrations.upgrade(con)
        except duckdb.Error as exc:
            raise SchemaVersionError(f"{path} is not a readable mlops-tui store: {exc}") from exc
        return cls(path)

    def schema_version(self) -> int:
        with open_connection(self.path) as con:
            return migrations.current_version(con)

    def query(self, sql: str, params: list[Any] | None = None, *, limit: int = 10_000) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run user SQL on a read-only, sandboxed connection; returns (columns, rows).

        DuckDB itself refuses any statement that would change the file (it is opened read-only) or
        read anything but the store: other files, URLs and extensions are off (``sandboxed``).
        Every SQL error comes back as one :class:`StoreError` line a user can act on.
        """
        try:
            with open_connection(self.path, read_only=True, sandboxed=True) as con:
                cur = con.execute(sql, params or [])
                if cur.description is None:
                    return [], []
                return [d[0] for d in cur.description], cur.fetchmany(limit)
        except duckdb.Error as exc:
            message = _one_line(str(exc))
            if "read-only mode" in message:
                raise StoreError(f"the store is read-only here, writes are refused: {message}") from exc
            if isinstance(exc, duckdb.PermissionException):
                what = re.search(r'Cannot access (?:file|directory) "([^"]*)"', message)
                target = repr(what.group(1)) if what else "anything outside the store"
                raise StoreError(f"sql reads only the store's views: reading {target} is refused "
                                 "(no files, URLs or extensions)") from exc
            raise StoreError(f"query failed: {message}") from exc


def _one_line(message: str) -> str:
    """DuckDB's messages end with the query and a caret marker on extra lines; keep the words."""
    lines = []
    for line in message.strip().splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)


__all__ += ["open_connection", "transaction", "VIEWS"]
