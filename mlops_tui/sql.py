"""`mlops-tui sql`: read-only SQL over the documented views of the metadata store.

For the questions no screen answers ("which features alerted most this month?"). Two locks keep
it read-only: only a single SELECT/EXPLAIN statement is accepted (DuckDB's own parser decides,
so `COPY ... TO`, `ATTACH`, `SET`, `INSTALL` are refused too, not just INSERT/UPDATE), and it runs
on a read-only connection (``Store.query``). The TUI's SQL pane calls :func:`run` as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from mlops_tui.errors import UserError
from mlops_tui.results import Result
from mlops_tui.store import StoreError

if TYPE_CHECKING:
    from mlops_tui.workspace import Workspace

# Columns of each view (store/migrations.py: migration 2; v_runs redefined by 11, v_jobs by 3-6 and 8, v_deployments
# by 4, 5 and 8, v_services by 5, v_pipeline_runs and v_pipeline_stages by 9). JSON columns hold
# documents that DuckDB's json functions read, e.g. json_extract(metrics_json, '$.rmse').
VIEWS: dict[str, str] = {
    "v_datasets": "name, version, hash, rows, columns, target, task, source, created_at",
    "v_runs": "run_id, name, dataset, dataset_version, target, task, metric, direction, status, best_value, "
              "n_trials_requested, model_name, model_version, created_at, ended_at, phase",
    "v_trials": "run_id, number, state, value, params_json, duration_s, pid, host, ended_at",
    "v_models": "name, version, run_id, task, dataset, dataset_version, sha256, metrics_json, created_at, aliases",
    "v_deployments": "name, model_name, model_version, forced, created_at, updated_at, engine, engine_json, follows, "
                     "keep_json",
    "v_jobs": "job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s, status, "
              "error, drift_status, created_at, ended_at, inputs_json, output, unseen_json, warnings_json, "
              "prediction_drift, pid, host, engine, kind, cluster_json, kept_json",
    "v_drift": "job_id, feature, kind, psi, ks_stat, ks_pvalue, null_rate_ref, null_rate_cur, new_categories, status",
    "v_audit": "event_id, happened_at, user_name, host, command, object, outcome, details_json",
    "v_services": "service_id, deployment, status, host, pid, url, workers, model_name, model_version, "
                  "started_at, heartbeat_at, ended_at, stats_json, error",
    "v_pipeline_runs": "run_id, pipeline, file, status, trigger, pid, host, started_at, ended_at",
    "v_pipeline_stages": "run_id, stage, kind, position, status, reason, fingerprint, outputs_json, pid, "
                         "started_at, ended_at",
}
READ_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
DEFAULT_LIMIT = 1000


def views_help() -> str:
    return "\n".join(f"{name}({cols})" for name, cols in VIEWS.items())


def check_read_only(text: str) -> str:
    """The one statement of ``text`` if it only reads; UserError naming what was refused."""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UserError(f"SQL does not parse: {str(exc).splitlines()[0]}") from exc
    if not statements:
        raise UserError("empty SQL query")
    if len(statements) > 1:
        raise UserError(f"one statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind not in READ_TYPES:
        raise UserError(f"sql is read-only: {_verb(statements[0].query, kind)} statements are refused; "
                        f"query the views ({', '.join(VIEWS)})")
    return statements[0].query


def _verb(query: str, kind: duckdb.StatementType) -> str:
    """What the user typed (INSTALL, CHECKPOINT), with DuckDB's statement type when it differs
    (DuckDB files INSTALL under LOAD and CHECKPOINT under CALL)."""
    name = kind.name if hasattr(kind, "name") else str(kind)
    words = query.split(None, 1)
    first = words[0].upper() if words else ""
    return name if not first.isalpha() or first in (name, "WITH") else f"{first} ({name})"


@dataclass(frozen=True)
class QueryResult(Result):
    """Columns and rows (at most the limit) of a query, and whether more rows existed."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool


def _name_the_views(message: str) -> str:
    """A table that does not exist: DuckDB's own guess ('Did you mean "pg_tables"?' for nope_table)
    pointed a new user at its catalog; the views are what sql answers from. A view's near miss
    ('v_run': 'Did you mean "v_runs"?') keeps DuckDB's guess."""
    missing = re.search(r'Table with name (\S+) does not exist!(?: Did you mean "([^"]*)"\?)?', message)
    if missing is None or (missing.group(2) or "").startswith("v_"):
        return message
    return (f"{message[:missing.start()]}no table or view {missing.group(1)}; "
            f"query the views: {', '.join(VIEWS)}")


def run(ws: Workspace, text: str, *, limit: int = DEFAULT_LIMIT) -> QueryResult:
    """Run one read-only query (at most ``limit`` rows)."""
    query = check_read_only(text)
    try:
        columns, rows = ws.store.query(query, limit=limit + 1)
    except StoreError as exc:  # already one line (Store.query)
        raise UserError(_name_the_views(str(exc))) from exc
    return QueryResult(tuple(columns), tuple(tuple(r) for r in rows[:limit]), min(len(rows), limit), len(rows) > limit)
