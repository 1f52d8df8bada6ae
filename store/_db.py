"""Connections to the one DuckDB file, shared safely by many processes.

DuckDB lets a single process hold a database file at a time: while the TUI, a tuning worker or
a CLI call has it open, every other process gets ``IOException: Could not set lock``. So nobody
keeps a connection across user think time: each operation opens the file, does its work in one
transaction and closes it (about 20 ms). A process that finds the file locked retries with
jittered exponential backoff for a bounded time (``MLOPS_STORE_TIMEOUT``, default 60 s) and only
then raises :class:`StoreBusyError` naming the holder.

Threads of one process do not see that lock: DuckDB hands them the same database instance, so
two threads would run their transactions side by side and race (two writers both numbering the
next dataset version 4 → one fails on the primary key). And DuckDB's lock alone did not survive
a lock storm of processes (see :class:`_Gate`). So every open first passes a gate: one thread of
one mlops-tui process holds a store file at a time, the others wait their turn.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

try:
    import fcntl
except ImportError:  # Windows: DuckDB's own lock is all there is
    fcntl = None  # type: ignore[assignment]


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


# DuckDB settings of a sandboxed connection (names checked against duckdb 2.0's duckdb_settings()).
# The views read only tables of the store file, and json/parquet/icu are linked into DuckDB, so
# nothing they need is lost.
SANDBOX: dict[str, str | bool | int | float | list[str]] = {"enable_external_access": False, "autoinstall_known_extensions": False,
           "autoload_known_extensions": False}


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(p in text for p in _LOCK_PATTERNS)


def default_timeout() -> float:
    return float(os.environ.get("MLOPS_STORE_TIMEOUT", "60"))


class _Gate:
    """One holder of a store file at a time, among threads and among mlops-tui processes.

    Threads: a re-entrant lock (a thread may nest its own opens). Processes: an exclusive
    ``flock`` on ``<store>.lock`` taken before DuckDB is even asked to open the file. DuckDB's own
    lock is not enough under a lock storm: a process that tries to open a file another process
    is checkpointing reads it before it asks for the lock, and under heavy load we saw
    "Corrupt database file: computed checksum ... does not match" errors from that, and once a
    store left unreadable (a WAL pointing past the end of the file). With the gate, no two
    mlops-tui processes ever touch the file at once; DuckDB's lock (and the retry in
    :func:`_connect`) still guards against other programs, such as the ``duckdb`` shell.
    """

    def __init__(self, path: str) -> None:
        self.lock_path = path + ".lock"
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.owner: int | None = None  # the thread holding it
        self.fd: int | None = None

    def held_here(self) -> bool:
        return self.owner == threading.get_ident()

    def acquire(self, deadline: float) -> bool:
        if not self.thread_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        if self.depth == 0:
            fd = self._open_lock_file()
            if fd is not None and not _flock(fd, deadline):  # (_flock closes fd on failure)
                self.thread_lock.release()
                return False
            self.fd = fd
            self.owner = threading.get_ident()
        self.depth += 1
        return True

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.owner = None
            if self.fd is not None:
                os.close(self.fd)  # closing the descriptor drops the flock
                self.fd = None
        self.thread_lock.release()

    def _open_lock_file(self) -> int | None:
        if fcntl is None:
            return None
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                return os.open(self.lock_path, flags | os.O_CLOEXEC, 0o644)
            except OSError:
                continue
        return None  # e.g. a read-only folder without a lock file: DuckDB's lock still applies


def _flock(fd: int, deadline: float) -> bool:
    """Take an exclusive flock on ``fd`` before ``deadline``; on failure ``fd`` is closed.

    Waiting processes block in the kernel rather than sleep-and-poll: the kernel wakes them the
    moment the holder lets go, so a process that does one operation after another cannot keep
    winning the race against pollers still asleep (which starved readers in the bench: reads
    took seconds). flock has no timeout, so a helper thread blocks; if the deadline passes
    first, that thread closes the descriptor when it finally gets the lock, releasing it again.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    state = {"granted": False, "abandoned": False}
    guard = threading.Lock()
    granted = threading.Event()

    def wait_in_kernel() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            granted.set()  # not granted: wakes the caller, which gives up
            return
        with guard:
            if state["abandoned"]:
                os.close(fd)
                return
            state["granted"] = True
        granted.set()

    threading.Thread(target=wait_in_kernel, name="store-gate", daemon=True).start()
    granted.wait(max(0.0, deadline - time.monotonic()))
    with guard:
        if state["granted"]:
            return True
        state["abandoned"] = True
    return False


