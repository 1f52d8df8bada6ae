"""Schema versions: old stores upgrade with their data, newer or foreign files are refused.

tests/data/store_v1.duckdb is a store written at schema v1 (one dataset, penguins:1, 344 rows).
Tests copy it to a temp dir first: the committed file must never change.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from mlops_tui.store import (
    VIEWS,
    DriftResult,
    SchemaVersionError,
    Store,
    StoreError,
    migrations,
    open_connection,
)

from tests.conftest import run_cli_subprocess

V1 = Path(__file__).resolve().parents[1] / "data" / "store_v1.duckdb"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def v1_copy(tmp_path) -> Path:
    copy = tmp_path / "ws" / "store.duckdb"
    copy.parent.mkdir()
    shutil.copy(V1, copy)
    return copy


def _set_version(path: Path, version: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, datetime(2030, 1, 1)])


def test_the_committed_file_is_a_v1_store():
    with duckdb.connect(str(V1), read_only=True) as con:
        assert migrations.current_version(con) == 1


def test_opening_a_v1_store_upgrades_it_to_latest_and_keeps_its_data(v1_copy):
    before = _sha(V1)
    store = Store.open(v1_copy)
    assert store.schema_version() == migrations.LATEST
    penguins = store.datasets.get("penguins", 1)
    assert (penguins.rows, penguins.version) == (344, 1)
    assert store.query("SELECT name, version, rows FROM v_datasets")[1] == [("penguins", 1, 344)]
    assert penguins.description == "v1 fixture"  # the dataset's one description, now its first version's
    assert _sha(V1) == before


def test_every_view_works_on_an_upgraded_store(v1_copy):
    store = Store.open(v1_copy)
    for view in VIEWS:
        columns, _ = store.query(f"SELECT * FROM {view} LIMIT 1")
        assert columns, view


def test_an_upgraded_store_takes_writes_of_the_new_tables(v1_copy):
    store = Store.open(v1_copy)
    store.jobs.add_drift([DriftResult(job_id="j", feature="x", kind="numeric", psi=0.3, ks_stat=None,
                                      ks_pvalue=None, null_rate_ref=0.0, null_rate_cur=0.0,
                                      new_categories=None, status="alert")])
    version, new = store.datasets.add_version(
        name="penguins", hash="other", path="p.parquet", source="s", rows=1, columns=1, target=None,
        task=None, schema=[], profile={})
    assert (version.version, new) == (2, True)
    assert store.jobs.drift(["j"])["j"][0].status == "alert"


def test_upgrading_records_each_migration_once(v1_copy):
    Store.open(v1_copy)
    Store.open(v1_copy)  # a second open finds nothing to do
    with open_connection(v1_copy) as con:
        rows = con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, migrations.LATEST + 1))


def test_a_failing_migration_leaves_the_store_at_its_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    Store.open(path)

    def broken(con):
        con.execute("CREATE TABLE half_done (a INTEGER)")
        con.execute("SELECT * FROM no_such_table")

    monkeypatch.setitem(migrations.MIGRATIONS, migrations.LATEST + 1, broken)
    with open_connection(path) as con, pytest.raises(duckdb.Error):
        migrations.upgrade(con, target=migrations.LATEST + 1)
    with open_connection(path) as con:
        assert migrations.current_version(con) == migrations.LATEST
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "half_done" not in tables


def test_a_store_from_a_newer_mlops_tui_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "store.duckdb"
    Store.open(path)
    newer = migrations.LATEST + 1
    _set_version(path, newer)
    with pytest.raises(SchemaVersionError) as caught:
        Store.open(path)
    assert f"v{newer}" in str(caught.value) and f"v{migrations.LATEST}" in str(caught.value)
    with open_connection(path) as con:  # refused, not rolled back or otherwise touched
        assert migrations.current_version(con) == newer


@pytest.mark.parametrize("content", [b"", b"name,rows\npenguins,344\n", bytes(range(256)) * 64],
                         ids=["empty", "csv", "binary"])
def test_a_file_that_is_not_a_duckdb_store_is_refused(tmp_path, content):
    path = tmp_path / "store.duckdb"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a valid DuckDB database file"):
        Store.open(path)
    assert path.read_bytes() == content


def test_cli_refuses_a_newer_store_with_one_line_and_exit_1(v1_copy):
    Store.open(v1_copy)
    _set_version(v1_copy, migrations.LATEST + 5)
    result = run_cli_subprocess(v1_copy.parent, "model", "list", "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"v{migrations.LATEST + 5}" in lines[0]


def test_the_workbench_refuses_a_newer_store_with_one_line_before_opening(v1_copy, capsys, monkeypatch):
    """At a terminal, `mlops-tui` on a newer store exits 1 with the message (it used to open the app
    and repeat the error in notifications)."""
    import sys

    from mlops_tui.cli import main

    Store.open(v1_copy)
    _set_version(v1_copy, migrations.LATEST + 1)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    opened = []
    from mlops_tui.screens import app

    monkeypatch.setattr(app.Workbench, "run", opened.append)  # the app must not even start
    with pytest.raises(SystemExit) as caught:
        main(["--workspace", str(v1_copy.parent)])
    assert caught.value.code == 1 and opened == []
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"v{migrations.LATEST + 1}" in lines[0] and "newer" in lines[0]


def test_cli_refuses_a_corrupt_store_with_one_line_and_exit_1(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "store.duckdb").write_bytes(bytes(range(256)) * 64)
    result = run_cli_subprocess(root, "model", "list", "--json")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "store.duckdb" in lines[0] and "not a valid DuckDB" in lines[0]


def _job_record(store: Store, job_id: str = "j1") -> None:
    store.jobs.start(job_id=job_id, model_name="credit", model_version=1, inputs=[{"path": "in.csv"}],
                     deployment="nightly", output="artifacts/scores/out.parquet", pid=4242, host="box")
    store.jobs.finish(job_id, status="succeeded", output="artifacts/scores/out.parquet", rows_in=10, rows_out=10,
                      seconds=0.5, rows_per_s=20.0, inputs=[{"path": "in.csv", "sha256": "ab12"}],
                      unseen={"student": 3}, warnings=["column 'x' is entirely null (10 rows)"],
                      drift_status="warn", prediction_drift=0.17)


def test_v_jobs_shows_every_stored_job_field_on_an_upgraded_store(v1_copy):
    """Inputs with their hashes, output, unseen counts, warnings, prediction drift, ended_at, and the
    job's process: everything scoring_jobs keeps is answerable in `sql`."""
    store = Store.open(v1_copy)
    _job_record(store)
    with open_connection(v1_copy, read_only=True) as con:
        stored = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'scoring_jobs'").fetchall()]
    columns, rows = store.query(
        "SELECT json_extract_string(inputs_json, '$[0].sha256') AS sha, output, "
        "json_extract(unseen_json, '$.student')::INTEGER AS unseen, json_array_length(warnings_json) AS warnings, "
        "prediction_drift, ended_at IS NOT NULL AS ended, pid, host FROM v_jobs")
    assert rows == [("ab12", "artifacts/scores/out.parquet", 3, 1, 0.17, True, 4242, "box")]
    view_columns, _ = store.query("SELECT * FROM v_jobs")
    assert sorted(view_columns) == sorted(stored)
    # migration 2's columns keep their places, so positional queries written against it still read the same
    assert view_columns[:12] == ["job_id", "deployment", "model_name", "model_version", "rows_in", "rows_out",
                                 "seconds", "rows_per_s", "status", "error", "drift_status", "created_at"]


