"""Tuning runs, their trials, and model evaluations."""

from __future__ import annotations

import builtins  # the areas' list() methods shadow the builtin in annotations below them
from datetime import datetime
from typing import Any, Required, TypedDict

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store._db import NotFoundError, StoreError
from mlops_tui.store.audit import Event, write_event
from mlops_tui.store.records import Evaluation, Run, RunWorker, Trial

# Named on every INSERT: a column added by a later migration must not shift positional values.
_TRIAL_COLUMNS = ("(run_id, number, state, value, params_json, intermediate_json, duration_s, pid, host,"
                  " started_at, ended_at)")


class TrialRow(TypedDict, total=False):
    """A trial as a tuning worker hands it to :meth:`Runs.record_trials` (the keys of
    :meth:`Runs.upsert_trial`); a trial that has just started has only some of them."""

    number: Required[int]
    state: Required[str]
    value: float | None
    params: dict[str, Any]
    intermediate: dict[str, float] | None
    duration_s: float | None
    pid: int | None
    host: str | None
    started_at: datetime | None
    ended_at: datetime | None


_RUN_SELECT = """
    SELECT r.*, (SELECT count(*) FROM trials t WHERE t.run_id = r.run_id) AS n_trials FROM runs r
"""
# Columns `update` may set, with the JSON ones encoded on the way in.
_RUN_COLUMNS = {
    "status", "best_value", "model_name", "model_version", "pid", "host", "error",
    "started_at", "ended_at", "n_trials_requested", "timeout_s", "n_jobs", "phase",
}
_RUN_JSON = {"best_params": "best_params_json", "config": "config_json", "prep": "prep_json",
             "test_metrics": "test_metrics_json"}


# A run's phase is what its supervisor is doing now: a run that ended without clearing it (its
# supervisor killed, then failed by the sweep) is doing nothing.
_ACTIVE = ("queued", "running", "stopping")


def _run(row: dict[str, Any]) -> Run:
    return Run(
        run_id=row["run_id"], name=row["name"], dataset=row["dataset"],
        dataset_version=row["dataset_version"], target=row["target"], task=row["task"],
        metric=row["metric"], direction=row["direction"], status=row["status"],
        n_trials_requested=row["n_trials_requested"], timeout_s=row["timeout_s"],
        n_jobs=row["n_jobs"], seed=row["seed"], best_value=row["best_value"],
        best_params=loads(row["best_params_json"]), config=loads(row["config_json"], {}),
        prep=loads(row["prep_json"]), test_metrics=loads(row["test_metrics_json"]),
        model_name=row["model_name"], model_version=row["model_version"], pid=row["pid"],
        host=row["host"], error=row["error"], created_at=row["created_at"],
        started_at=row["started_at"], ended_at=row["ended_at"], n_trials=row["n_trials"],
        phase=row.get("phase") if row["status"] in _ACTIVE else None,
    )


def _trial(row: dict[str, Any]) -> Trial:
    return Trial(
        run_id=row["run_id"], number=row["number"], state=row["state"], value=row["value"],
        params=loads(row["params_json"], {}), intermediate=loads(row["intermediate_json"]),
        duration_s=row["duration_s"], pid=row["pid"], host=row["host"],
        started_at=row["started_at"], ended_at=row["ended_at"],
    )


def _evaluation(row: dict[str, Any]) -> Evaluation:
    return Evaluation(
        eval_id=row["eval_id"], run_id=row["run_id"], model_name=row["model_name"],
        model_version=row["model_version"], dataset=row["dataset"],
        dataset_version=row["dataset_version"], kind=row["kind"], task=row["task"],
        metrics=loads(row["metrics_json"], {}), details_path=row["details_path"],
        created_at=row["created_at"],
    )


