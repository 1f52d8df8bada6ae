"""The append-only audit trail: every mutating action, who did it, where, and how it ended."""

from __future__ import annotations

import getpass
import socket
from typing import TYPE_CHECKING, Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store.records import AuditEvent

if TYPE_CHECKING:
    import duckdb


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


# (command, object, outcome, details): an event another store method writes in its own transaction.
Event = tuple[str, str, str, dict[str, Any] | None]


def write_event(con: duckdb.DuckDBPyConnection, event: Event) -> None:
    """Append ``event`` on an open transaction: a method that changes a record and audits the change
    (e.g. ``Runs.create(..., audit=...)``) commits both or neither, with one open of the file."""
    command, obj, outcome, details = event
    con.execute(
        "INSERT INTO audit_events (happened_at, user_name, host, command, object, outcome, details_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [utcnow(), _user(), socket.gethostname(), command, obj, outcome, dumps(details)],
    )


class Audit(Area):
    def record(self, command: str, obj: str, outcome: str, details: dict[str, Any] | None = None) -> None:
        with self._write() as con:
            write_event(con, (command, obj, outcome, details))

    def events(self, *, obj: str | None = None, limit: int = 200) -> list[AuditEvent]:
        """Newest first; ``obj`` filters on the object prefix (e.g. 'model:bikeshare')."""
        sql = "SELECT * FROM audit_events"
        params: list[Any] = []
        if obj:
            sql += " WHERE starts_with(object, ?)"
            params.append(obj)
        sql += " ORDER BY event_id DESC LIMIT ?"
        params.append(limit)
        with self._read() as con:
            rows = self._rows(con, sql, params)
        return [
            AuditEvent(
                event_id=r["event_id"], at=r["happened_at"], user=r["user_name"], host=r["host"],
                command=r["command"], object=r["object"], outcome=r["outcome"],
                details=loads(r["details_json"]),
            )
            for r in rows
        ]
