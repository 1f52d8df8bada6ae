"""The store's failure paths: a full disk, a DETACH that leaves the file attached, a read-only open
nested in a session, a column added by a later migration, a busy store during a failed `dataset add`.

Each test drives the real DuckDB file (and real other processes where the point is what *they* see).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from mlops_tui.store import DriftResult, Store, StoreBusyError, StoreError, _db, session

from tests.conftest import SAMPLE


def other_process_opens(path, timeout: float = 5.0) -> bool:
    """Whether a separate process can open the store file (what the TUI's neighbours need)."""
    code = f"import duckdb; duckdb.connect({str(path)!r}).close()"
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def test_a_write_that_fills_the_disk_reports_the_write_error_not_the_detach(tmp_path):
    # A real "disk full": the process may not grow any file past a limit (RLIMIT_FSIZE), so the
    # commit's WAL write fails and then the DETACH's checkpoint fails too. The user must see the
    # first error (what went wrong), not the second (a detach they never asked for).
    path = tmp_path / "store.duckdb"
    Store.open(path)
    script = textwrap.dedent(f"""
        import resource, signal
        from pathlib import Path
        from mlops_tui.store import _db
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        path = Path({str(path)!r})
        try:
            with _db.open_connection(path) as con:
                con.execute("CREATE TABLE filler (x BIGINT, s VARCHAR)")
                resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
                con.execute("INSERT INTO filler SELECT range, repeat('b', 50) FROM range(50000)")
        except Exception as exc:
            print(type(exc).__name__, str(exc).splitlines()[0])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "File too large" in out.stdout, out.stdout + out.stderr
    assert "DETACH" not in out.stdout, out.stdout


def test_a_failed_detach_never_leaves_the_file_locked_for_other_processes(tmp_path, monkeypatch):
    # DuckDB may refuse the DETACH (here it is made to, as a broken connection would) and leave the
    # file attached to this process's instance: a long-lived process (the TUI) must not keep the
    # store locked for everyone else until it exits.
    path = tmp_path / "store.duckdb"
    store = Store.open(path)

    def refuse(con, alias):
        raise RuntimeError("simulated: DETACH refused")

    monkeypatch.setattr(_db, "_detach", refuse)
    with pytest.raises(StoreError, match="could not be released"):
        store.datasets.latest()
    monkeypatch.undo()
    assert other_process_opens(path)
    assert store.datasets.latest() == []  # and this process carries on with a fresh instance


def test_a_read_only_open_inside_a_session_fails_at_once(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    Store.open(path)
    monkeypatch.setenv("MLOPS_STORE_TIMEOUT", "60")  # the old behaviour: retry for all of this
    with session(path):
        for kwargs in ({"read_only": True}, {"sandboxed": True}):
            with pytest.raises(StoreError, match="cannot nest") as caught, _db.open_connection(path, **kwargs):
                pass
            assert not isinstance(caught.value, StoreBusyError)


def test_every_write_survives_a_column_added_by_a_later_migration(tmp_path):
    path = tmp_path / "store.duckdb"
    store = Store.open(path)
    with _db.transaction(path) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
                                            " AND NOT internal").fetchall()]
        for table in tables:
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN later_added VARCHAR')

    schema = [{"name": "x", "dtype": "Float64", "nullable": True, "role": "feature"}]
    version, new = store.datasets.add_version(
        name="d", hash="h1", path="artifacts/datasets/h1.parquet", source="/d.csv", rows=3, columns=1,
        target="x", task="regression", schema=schema, profile={})
    assert (version.version, new) == (1, True)
    store.runs.create(run_id="r1", name="r", dataset="d", dataset_version=1, target="x", task="regression",
                      metric="rmse", direction="minimize", seed=0, config={})
    store.runs.upsert_trial(run_id="r1", number=0, state="COMPLETE", value=1.5, params={"a": 1})
    store.runs.record_trials("r1", [{"number": 1, "state": "COMPLETE", "value": 1.0, "params": {}}])
    assert [t.value for t in store.runs.trials("r1")] == [1.5, 1.0]
    store.runs.add_evaluation(eval_id="e1", dataset="d", dataset_version=1, kind="holdout", task="regression",
                              metrics={"rmse": 1.0}, run_id="r1")
    model = store.models.register(name="m", path="artifacts/models/m.txt", sha256="0" * 64, task="regression",
                                  signature={"features": []}, run_id="r1")
    store.models.set_alias("m", "production", model.version)
    assert [c.version for c in store.models.alias_history("m")] == [1]
    dep = store.models.deploy(name="dep", model_name="m", model_version=1, signature={"features": []})
    assert dep.model_version == 1
    store.jobs.start(job_id="j1", model_name="m", model_version=1, inputs=[], deployment="dep")
    store.jobs.add_drift([DriftResult(job_id="j1", feature="x", kind="numeric", psi=0.01, ks_stat=0.1,
                                      ks_pvalue=0.5, null_rate_ref=0.0, null_rate_cur=0.0, new_categories=0,
                                      status="ok", details={"bins": 10})])
    (drift,) = store.jobs.drift(["j1"])["j1"]
    assert (drift.psi, drift.details) == (0.01, {"bins": 10})
    feedback = store.jobs.add_feedback(feedback_id="f1", deployment="dep", rows_matched=3,
                                       metrics={"rmse": 1.0}, status="ok", job_id="j1")
    assert store.jobs.feedback("dep") == [feedback]
    store.audit.record("test", "obj", "ok", {})
    assert store.audit.events(obj="obj")[0].command == "test"


def test_a_failed_add_under_a_busy_store_keeps_a_snapshot_another_process_registered(ws, monkeypatch, tmp_path):
    # Two processes register the same content: the other one wins the race and registers the
    # snapshot file this `add` has just written; then this `add` fails because the store is busy.
    # Its clean-up must not delete the file: the other process's version points at it.
    from mlops_tui.data import datasets

    source = tmp_path / "penguins.csv"
    source.write_bytes((SAMPLE / "penguins.csv").read_bytes())
    real_write = datasets._write_snapshot
    holder: list[subprocess.Popen] = []

    def write_then_race(ws_, lf, src):
        digest, snapshot, created = real_write(ws_, lf, src)
        # The other process registers the same content under its own name ...
        subprocess.run([sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "dataset", "add",
                        str(source), "--name", "theirs", "--json"], check=True, capture_output=True, timeout=120)
        # ... and then something holds the store for longer than this process will wait.
        proc = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                                 f"con = duckdb.connect({str(ws.store_path)!r}); print('held', flush=True); "
                                 "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
        holder.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return digest, snapshot, created

    monkeypatch.setattr(datasets, "_write_snapshot", write_then_race)
    monkeypatch.setenv("MLOPS_STORE_TIMEOUT", "1")
    try:
        with pytest.raises(Exception, match="stayed (locked|busy)"):
            datasets.add(ws, str(source), name="mine", target="species")
    finally:
        for proc in holder:
            proc.kill()
            proc.wait()
    monkeypatch.delenv("MLOPS_STORE_TIMEOUT")
    theirs = ws.store.datasets.get("theirs")
    assert (ws.root / theirs.path).exists()
    assert datasets.load(ws, theirs).height == theirs.rows