class Runs(Area):
    # -- runs ---------------------------------------------------------------------------------
    def create(
        self, *, run_id: str, name: str, dataset: str, dataset_version: int, target: str,
        task: str, metric: str, direction: str, seed: int, config: dict[str, Any],
        n_trials_requested: int | None = None, timeout_s: float | None = None, n_jobs: int = 1,
        prep: dict[str, Any] | None = None, status: str = "queued", pid: int | None = None,
        host: str | None = None, started_at: Any = None, audit: Event | None = None, phase: str | None = None,
    ) -> Run:
        """Insert the run (and the ``audit`` event, if given) in one transaction; returns the record."""
        with self._write() as con:
            con.execute(
                """INSERT INTO runs (run_id, name, dataset, dataset_version, target, task, metric,
                       direction, status, n_trials_requested, timeout_s, n_jobs, seed, config_json,
                       prep_json, pid, host, started_at, created_at, phase)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [run_id, name, dataset, dataset_version, target, task, metric, direction, status,
                 n_trials_requested, timeout_s, n_jobs, seed, dumps(config), dumps(prep), pid, host,
                 started_at, utcnow(), phase],
            )
            if audit is not None:
                write_event(con, audit)
            rows = self._rows(con, _RUN_SELECT + " WHERE r.run_id = ?", [run_id])  # same connection
        return _run(rows[0])

    @staticmethod
    def _sets(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
        sets, params = [], []
        for key, value in fields.items():
            if key in _RUN_JSON:
                sets.append(f"{_RUN_JSON[key]} = ?")
                params.append(dumps(value))
            elif key in _RUN_COLUMNS:
                sets.append(f"{key} = ?")  # key checked against a fixed set above
                params.append(value)
            else:
                raise StoreError(f"runs has no updatable field {key!r}")
        return sets, params

    def update(self, run_id: str, *, audit: Event | None = None, **fields: Any) -> None:
        """Set columns of a run. JSON fields (best_params, config, prep, test_metrics) are encoded.
        ``audit``: an event written in the same transaction."""
        sets, params = self._sets(fields)
        if not sets and audit is None:
            return
        with self._write() as con:
            if sets:
                con.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", [*params, run_id])
            if audit is not None:
                write_event(con, audit)

    def update_and_get(self, run_id: str, *, audit: Event | None = None, **fields: Any) -> Run:
        """`update` (with its ``audit`` event) and the updated record, in one transaction: the end of
        a run sets its outcome, audits it and returns it with one open of the file."""
        sets, params = self._sets(fields)
        with self._write() as con:
            if sets:
                con.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", [*params, run_id])
            rows = self._rows(con, _RUN_SELECT + " WHERE r.run_id = ?", [run_id])
            if not rows:
                raise NotFoundError(f"unknown run {run_id!r}")
            if audit is not None:
                write_event(con, audit)
        return _run(rows[0])

    def claim(self, run_id: str, *, from_statuses: tuple[str, ...], status: str, **fields: Any) -> bool:
        """Compare-and-set: move the run to ``status`` (setting ``fields`` too) only if it is in one of
        ``from_statuses`` now; False if another process changed it first (two `run resume` at once)."""
        sets, params = self._sets({"status": status, **fields})
        with self._write() as con:
            won = con.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ? AND list_contains(?, status) "
                              "RETURNING run_id", [*params, run_id, list(from_statuses)]).fetchall()
        return bool(won)

    def get(self, run_id: str) -> Run:
        with self._read() as con:
            rows = self._rows(con, _RUN_SELECT + " WHERE r.run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"unknown run {run_id!r}")
        return _run(rows[0])

    def resolve(self, prefix: str) -> Run:
        """A run by id or unique id prefix."""
        with self._read() as con:
            rows = self._rows(
                con, _RUN_SELECT + " WHERE starts_with(r.run_id, ?) ORDER BY r.run_id LIMIT 2", [prefix]
            )
        if not rows:
            raise NotFoundError(f"unknown run {prefix!r}" + self._made_by(prefix))
        if len(rows) > 1:
            raise NotFoundError(f"run prefix {prefix!r} is ambiguous ({rows[0]['run_id']}, {rows[1]['run_id']}, ...)")
        return _run(rows[0])

    def _made_by(self, ref: str) -> str:
        """``; model affairs:1 was made by run e61c74610b`` when ``ref`` names a model version (NAME:VERSION,
        or NAME for its latest) that a run made: AER Affairs' `run show affairs:1` said only "unknown run"."""
        name, _, version = ref.partition(":")
        if version and not version.isdigit():
            return ""
        with self._read() as con:
            found = con.execute(
                "SELECT name, version, run_id FROM models WHERE name = ? AND (? IS NULL OR version = ?) "
                "AND run_id IS NOT NULL ORDER BY version DESC LIMIT 1",
                [name, int(version) if version else None, int(version) if version else None]).fetchone()
        return f"; model {found[0]}:{found[1]} was made by run {found[2]}" if found else ""

    def list(self, *, status: str | None = None, dataset: str | None = None, limit: int | None = None) -> list[Run]:
        """Newest first."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status:
            where.append("r.status = ?")
            params.append(status)
        if dataset:
            where.append("r.dataset = ?")
            params.append(dataset)
        sql = _RUN_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.created_at DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as con:
            return [_run(r) for r in self._rows(con, sql, params)]

    def many(self, run_ids: builtins.list[str]) -> builtins.list[Run]:
        """Several runs in one read, in the order asked."""
        with self._read() as con:
            rows = self._rows(con, _RUN_SELECT + " WHERE list_contains(?, r.run_id)", [run_ids])
        by_id = {r["run_id"]: _run(r) for r in rows}
        return [by_id[i] for i in run_ids if i in by_id]

    def with_status(self, statuses: tuple[str, ...] | builtins.list[str]) -> builtins.list[Run]:
        """Runs in any of ``statuses`` (e.g. the active ones a sweep checks), newest first."""
        with self._read() as con:
            rows = self._rows(con, _RUN_SELECT + " WHERE list_contains(?, r.status) ORDER BY r.created_at DESC",
                              [list(statuses)])
        return [_run(r) for r in rows]

    # -- trials -------------------------------------------------------------------------------
    def upsert_trial(
        self, *, run_id: str, number: int, state: str, value: float | None,
        params: dict[str, Any], intermediate: dict[str, float] | None = None,
        duration_s: float | None = None, pid: int | None = None, host: str | None = None,
        started_at: Any = None, ended_at: Any = None,
    ) -> None:
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO trials " + _TRIAL_COLUMNS + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, number, state, value, dumps(params), dumps(intermediate), duration_s,
                 pid, host, started_at, ended_at],
            )

    def record_trials(self, run_id: str, trials: builtins.list[TrialRow], *, best_value: float | None = None,
                      workers: builtins.list[dict[str, Any]] | None = None) -> None:
        """Upsert several trials (keys of ``upsert_trial``) and optionally the run's best value, in
        one transaction: a tuning worker mirrors its trials with one short connection, not one each.

        One multi-row statement per 200 trials: DuckDB's ``executemany`` runs a statement per row
        (~5 ms each), which made a mirror write of ten trials 60 ms instead of 10."""
        rows = [[run_id, t["number"], t["state"], t.get("value"), dumps(t.get("params") or {}),
                 dumps(t.get("intermediate")), t.get("duration_s"), t.get("pid"), t.get("host"),
                 t.get("started_at"), t.get("ended_at")] for t in trials]
        # One row per trial number: a statement may not insert the same key twice; the last wins.
        rows = list({row[1]: row for row in rows}.values())
        with self._write() as con:
            for start in range(0, len(rows), 200):
                chunk = rows[start:start + 200]
                con.execute("INSERT OR REPLACE INTO trials " + _TRIAL_COLUMNS + " VALUES "
                            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                            [value for row in chunk for value in row])
            if best_value is not None:
                # Only ever better: each worker of a run mirrors the best of the trials it saw, and a
                # second worker (started before the first trial ended) wrote its 30.88 over the
                # first's 29.5 (rmse): the run's head and list showed a worse best while it ran.
                con.execute("UPDATE runs SET best_value = ? WHERE run_id = ? AND (best_value IS NULL"
                            " OR (direction = 'minimize' AND ? < best_value)"
                            " OR (direction = 'maximize' AND ? > best_value))",
                            [best_value, run_id, best_value, best_value])
            for w in workers or []:
                # seen_at NULL: the coordinator saw no change (only alive flipped): keep the last one.
                con.execute(
                    """INSERT INTO run_workers (run_id, host, pid, state, trials, alive, reason, started_at, seen_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (run_id, host, pid) DO UPDATE SET state = excluded.state,
                           trials = excluded.trials, alive = excluded.alive, reason = excluded.reason,
                           seen_at = coalesce(excluded.seen_at, run_workers.seen_at)""",
                    [run_id, w["host"], w["pid"], w["state"], w.get("trials") or 0, bool(w.get("alive")),
                     w.get("reason"), w.get("started_at"), w.get("seen_at")])

    def workers(self, run_id: str) -> builtins.list[RunWorker]:
        """The workers a coordinator recorded for a run (shared studies only), by host and pid."""
        with self._read() as con:
            rows = self._rows(con, "SELECT run_id, host, pid, state, trials, alive, reason, started_at, seen_at "
                                   "FROM run_workers WHERE run_id = ? ORDER BY host, pid", [run_id])
        return [RunWorker(**r) for r in rows]

    def trials(self, run_id: str) -> builtins.list[Trial]:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM trials WHERE run_id = ? ORDER BY number", [run_id])
        return [_trial(r) for r in rows]

    def running_trials(self) -> builtins.list[Trial]:
        """Every trial recorded as RUNNING, in any run (the zombie sweep checks their pids)."""
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM trials WHERE state = 'RUNNING' ORDER BY run_id, number")
        return [_trial(r) for r in rows]

    def trials_of(self, run_ids: builtins.list[str]) -> dict[str, builtins.list[Trial]]:
        with self._read() as con:
            rows = self._rows(
                con, "SELECT * FROM trials WHERE list_contains(?, run_id) ORDER BY run_id, number", [run_ids]
            )
        out: dict[str, builtins.list[Trial]] = {i: [] for i in run_ids}
        for r in rows:
            out[r["run_id"]].append(_trial(r))
        return out

    # -- evaluations --------------------------------------------------------------------------
    def add_evaluation(
        self, *, eval_id: str, dataset: str, dataset_version: int, kind: str, task: str,
        metrics: dict[str, Any], run_id: str | None = None, model_name: str | None = None,
        model_version: int | None = None, details_path: str | None = None,
    ) -> Evaluation:
        with self._write() as con:
            con.execute(
                "INSERT INTO evaluations (eval_id, run_id, model_name, model_version, dataset, dataset_version, kind,"
                " task, metrics_json, details_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [eval_id, run_id, model_name, model_version, dataset, dataset_version, kind, task,
                 dumps(metrics), details_path, utcnow()],
            )
            rows = self._rows(con, "SELECT * FROM evaluations WHERE eval_id = ?", [eval_id])
        return _evaluation(rows[0])

    def evaluations(
        self, *, run_id: str | None = None, model_name: str | None = None,
        model_version: int | None = None, kind: str | None = None,
    ) -> builtins.list[Evaluation]:
        where, params = [], []
        for col, val in (("run_id", run_id), ("model_name", model_name),
                         ("model_version", model_version), ("kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")  # col from the fixed tuple above
                params.append(val)
        sql = "SELECT * FROM evaluations" + (" WHERE " + " AND ".join(where) if where else "")
        with self._read() as con:
            return [_evaluation(r) for r in self._rows(con, sql + " ORDER BY created_at", params)]

    def evaluations_of(self, run_ids: builtins.list[str], *, kind: str | None = None) -> builtins.list[Evaluation]:
        """Evaluations of several runs in one read, oldest first (``run compare`` over many runs)."""
        sql = "SELECT * FROM evaluations WHERE list_contains(?, run_id)"
        params: builtins.list[Any] = [run_ids]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        with self._read() as con:
            return [_evaluation(r) for r in self._rows(con, sql + " ORDER BY created_at", params)]
