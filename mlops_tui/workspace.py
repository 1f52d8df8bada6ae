"""The workspace: one folder holding the DuckDB store, artifacts, run folders and config.

    .mlops/
      store.duckdb           metadata (store/)
      config.toml            gate policy, drift thresholds, key bindings
      artifacts/datasets/    immutable Parquet snapshots named by content hash
      artifacts/models/      LightGBM text models + JSON sidecars
      artifacts/reports/     evaluation details, HTML reports
      artifacts/scores/      scoring outputs unless told elsewhere
      runs/<run_id>/         logs and the Optuna journal of each tuning run
"""

from __future__ import annotations

import os
import tomllib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_tui.errors import UserError
from mlops_tui.store import Store, StoreError, session

DEFAULT_DIR = ".mlops"

Config = dict[str, Any]
"""config.toml's tables as parsed (the user's file; defaults below for the tables it leaves out)."""

DEFAULT_CONFIG = """\
# mlops-tui workspace configuration.

[gate]
# A model version passes the validation gate when all of these hold (metric = the run's metric).
min_metric = {}                # e.g. { roc_auc = 0.7 } (higher is better) or { rmse = 200.0 } (lower); per-metric thresholds
max_drop = 0.01                # how much worse than the champion (and live than holdout) a model may be:
                               # for rmse and mae a fraction of the champion's value (0.01 = 1 %), for
                               # unitless metrics (AUC, accuracy, F1, log loss, R2, ...) absolute points;
                               # or per metric: { default = 0.01, rmse = 0.05 }
max_slice_gap = 0.25           # largest allowed gap of the metric between slices of a feature
refuse_no_skill = true         # without a min_metric: refuse a model no better than chance (ROC AUC 0.5, R2 0, ...)
require_win = false            # true: a model replacing a champion must beat it (as `retrain` asks), not only
                               # stay within max_drop; a pipeline's gate stage can set it for its own

[drift]
psi_warn = 0.1
psi_alert = 0.25
ks_pvalue_alert = 0.001        # a KS / chi-square p below this calls a difference certain
pvalue_noise = 0.01            # a PSI or share change warns only when its test's p is below this
share_ratio_alert = 1.5        # a category (>= 5 % of rows) whose share moved by this factor (up or down)
null_rate_warn = 0.05          # absolute change in the share of missing values
null_rate_alert = 0.25

[tuning]
# storage = "postgresql+psycopg://USER@HOST:5432/DB"   # studies in PostgreSQL, so other servers can join
#                                # (`mlops-tui worker RUN --storage URL`); password from PGPASSWORD or ~/.pgpass.
#                                # `tune --storage journal` keeps one run on this host.
heartbeat_interval = 5         # seconds between a tuning worker's heartbeats (shared studies)
grace_period = 20              # a trial whose worker was silent this long is failed (killed, cut off)

[deploy]
engine = "local"               # engine of new deployments: local (LightGBM) or compiled (native code,
                               # compiled once per model and checked against LightGBM; `deploy --engine`)

[keys]
# Remap TUI bindings by id, e.g.  "app.quit" = "ctrl+q"
"""


def resolve_root(explicit: str | Path | None = None) -> Path:
    """--workspace, else $MLOPS_WORKSPACE, else ./.mlops."""
    raw = explicit or os.environ.get("MLOPS_WORKSPACE") or DEFAULT_DIR
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None, *, create: bool = False) -> Workspace:
        ws = cls(resolve_root(root))
        if not ws.store_path.exists():
            if not create:
                raise UserError(f"no workspace at {ws.root}; run `mlops-tui init` (or pass --workspace)")
            ws.create()
        return ws

    def create(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"workspace path {self.root} exists and is not a directory")
        for sub in ("artifacts/datasets", "artifacts/models", "artifacts/reports", "artifacts/scores", "runs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            self.config_path.write_text(DEFAULT_CONFIG)
        Store.open(self.store_path)

    @property
    def store_path(self) -> Path:
        return self.root / "store.duckdb"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def abspath(self, relative: str) -> Path:
        """Store paths are kept relative to the workspace so it can be moved or copied."""
        return self.root / relative

    def relpath(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(self.root))

    def session(self) -> AbstractContextManager[None]:
        """Store calls of this thread inside the block share one open of the file, the store's
        schema check included: ``with ws.session(): ws.store.runs.list(); ...``."""
        return session(self.store_path)

    @cached_property
    def store(self) -> Store:
        try:
            return Store.open(self.store_path, create=False)
        except StoreError as exc:
            raise UserError(str(exc)) from exc

    @cached_property
    def config(self) -> Config:
        defaults = tomllib.loads(DEFAULT_CONFIG)
        if not self.config_path.exists():
            return defaults
        try:
            user = tomllib.loads(self.config_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{self.config_path}: {exc}") from exc
        for section, values in user.items():
            if isinstance(values, dict):
                defaults.setdefault(section, {}).update(values)
        return defaults

    def gate_policy(self, overrides: Config | None = None) -> Config:
        """The validation gate's ``[gate]`` policy, with ``overrides`` (a pipeline's gate stage) on top."""
        return {**self.config.get("gate", {}), **(overrides or {})}
