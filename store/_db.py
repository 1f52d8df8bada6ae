"""Connections to the one DuckDB file, shared safely by many processes.

DuckDB lets a single process hold a database file at a time: while the TUI, a tuning worker or
a CLI call has it open, every other process gets ``IOException: Could not set lock``. So nobody
keeps a connection across user think time: each operation opens the file, does its work in one
transaction and closes it (about 20 ms). A process that finds the file locked retries with
jittered exponential backoff for a bounded time (``MLOPS_STORE_TIMEOUT``, default 60 s) and only
then raises :class:`StoreBusyError` naming the holder.

Threads of one process do not see that lock: DuckDB hands them the same database instance, so
two threads would run their transactions side by side and race (two writers both numbering the
next dataset version 4 → one fails on the primary key). So within a process, one thread at a time
holds a given store file too (a re-entrant lock per file), which gives threads the same "one
holder at a time" rule processes have.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class StoreError(Exception):
    """Base class of every error the store raises; the message is meant for people."""


class StoreBusyError(StoreError):
    """The file stayed locked by another process for longer than the timeout."""


class NotFoundError(StoreError):
    """A named object (dataset, run, model, deployment, ...) does not exist."""


class SchemaVersionError(StoreError):
    """The file was written by a newer mlops-tui, or is not a store at all."""


# The last one is in-process: threads of one process (TUI workers) opening the file at the same
# moment race in DuckDB's instance cache; a retry a few ms later succeeds.
_LOCK_PATTERNS = ("could not set lock", "conflicting lock", "unique file handle conflict")


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(p in text for p in _LOCK_PATTERNS)


def default_timeout() -> float:
    return float(os.environ.get("MLOPS_STORE_TIMEOUT", "60"))


_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.RLock:
    """The in-process lock of one store file (re-entrant: a thread may nest its own opens)."""
    key = os.path.abspath(path)
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.RLock())


def _reset_after_fork() -> None:
    # A forked child has only the forking thread; locks other threads held are meaningless there.
    global _FILE_LOCKS_GUARD
    _FILE_LOCKS.clear()
    _FILE_LOCKS_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def open_connection(
    path: Path, *, read_only: bool = False, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path``, waiting while another thread or process holds it; always closes it."""
    deadline = time.monotonic() + (default_timeout() if timeout is None else timeout)
    lock = _file_lock(path)
    if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise StoreBusyError(
            f"store {path} stayed busy in this process; try again or raise MLOPS_STORE_TIMEOUT"
        )
    try:
        with _connect(path, read_only, deadline) as con:
            yield con
    finally:
        lock.release()


@contextmanager
def _connect(path: Path, read_only: bool, deadline: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect, retrying with jittered backoff while another process holds the file's lock."""
    delay = 0.005
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except (duckdb.IOException, duckdb.ConnectionException, duckdb.ResourceInUseException) as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open store {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                holder = re.search(r"PID (\d+)", str(exc))
                who = f" by process {holder.group(1)}" if holder else ""
                raise StoreBusyError(
                    f"store {path} stayed locked{who}; try again or raise MLOPS_STORE_TIMEOUT"
                ) from exc
            # Full jitter keeps several waiting processes from retrying in lockstep.
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 0.25)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(path: Path, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """One short read-write transaction: committed on success, rolled back on any error."""
    with open_connection(path, timeout=timeout) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
