"""Shared plumbing for the store's areas (datasets, runs, models, jobs, audit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from mlops_tui.store._db import open_connection, transaction


def utcnow() -> datetime:
    """Naive UTC timestamps: what DuckDB's TIMESTAMP columns hold throughout the store."""
    return datetime.now(UTC).replace(tzinfo=None)


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


class Area:
    """One group of tables. Every method opens the file, does one transaction and closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with transaction(self.path) as con:
            yield con

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # Read-write open on purpose: a read-only open cannot coexist with writers any better
        # (DuckDB's lock is per process) and it would fail on a store that still needs upgrading.
        with open_connection(self.path) as con:
            yield con

    @staticmethod
    def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