_GATES: dict[str, _Gate] = {}
_GATES_GUARD = threading.Lock()


def _gate(path: Path) -> _Gate:
    key = os.path.abspath(path)
    with _GATES_GUARD:
        return _GATES.setdefault(key, _Gate(key))


def _reset_after_fork() -> None:
    # A forked child has only the forking thread; what other threads held is meaningless there.
    global _GATES_GUARD, _INSTANCE, _INSTANCE_GUARD
    _GATES.clear()
    _GATES_GUARD = threading.Lock()
    _INSTANCE, _INSTANCE_GUARD = None, threading.Lock()  # DuckDB's threads did not survive the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# Connections held by this thread's ``session()``, by absolute path.
_HELD = threading.local()


def _held(path: Path) -> duckdb.DuckDBPyConnection | None:
    return getattr(_HELD, "cons", {}).get(os.path.abspath(path))


@contextmanager
def session(path: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Let every store call this thread makes inside the block share one connection.

    Each open attaches the file and detaches it again (a checkpoint: ~7 ms, more while another
    process holds it), so a screen that shows three reads pays it once instead of three times.
    Each call still runs its own transaction. Keep the block short and free of slow work: while it
    lasts no other process can open the store. Nested sessions reuse the outer one. A read-only or
    sandboxed open (the ``sql`` command's) cannot happen inside one: the file is already attached.
    """
    if _held(path) is not None:
        yield
        return
    cons = getattr(_HELD, "cons", None)
    if cons is None:
        cons = _HELD.cons = {}
    with open_connection(path, timeout=timeout) as con:
        cons[os.path.abspath(path)] = con
        try:
            yield
        finally:
            del cons[os.path.abspath(path)]


@contextmanager
def open_connection(
    path: Path, *, read_only: bool = False, timeout: float | None = None, sandboxed: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path``, waiting while another thread or process holds it; always closes it.
    Inside this thread's :func:`session` on the same file, its connection is used instead.

    ``sandboxed`` (user SQL): the connection reads only the store file itself: no other file, no
    URL, no extension installed or loaded on demand, and its settings are locked so a query
    cannot turn that back on."""
    gate = _gate(path)
    if (read_only or sandboxed) and gate.held_here():
        # This thread already has the file attached read-write (a session or an outer call):
        # DuckDB would refuse the second open with a "file handle conflict" until the timeout.
        raise StoreError(f"store {path} is already open in this thread; a read-only or sandboxed "
                         "open cannot nest inside it (run it outside the session)")
    held = None if read_only or sandboxed else _held(path)
    if held is not None:
        yield held
        return
    deadline = time.monotonic() + (default_timeout() if timeout is None else timeout)
    if not gate.acquire(deadline):
        raise StoreBusyError(
            f"store {path} stayed busy (another mlops-tui process or thread is using it); "
            "try again or raise MLOPS_STORE_TIMEOUT"
        )
    try:
        with _connect(path, read_only, deadline, sandboxed) as con:
            yield con
    finally:
        gate.release()


# One in-memory DuckDB per process that store files are ATTACHed to and DETACHed from: starting a
# DuckDB instance costs ~20 ms and closing one checkpoints, so `duckdb.connect(file)` per call cost
# 36-43 ms where attach + work + detach costs 6-9 ms. DETACH checkpoints and releases the file's
# lock just as close() did, so other processes can open the store the moment a call ends.
class _Instance:
    """The process's DuckDB instance and how many connections use it right now.

    If a file ever stays attached after its DETACH failed, the instance is *retired*: new opens get
    a fresh instance and the old one is closed (which releases every file it holds) as soon as its
    last connection ends. Without that, one failed DETACH in a long-lived process (the TUI) would
    keep the store locked for every other process until that process exits."""

    def __init__(self) -> None:
        self.db = duckdb.connect(":memory:")
        self.users = 0
        self.retired = False


_INSTANCE: _Instance | None = None
_INSTANCE_GUARD = threading.Lock()


def _acquire_instance() -> _Instance:
    global _INSTANCE
    with _INSTANCE_GUARD:
        if _INSTANCE is None:
            _INSTANCE = _Instance()
        _INSTANCE.users += 1
        return _INSTANCE


def _release_instance(inst: _Instance) -> None:
    with _INSTANCE_GUARD:
        inst.users -= 1
        if inst.retired and inst.users == 0:
            inst.db.close()


def _retire_instance(inst: _Instance) -> None:
    global _INSTANCE
    with _INSTANCE_GUARD:
        inst.retired = True
        if _INSTANCE is inst:
            _INSTANCE = None


def _open(
    path: Path, read_only: bool, sandboxed: bool
) -> tuple[duckdb.DuckDBPyConnection, str | None, _Instance | None]:
    """A connection whose default database is the store file, the alias to detach (if any) and the
    shared instance it came from (None for a sandboxed connection, which has its own)."""
    if sandboxed:  # user SQL gets an instance of its own: its settings lock the whole instance
        return duckdb.connect(str(path), read_only=True, config=SANDBOX), None, None
    alias = "store_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    inst = _acquire_instance()
    try:
        con = inst.db.cursor()
    except BaseException:
        _release_instance(inst)
        raise
    try:
        con.execute(f"ATTACH ? AS {alias}" + (" (READ_ONLY)" if read_only else ""), [str(path)])
        con.execute(f"USE {alias}")
    except BaseException:
        _close(con, None, inst)
        raise
    return con, alias, inst


def _detach(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Release the file: DETACH checkpoints it and drops DuckDB's lock on it."""
    con.execute("USE memory")
    con.execute(f"DETACH {alias}")


def _still_attached(con: duckdb.DuckDBPyConnection, alias: str) -> bool:
    try:
        return bool(con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [alias]).fetchone())
    except Exception:  # noqa: BLE001 - a connection too broken to answer is treated as holding the file
        return True


def _close(con: duckdb.DuckDBPyConnection, alias: str | None, inst: _Instance | None) -> None:
    """Detach (if attached) and close ``con``; never leaves the file locked by this process.

    Raises :class:`StoreError` if the DETACH failed (e.g. its checkpoint hit a full disk) -- the
    caller decides whether that error or one already in flight is the one to report."""
    failure: Exception | None = None
    try:
        if alias is not None:
            try:
                _detach(con, alias)
            except Exception as exc:  # noqa: BLE001 - reported below, after the file is released
                failure = exc
                if inst is not None and _still_attached(con, alias):
                    _retire_instance(inst)
    finally:
        con.close()
        if inst is not None:
            _release_instance(inst)
    if failure is not None:
        raise StoreError(f"store file could not be released cleanly: {str(failure).splitlines()[0]}") from failure


@contextmanager
def _connect(
    path: Path, read_only: bool, deadline: float, sandboxed: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect, retrying with jittered backoff while another process holds the file's lock."""
    delay = 0.005
    while True:
        try:
            con, alias, inst = _open(path, read_only, sandboxed)
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
        con.execute("SET enable_progress_bar = false")  # it would print over the TUI and --json output
        if sandboxed:
            con.execute("SET lock_configuration = true")
        yield con
    except BaseException:
        # The body's error is the one to report: a failed DETACH after it (a full disk fails the
        # write and then the checkpoint) must not replace it.
        with contextlib.suppress(StoreError):
            _close(con, alias, inst)
        raise
    _close(con, alias, inst)


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
