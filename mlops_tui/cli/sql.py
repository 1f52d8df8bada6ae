"""`sql`: read-only SQL over the metadata views (see the README's CLI contract). Thin: parse, call
``mlops_tui.sql``, emit."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, out, table, workspace
from mlops_tui.serving.sweep import sweep_jobs


def sql(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="One SELECT statement over the views below.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows to return.")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """Read-only SQL over the metadata views.

    Writes are refused (exit 1).

    Views (columns): v_datasets(name, version, hash, rows, columns, target, task, source,
    created_at); v_runs(run_id, name, dataset, dataset_version, target, task, metric, direction,
    status, best_value, n_trials_requested, model_name, model_version, created_at, ended_at,
    phase);
    v_trials(run_id, number, state, value, params_json, duration_s, pid, host, ended_at);
    v_models(name, version, run_id, task, dataset, dataset_version, sha256, metrics_json,
    created_at, aliases); v_deployments(name, model_name, model_version, forced, created_at,
    updated_at, engine, engine_json, follows, keep_json); v_jobs(job_id, deployment, model_name, model_version, rows_in,
    rows_out, seconds, rows_per_s, status, error, drift_status, created_at, ended_at, inputs_json,
    output, unseen_json, warnings_json, prediction_drift, pid, host, engine, kind,
    cluster_json, kept_json); v_drift(job_id, feature, kind, psi,
    ks_stat, ks_pvalue, null_rate_ref, null_rate_cur, new_categories, status); v_audit(event_id,
    happened_at, user_name, host, command, object, outcome, details_json); v_services(service_id,
    deployment, status, host, pid, url, workers, model_name, model_version, started_at,
    heartbeat_at, ended_at, stats_json, error); v_pipeline_runs(run_id, pipeline, file, status,
    trigger, pid, host, started_at, ended_at); v_pipeline_stages(run_id, stage, kind, position,
    status, reason, fingerprint, outputs_json, pid, started_at, ended_at). JSON columns work with
    json_extract(metrics_json, '$.rmse').

    Example: mlops-tui sql "SELECT feature, count(*) FROM v_drift WHERE status = 'alert' GROUP BY ALL"
    """
    from mlops_tui import sql as sql_service

    ws = workspace()
    sweep_jobs(ws)  # v_jobs must not show a killed job as running
    res = sql_service.run(ws, query, limit=limit)

    def render() -> None:
        out.print(table(None, res.columns, res.rows))
        more = " (more rows exist; raise --limit)" if res.truncated else ""
        out.print(f"{res.row_count} row(s){more}")

    emit(res, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