def test_a_v2_store_keeps_its_jobs_through_the_upgrade_and_they_get_no_process(tmp_path):
    path = tmp_path / "store.duckdb"
    with open_connection(path) as con:
        migrations.upgrade(con, target=2)
        con.execute("INSERT INTO scoring_jobs (job_id, model_name, model_version, inputs_json, status, created_at) "
                    "VALUES ('old', 'credit', 1, '[]', 'running', now())")
    store = Store.open(path)
    assert store.schema_version() == migrations.LATEST
    (job,) = store.jobs.running()
    assert (job.job_id, job.status, job.pid, job.host) == ("old", "running", None, None)


def test_the_sql_help_lists_the_columns_each_view_has(tmp_path):
    from mlops_tui.sql import VIEWS as DOCUMENTED

    store = Store.open(tmp_path / "store.duckdb")
    for view, documented in DOCUMENTED.items():
        columns, _ = store.query(f"SELECT * FROM {view} LIMIT 0")
        assert columns == documented.split(", "), view


def test_an_upgraded_store_records_pipeline_runs_and_their_stages(v1_copy):
    store = Store.open(v1_copy)
    store.pipelines.start(run_id="r1", pipeline="penguins", file="pipeline.toml", trigger="manual", pid=1, host="h")
    store.pipelines.put_stage(run_id="r1", stage="prepare", kind="data", position=0, status="running",
                              fingerprint="f", inputs={"options": {}}, pid=1, started=True)
    store.pipelines.put_stage(run_id="r1", stage="prepare", kind="data", position=0, status="ran",
                              fingerprint="f", inputs={"options": {}}, outputs={"dataset": "penguins:1"}, pid=1,
                              ended=True)
    store.pipelines.finish("r1", "ok")
    [stage] = store.pipelines.stages("r1")
    assert (stage.status, stage.outputs, stage.fingerprint) == ("ran", {"dataset": "penguins:1"}, "f")
    assert stage.started_at is not None and stage.seconds is not None and stage.seconds >= 0
    assert [r.status for r in store.pipelines.list("penguins")] == ["ok"]
    assert store.query("SELECT stage, status, json_extract_string(outputs_json, '$.dataset') "
                       "FROM v_pipeline_stages")[1] == [("prepare", "ran", "penguins:1")]


def test_a_v10_stores_runs_show_their_phase_in_v_runs_after_the_upgrade(tmp_path):
    """runs.phase (migration 10) is in v_runs from migration 11: `mlops-tui sql` answers which run is
    searching, on a store written before as on a new one."""
    root = tmp_path / "ws"
    root.mkdir()
    with open_connection(root / "store.duckdb") as con:
        migrations.upgrade(con, target=10)
        con.execute("INSERT INTO runs (run_id, name, dataset, dataset_version, target, task, metric, direction, "
                    "status, seed, config_json, created_at, phase) VALUES ('r1', 'r', 'credit', 1, 'default', "
                    "'binary', 'roc_auc', 'maximize', 'running', 0, '{}', now(), 'searching')")
    res = run_cli_subprocess(root, "sql", "SELECT run_id, status, phase FROM v_runs", "--json")
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["rows"] == [["r1", "running", "searching"]]
