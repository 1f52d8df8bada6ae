"""Batch-scoring jobs, the drift measured on them, and feedback (labels that arrived later)."""

from __future__ import annotations

import builtins  # the areas' list() methods shadow the builtin in annotations below them
from typing import Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store._db import NotFoundError, StoreError
from mlops_tui.store.records import DriftResult, Feedback, ScoringJob

_JOB_COLUMNS = {"output", "rows_in", "rows_out", "seconds", "rows_per_s", "status", "error",
                "drift_status", "prediction_drift", "ended_at", "engine"}
_JOB_JSON = {"unseen": "unseen_json", "warnings": "warnings_json", "inputs": "inputs_json",
             "cluster": "cluster_json", "kept": "kept_json"}


def _job(row: dict[str, Any]) -> ScoringJob:
    return ScoringJob(
        job_id=row["job_id"], deployment=row["deployment"], model_name=row["model_name"],
        model_version=row["model_version"], inputs=loads(row["inputs_json"], []),
        output=row["output"], rows_in=row["rows_in"], rows_out=row["rows_out"],
        unseen=loads(row["unseen_json"], {}), warnings=loads(row["warnings_json"], []),
        seconds=row["seconds"], rows_per_s=row["rows_per_s"], status=row["status"],
        error=row["error"], drift_status=row["drift_status"],
        prediction_drift=row["prediction_drift"], created_at=row["created_at"],
        ended_at=row["ended_at"], pid=row["pid"], host=row["host"], engine=row["engine"],
        kind=row.get("kind") or "batch",
        cluster=loads(row["cluster_json"]), kept=tuple(loads(row.get("kept_json"), [])),
    )


def _drift(row: dict[str, Any]) -> DriftResult:
    # By name, field by field: a column added by a later migration must not break the record.
    return DriftResult(
        job_id=row["job_id"], feature=row["feature"], kind=row["kind"], psi=row["psi"],
        ks_stat=row["ks_stat"], ks_pvalue=row["ks_pvalue"], null_rate_ref=row["null_rate_ref"],
        null_rate_cur=row["null_rate_cur"], new_categories=row["new_categories"], status=row["status"],
        details=loads(row["details_json"], {}),
    )


def _feedback(r: dict[str, Any]) -> Feedback:
    return Feedback(r["feedback_id"], r["deployment"], r["job_id"], r["rows_matched"],
                    loads(r["metrics_json"], {}), r["status"], r["created_at"])


def _insert_drift(con: Any, results: list[DriftResult]) -> None:
    """One statement for all of a job's rows: DuckDB pays ~2-5 ms per statement, a job has one row
    per feature (+ the prediction)."""
    if not results:
        return
    row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    con.execute(
        "INSERT OR REPLACE INTO drift_results (job_id, feature, kind, psi, ks_stat, ks_pvalue, null_rate_ref,"
        " null_rate_cur, new_categories, status, details_json) VALUES " + ", ".join([row] * len(results)),
        [v for d in results for v in (d.job_id, d.feature, d.kind, d.psi, d.ks_stat, d.ks_pvalue, d.null_rate_ref,
                                      d.null_rate_cur, d.new_categories, d.status, dumps(d.details))],
    )


