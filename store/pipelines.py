"""Pipeline runs and their stages (`mlops-tui pipeline run`), written as they happen.

A stage's row is put when the stage starts (status ``running`` with the pid) and put again when it
ends, each in its own short transaction: a run killed with kill -9 leaves its finished stages on
record, and the next run finds them (a ``running`` row whose pid is dead counts as not done).
"""

from __future__ import annotations

import builtins  # list() below shadows the builtin in annotations
from collections.abc import Callable
from typing import Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store.audit import Event, write_event
from mlops_tui.store.records import PipelineRun, PipelineStage

DONE = ("ran", "skipped")  # a stage whose record says this succeeded; its outputs are valid


def _run(r: dict[str, Any]) -> PipelineRun:
    return PipelineRun(run_id=r["run_id"], pipeline=r["pipeline"], file=r["file"], status=r["status"],
                       trigger=r["trigger"], pid=r["pid"], host=r["host"], started_at=r["started_at"],
                       ended_at=r["ended_at"])


def _stage(r: dict[str, Any]) -> PipelineStage:
    return PipelineStage(run_id=r["run_id"], stage=r["stage"], kind=r["kind"], position=r["position"],
                         status=r["status"], reason=r["reason"], fingerprint=r["fingerprint"],
                         inputs=loads(r["inputs_json"], {}), outputs=loads(r["outputs_json"], {}),
                         pid=r["pid"], started_at=r["started_at"], ended_at=r["ended_at"])


class Pipelines(Area):
    def start(self, *, run_id: str, pipeline: str, file: str, trigger: str, pid: int, host: str,
              interrupted: tuple[str, ...] = (), audit: Event | None = None,
              unless: Callable[[builtins.list[PipelineRun]], PipelineRun | None] | None = None,
              ) -> PipelineRun | None:
        """Record a run as running; ``interrupted``: earlier runs of this pipeline whose process died.

        ``unless`` is called inside the write transaction (one process at a time) with the pipeline's
        runs recorded as running: a run it returns holds the pipeline, and then nothing is written and
        that run is returned. Two processes started in the same instant cannot both start."""
        with self._write() as con:
            if unless is not None:
                running = self._rows(
                    con, "SELECT * FROM pipeline_runs WHERE pipeline = ? AND status = 'running'", [pipeline])
                holder = unless([_run(r) for r in running])
                if holder is not None:
                    return holder
            for old in interrupted:
                con.execute("UPDATE pipeline_runs SET status = 'interrupted', ended_at = ? WHERE run_id = ?",
                            [utcnow(), old])
            con.execute("INSERT INTO pipeline_runs (run_id, pipeline, file, status, trigger, pid, host, started_at)"
                        " VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                        [run_id, pipeline, file, trigger, pid, host, utcnow()])
            if audit:
                write_event(con, audit)
        return None

    def put_stage(self, *, run_id: str, stage: str, kind: str, position: int, status: str,
                  reason: str | None = None, fingerprint: str | None = None,
                  inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None,
                  pid: int | None = None, started: bool = False, ended: bool = False,
                  audit: Event | None = None) -> None:
        """Write (or rewrite) one stage's row; ``started``/``ended`` stamp the time now."""
        now = utcnow()
        with self._write() as con:
            old = con.execute("SELECT started_at FROM pipeline_stages WHERE run_id = ? AND stage = ?",
                              [run_id, stage]).fetchone()
            started_at = now if started or (ended and old is None) else (old[0] if old else None)
            con.execute(
                "INSERT OR REPLACE INTO pipeline_stages (run_id, stage, kind, position, status, reason, fingerprint,"
                " inputs_json, outputs_json, pid, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, stage, kind, position, status, reason, fingerprint, dumps(inputs or {}),
                 dumps(outputs or {}), pid, started_at, now if ended else None])
            if audit:
                write_event(con, audit)

    def finish(self, run_id: str, status: str, audit: Event | None = None) -> None:
        with self._write() as con:
            con.execute("UPDATE pipeline_runs SET status = ?, ended_at = ? WHERE run_id = ?", [status, utcnow(), run_id])
            if audit:
                write_event(con, audit)

    def list(self, pipeline: str | None = None, *, status: str | None = None,
             limit: int | None = 50) -> builtins.list[PipelineRun]:
        """Runs newest first, optionally of one pipeline and/or in one status (``limit`` None: all)."""
        sql, params = "SELECT * FROM pipeline_runs WHERE true", builtins.list[Any]()
        if pipeline is not None:
            sql += " AND pipeline = ?"
            params.append(pipeline)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY started_at DESC, run_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as con:
            return [_run(r) for r in self._rows(con, sql, params)]

    def stages(self, run_id: str | None = None) -> builtins.list[PipelineStage]:
        """The stages of one run in order, or of every run (``None``: lineage reads them all)."""
        sql = "SELECT * FROM pipeline_stages" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY run_id, position"
        with self._read() as con:
            return [_stage(r) for r in self._rows(con, sql, [run_id] if run_id else [])]

    def history(self, pipeline: str) -> builtins.list[PipelineStage]:
        """Every stage record of ``pipeline``'s runs, newest first (what each stage last did)."""
        sql = ("SELECT s.* FROM pipeline_stages s JOIN pipeline_runs r USING (run_id) WHERE r.pipeline = ?"
               " ORDER BY coalesce(s.started_at, r.started_at) DESC, r.started_at DESC")
        with self._read() as con:
            return [_stage(r) for r in self._rows(con, sql, [pipeline])]
