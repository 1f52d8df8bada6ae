"""HTTP services started by `mlops-tui serve`: who listens where, and their heartbeats.

A service never keeps the store open (DuckDB lets one process hold the file): it writes its row
when it starts, a heartbeat every few seconds from a background thread, and its end. `serve list`
and the TUI read these rows; a row whose process died is marked 'died' by the sweep in
``mlops_tui.serving.service``.
"""

from __future__ import annotations

from typing import Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store._db import NotFoundError
from mlops_tui.store.records import Service

ACTIVE = ("starting", "running", "stopping")
_FIELDS = {"status", "model_name", "model_version", "error", "ended_at", "url"}


def _service(r: dict[str, Any]) -> Service:
    return Service(
        service_id=r["service_id"], deployment=r["deployment"], status=r["status"], host=r["host"],
        pid=r["pid"], url=r["url"], workers=r["workers"], model_name=r["model_name"],
        model_version=r["model_version"], log_path=r["log_path"], stats=loads(r["stats_json"], {}),
        error=r["error"], started_at=r["started_at"], heartbeat_at=r["heartbeat_at"], ended_at=r["ended_at"],
    )


class Services(Area):
    def start(self, *, service_id: str, deployment: str, host: str, pid: int, url: str, workers: int,
              log_path: str | None, audit: tuple[str, str, str, dict[str, Any] | None] | None = None) -> None:
        """Record a service as starting (its workers set 'running' once the model is loaded)."""
        from mlops_tui.store.audit import write_event

        with self._write() as con:
            con.execute(
                """INSERT INTO services (service_id, deployment, status, host, pid, url, workers, log_path,
                       stats_json, started_at) VALUES (?, ?, 'starting', ?, ?, ?, ?, ?, '{}', ?)""",
                [service_id, deployment, host, pid, url, workers, log_path, utcnow()])
            if audit:
                write_event(con, audit)

    def update(self, service_id: str, **fields: Any) -> None:
        sets, params = [], []
        for key, value in fields.items():
            if key not in _FIELDS:
                raise ValueError(f"services has no updatable field {key!r}")
            sets.append(f"{key} = ?")  # key checked against a fixed set above
            params.append(value)
        with self._write() as con:
            con.execute(f"UPDATE services SET {', '.join(sets)} WHERE service_id = ?", [*params, service_id])

    def heartbeat(self, service_id: str, worker: int, stats: dict[str, Any], *, model_name: str | None = None,
                  model_version: int | None = None, status: str | None = None,
                  audit: tuple[str, str, str, dict[str, Any] | None] | None = None) -> None:
        """One worker's figures (merged by worker pid), the version it serves and, optionally, an
        audit event (a hot swap) in the same transaction. A stopped service is not revived."""
        from mlops_tui.store.audit import write_event

        with self._write() as con:
            row = con.execute("SELECT stats_json, status FROM services WHERE service_id = ?", [service_id]).fetchone()
            if row is None:
                return
            merged = {**loads(row[0], {}), str(worker): stats}
            new_status = status if status and row[1] in ("starting", "running") else row[1]
            con.execute(
                """UPDATE services SET stats_json = ?, heartbeat_at = ?, status = ?,
                       model_name = coalesce(?, model_name), model_version = coalesce(?, model_version)
                   WHERE service_id = ?""",
                [dumps(merged), utcnow(), new_status, model_name, model_version, service_id])
            if audit:
                write_event(con, audit)

    def finish(self, service_id: str, status: str, error: str | None = None) -> bool:
        """Mark an active service ended (compare-and-set: False if it had ended already)."""
        with self._write() as con:
            won = con.execute(
                f"UPDATE services SET status = ?, error = coalesce(?, error), ended_at = ? "
                f"WHERE service_id = ? AND status IN {ACTIVE} RETURNING service_id",  # fixed tuple of literals
                [status, error, utcnow(), service_id]).fetchall()
        return bool(won)

    def get(self, service_id: str) -> Service:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM services WHERE service_id = ?", [service_id])
        if not rows:
            raise NotFoundError(f"unknown service {service_id!r}")
        return _service(rows[0])

    def list(self, *, active: bool = False, deployment: str | None = None, limit: int = 100) -> list[Service]:
        """Newest first; ``active``: only services starting, running or stopping."""
        sql = "SELECT * FROM services WHERE true"
        params: list[Any] = []
        if active:
            sql += f" AND status IN {ACTIVE}"  # fixed tuple of literals
        if deployment:
            sql += " AND deployment = ?"
            params.append(deployment)
        sql += " ORDER BY started_at DESC LIMIT ?"
        params.append(limit)
        with self._read() as con:
            return [_service(r) for r in self._rows(con, sql, params)]
