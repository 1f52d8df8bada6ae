"""Datasets and their immutable versions."""

from __future__ import annotations

from typing import Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store._db import NotFoundError
from mlops_tui.store.records import DatasetVersion

_SELECT = """
    SELECT v.* FROM dataset_versions v
"""


def _record(row: dict[str, Any]) -> DatasetVersion:
    return DatasetVersion(
        name=row["name"],
        version=row["version"],
        hash=row["hash"],
        path=row["path"],
        source=row["source"],
        rows=row["n_rows"],
        columns=row["n_columns"],
        target=row["target"],
        task=row["task"],
        schema=loads(row["schema_json"], []),
        profile=loads(row["profile_json"], {}),
        created_at=row["created_at"],
        description=row["description"],
    )


class Datasets(Area):
    def add_version(
        self,
        *,
        name: str,
        hash: str,
        path: str,
        source: str,
        rows: int,
        columns: int,
        target: str | None,
        task: str | None,
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        description: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Register a version; the same content (hash) for the same name returns the existing one.
        ``description`` is this version's (the dataset's row keeps the latest one given).

        Returns ``(version, new)``. Version numbers are assigned inside the transaction, so two
        processes adding different content at once get distinct, consecutive numbers.
        """
        with self._write() as con:
            existing = self._rows(con, _SELECT + " WHERE v.name = ? AND v.hash = ?", [name, hash])
            if existing:
                return _record(existing[0]), False
            now = utcnow()
            con.execute(
                "INSERT INTO datasets (name, description, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET description = coalesce(excluded.description, datasets.description)",
                [name, description, now],
            )
            (version,) = con.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM dataset_versions WHERE name = ?", [name]
            ).fetchone() or (1,)
            con.execute(
                "INSERT INTO dataset_versions (name, version, hash, path, source, n_rows, n_columns, target, task,"
                " schema_json, profile_json, created_at, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, version, hash, path, source, rows, columns, target, task,
                 dumps(schema), dumps(profile), now, description],
            )
            row = self._rows(con, _SELECT + " WHERE v.name = ? AND v.version = ?", [name, version])
        return _record(row[0]), True

    def get(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version, or the latest one when ``version`` is None. Raises NotFoundError."""
        with self._read() as con:
            if version is None:
                rows = self._rows(
                    con, _SELECT + " WHERE v.name = ? ORDER BY v.version DESC LIMIT 1", [name]
                )
            else:
                rows = self._rows(con, _SELECT + " WHERE v.name = ? AND v.version = ?", [name, version])
        if not rows:
            what = f"dataset {name!r}" if version is None else f"dataset version {name}:{version}"
            raise NotFoundError(f"unknown {what}")
        return _record(rows[0])

    def latest(self) -> list[DatasetVersion]:
        """Every dataset at its latest version, by name."""
        with self._read() as con:
            rows = self._rows(
                con,
                _SELECT + """ WHERE v.version = (SELECT max(version) FROM dataset_versions x
                                                 WHERE x.name = v.name) ORDER BY v.name""",
            )
        return [_record(r) for r in rows]

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of one dataset, oldest first (empty if the name is unknown)."""
        with self._read() as con:
            rows = self._rows(con, _SELECT + " WHERE v.name = ? ORDER BY v.version", [name])
        return [_record(r) for r in rows]

    def by_hash(self, name: str, hash: str) -> DatasetVersion | None:
        """The version of ``name`` holding exactly this content, if one was registered."""
        with self._read() as con:
            rows = self._rows(con, _SELECT + " WHERE v.name = ? AND v.hash = ?", [name, hash])
        return _record(rows[0]) if rows else None

    def uses_path(self, path: str) -> bool:
        """Whether any version's snapshot is this (workspace-relative) file."""
        with self._read() as con:
            return bool((con.execute("SELECT count(*) FROM dataset_versions WHERE path = ?", [path]).fetchone() or (0,))[0])

    def list(self) -> list[DatasetVersion]:
        """Same as :meth:`latest` (the name screens and scripts reach for first)."""
        return self.latest()


def page(path: str, offset: int, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows ``offset .. offset+limit`` of a Parquet snapshot, fetched by DuckDB.

    Runs on a private in-memory connection (the snapshot is a plain file), so a TUI scrolling a
    10M-row dataset reads only the row groups it shows and never holds the store's lock.
    """
    from mlops_tui.store.profiling import connect

    with connect() as con:
        cur = con.execute("SELECT * FROM read_parquet(?) LIMIT ? OFFSET ?", [path, limit, offset])
        return [d[0] for d in cur.description], cur.fetchall()
