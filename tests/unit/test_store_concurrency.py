"""Many processes on one store file at once: nothing fails, nothing is lost.

The TUI, detached tuning workers and CLI calls share one DuckDB file, which only one process can
open at a time. These tests start real processes (the workload of bench/store_concurrency.py,
smaller) and then read the store back to prove every write landed exactly once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from mlops_tui.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    """bench/ is a folder of scripts, not a package: load the workload module by path."""
    spec = importlib.util.spec_from_file_location("store_concurrency", ROOT / "bench" / "store_concurrency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("store_concurrency", module)
    spec.loader.exec_module(module)
    return module


bench = _bench()

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("store_stress")]


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    """4 writers x 50 operations and 2 polling readers, all at once on one file."""
    path = tmp_path_factory.mktemp("storm") / "store.duckdb"
    result = bench.stress(path, writers=4, ops=50, readers=2, timeout=120)
    return path, result


def test_no_process_sees_an_error(storm):
    _, result = storm
    assert result["errors"] == []
    assert result["write_ops"] == 200
    assert result["read_ops"] > 0


def test_dataset_versions_are_unique_and_consecutive(storm):
    path, _ = storm
    versions = Store(path).datasets.versions(bench.SHARED_DATASET)
    # ops 0, 3, 6, ... 48 of each writer add a version: 17 per writer.
    assert [v.version for v in versions] == list(range(1, 4 * 17 + 1))
    assert len({v.hash for v in versions}) == 4 * 17


def test_every_trial_upsert_landed_once_and_completed(storm):
    path, _ = storm
    trials = Store(path).runs.trials_of([bench.run_id_of(w) for w in range(4)])
    for got in trials.values():
        assert [t.number for t in got] == list(range(17))  # ops 1, 4, ... 49
        assert {t.state for t in got} == {"COMPLETE"}


def test_every_audit_event_is_recorded_once(storm):
    path, _ = storm
    events = Store(path).audit.events(obj=bench.AUDIT_PREFIX, limit=10_000)
    objects = [e.object for e in events]
    assert len(objects) == len(set(objects)) == 4 * 16  # ops 2, 5, ... 47
    assert [e.event_id for e in events] == sorted((e.event_id for e in events), reverse=True)


def test_verifier_finds_no_lost_writes(storm):
    path, result = storm
    assert result["lost_writes"] == []
    assert bench.verify(Store(path), writers=4, ops=50) == []


def test_verifier_would_notice_a_lost_write(tmp_path):
    """Guards the guard: a store missing writes is reported, so the checks above can fail."""
    store = Store.open(tmp_path / "store.duckdb")
    for k in range(6):
        if k != 3:  # op 3 (a dataset version) "lost"
            bench._write(store, 0, k)
    problems = bench.verify(store, writers=1, ops=6)
    assert any("dataset versions" in p for p in problems)


def test_threads_of_one_process_neither_fail_nor_lose_writes(tmp_path):
    """Threads share DuckDB's database instance (no file lock between them), as TUI workers do.

    Without the store's per-file lock their transactions interleave and two threads give the
    same number to a new dataset version (a primary-key error); with it they take turns.
    """
    import threading

    store = Store.open(tmp_path / "store.duckdb")
    errors: list[str] = []

    def work(fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"{type(exc).__name__}: {exc}")

    def writer(index: int) -> None:
        for k in range(15):
            work(lambda k=k: bench._write(store, index, k))

    def reader() -> None:
        for k in range(10):
            work(lambda k=k: bench._read(store, k))
            work(lambda: store.query("SELECT count(*) FROM v_datasets"))  # read-only open

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bench.verify(store, writers=4, ops=15) == []


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
if {foreign}:
    import duckdb
    con = duckdb.connect({path!r})
else:
    from mlops_tui.store import open_connection
    held = open_connection(__import__("pathlib").Path({path!r}))  # kept referenced: still held
    con = held.__enter__()
print("held", flush=True)
time.sleep({seconds})
con.close()
"""


def _hold(path, *, foreign: bool, seconds: float):
    """A child process holding the store file: another mlops-tui process, or any DuckDB program."""
    import subprocess

    code = HOLD.format(root=str(ROOT), path=str(path), foreign=foreign, seconds=seconds)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("foreign", [False, True], ids=["mlops-tui", "duckdb"])
def test_a_call_waits_for_a_holder_instead_of_failing(tmp_path, foreign):
    store = Store.open(tmp_path / "store.duckdb")
    holder = _hold(store.path, foreign=foreign, seconds=1.0)
    store.audit.record("test", "wait:1", "ok")  # blocks until the holder lets go
    assert holder.wait(timeout=30) == 0
    assert [e.object for e in store.audit.events(obj="wait:")] == ["wait:1"]


@pytest.mark.parametrize("foreign", [False, True], ids=["mlops-tui", "duckdb"])
def test_a_holder_past_the_timeout_gives_store_busy_error(tmp_path, monkeypatch, foreign):
    from mlops_tui.store import StoreBusyError

    store = Store.open(tmp_path / "store.duckdb")
    holder = _hold(store.path, foreign=foreign, seconds=30)
    monkeypatch.setenv("MLOPS_STORE_TIMEOUT", "0.5")
    try:
        with pytest.raises(StoreBusyError, match="MLOPS_STORE_TIMEOUT") as caught:
            store.audit.record("test", "busy:1", "ok")
        if foreign:
            assert f"process {holder.pid}" in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.delenv("MLOPS_STORE_TIMEOUT")
    assert store.audit.events(obj="busy:") == []


def test_a_holder_killed_with_sigkill_does_not_block_the_store(tmp_path):
    store = Store.open(tmp_path / "store.duckdb")
    store.audit.record("test", "kill:before", "ok")
    holder = _hold(store.path, foreign=False, seconds=60)
    holder.kill()  # SIGKILL: no cleanup runs; the kernel drops its locks
    holder.wait()
    store.audit.record("test", "kill:after", "ok")
    assert [e.object for e in store.audit.events(obj="kill:")] == ["kill:after", "kill:before"]