class Jobs(Area):
    def start(
        self, *, job_id: str, model_name: str, model_version: int, inputs: list[dict[str, Any]],
        deployment: str | None = None, output: str | None = None, pid: int | None = None,
        host: str | None = None, engine: str | None = None,
    ) -> None:
        """Record a job as running (``output``: where it will write; ``pid``/``host``: its process;
        ``engine``: what scores it)."""
        with self._write() as con:
            con.execute(
                """INSERT INTO scoring_jobs (job_id, deployment, model_name, model_version, inputs_json,
                       output, status, pid, host, engine, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)""",
                [job_id, deployment, model_name, model_version, dumps(inputs), output, pid, host, engine,
                 utcnow()],
            )

    def add_window(self, *, job_id: str, deployment: str, model_name: str, model_version: int,
                   inputs: list[dict[str, Any]], output: str | None, rows: int, seconds: float,
                   unseen: dict[str, int], warnings: list[str], drift_status: str | None,
                   prediction_drift: float | None, drift: list[DriftResult], pid: int, host: str,
                   opened_at: Any, engine: str | None = None) -> None:
        """A closed monitoring window of a service's traffic: a finished 'online' job and its drift,
        in one transaction (``opened_at``: when its first row was scored)."""
        with self._write() as con:
            con.execute(
                """INSERT INTO scoring_jobs (job_id, deployment, model_name, model_version, inputs_json, output,
                       rows_in, rows_out, unseen_json, warnings_json, seconds, rows_per_s, status,
                       drift_status, prediction_drift, created_at, ended_at, pid, host, engine, kind)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'succeeded', ?, ?, ?, ?, ?, ?, ?, 'online')""",
                [job_id, deployment, model_name, model_version, dumps(inputs), output, rows, rows, dumps(unseen),
                 dumps(warnings), seconds, drift_status, prediction_drift, opened_at, utcnow(), pid, host, engine],
            )
            _insert_drift(con, drift)

    def finish(self, job_id: str, **fields: Any) -> None:
        """Set the outcome columns (status, rows, seconds, unseen, warnings, error, drift_status...)."""
        sets, params = [], []
        fields.setdefault("ended_at", utcnow())
        for key, value in fields.items():
            if key in _JOB_JSON:
                sets.append(f"{_JOB_JSON[key]} = ?")
                params.append(dumps(value))
            elif key in _JOB_COLUMNS:
                sets.append(f"{key} = ?")  # key checked against a fixed set above
                params.append(value)
            else:
                raise StoreError(f"scoring_jobs has no field {key!r}")
        with self._write() as con:
            con.execute(f"UPDATE scoring_jobs SET {', '.join(sets)} WHERE job_id = ?", [*params, job_id])

    def running(self) -> list[ScoringJob]:
        """Every job recorded as running (the sweep checks their processes), oldest first."""
        with self._read() as con:
            return [_job(r) for r in self._rows(con, "SELECT * FROM scoring_jobs WHERE status = 'running' "
                                                     "ORDER BY created_at")]

    def fail_running(self, job_id: str, error: str) -> bool:
        """Compare-and-set: fail the job only if it is still running (its output is cleared: a
        failed job wrote none); False if it ended meanwhile."""
        return self._end_running(job_id, "status = 'failed', error = ?, output = NULL, rows_out = 0, ended_at = ?",
                                 [error, utcnow()])

    def succeed_running(self, job_id: str) -> bool:
        """Compare-and-set: mark a job that is still running succeeded (its figures and output were
        recorded before its process died); False if it ended meanwhile."""
        return self._end_running(job_id, "status = 'succeeded', ended_at = coalesce(ended_at, ?)", [utcnow()])

    def _end_running(self, job_id: str, sets: str, params: list[Any]) -> bool:
        with self._write() as con:  # ``sets`` is one of the two fixed clauses above
            won = con.execute(f"UPDATE scoring_jobs SET {sets} WHERE job_id = ? AND status = 'running' "
                              "RETURNING job_id", [*params, job_id]).fetchall()
        return bool(won)

    def get(self, job_id: str) -> ScoringJob:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM scoring_jobs WHERE starts_with(job_id, ?) LIMIT 2", [job_id])
        if len(rows) != 1:
            raise NotFoundError(f"unknown scoring job {job_id!r}" if not rows else f"job prefix {job_id!r} is ambiguous")
        return _job(rows[0])

    def list(self, *, deployment: str | None = None, limit: int | None = None) -> list[ScoringJob]:
        """Newest first."""
        sql = "SELECT * FROM scoring_jobs"
        params: builtins.list[Any] = []
        if deployment:
            sql += " WHERE deployment = ?"
            params.append(deployment)
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as con:
            return [_job(r) for r in self._rows(con, sql, params)]

    # -- drift --------------------------------------------------------------------------------
    def add_drift(self, results: builtins.list[DriftResult]) -> None:
        with self._write() as con:
            _insert_drift(con, results)

    def drift(self, job_ids: builtins.list[str]) -> dict[str, builtins.list[DriftResult]]:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM drift_results WHERE list_contains(?, job_id) "
                                   "ORDER BY job_id, feature", [job_ids])
        out: dict[str, builtins.list[DriftResult]] = {j: [] for j in job_ids}
        for r in rows:
            out[r["job_id"]].append(_drift(r))
        return out

    # -- feedback -----------------------------------------------------------------------------
    def add_feedback(
        self, *, feedback_id: str, deployment: str, rows_matched: int, metrics: dict[str, Any],
        status: str, job_id: str | None = None,
    ) -> Feedback:
        now = utcnow()
        with self._write() as con:
            con.execute("INSERT INTO feedback (feedback_id, deployment, job_id, rows_matched, metrics_json, status,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [feedback_id, deployment, job_id, rows_matched, dumps(metrics), status, now])
        return Feedback(feedback_id, deployment, job_id, rows_matched, metrics, status, now)

    def feedback(self, deployment: str) -> builtins.list[Feedback]:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM feedback WHERE deployment = ? ORDER BY created_at", [deployment])
        return [_feedback(r) for r in rows]

    def latest_feedback(self) -> builtins.list[Feedback]:
        """The newest feedback of every deployment, by deployment name (one read for the home view)."""
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM feedback QUALIFY row_number() OVER "
                                   "(PARTITION BY deployment ORDER BY created_at DESC) = 1 ORDER BY deployment")
        return [_feedback(r) for r in rows]
