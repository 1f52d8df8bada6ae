"""`lineage`, `audit`, `run reproduce` and `sql` over a full path: dataset → run → model → deployment → job."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.registry import models as registry
from mlops_tui.serving import scoring
from mlops_tui.workspace import Workspace
from tests.monitor_helpers import add_dataset, bikeshare, invoke, tune_small

# One worker builds the module's shared workspace once (pytest -n 2 --dist loadgroup).
pytestmark = pytest.mark.xdist_group("lineage_sql")


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lineage")
    ws = Workspace.open(tmp / "ws", create=True)
    df = bikeshare()
    dv = add_dataset(ws, df.filter(pl.col("mnth").is_in(["Jan", "Feb", "March"])), tmp)
    run = tune_small(ws, dv.ref, tmp)
    model = f"{run.model_name}:{run.model_version}"
    registry.promote(ws, model, "production")
    registry.deploy(ws, model, "bikes-prod")
    scored = tmp / "april.csv"
    df.filter(pl.col("mnth") == "April").write_csv(scored)
    job = scoring.score(ws, "bikes-prod", [str(scored)])
    return {"ws": ws, "tmp": tmp, "dv": dv, "run": run, "model": model, "job": job}


def _ids(doc):
    return {n["id"] for n in doc["nodes"]}


def test_lineage_of_a_deployment_walks_back_to_the_data_and_on_to_its_jobs(path, capsys):
    res = invoke(capsys, path["ws"].root, "lineage", "bikes-prod", "--json")
    assert res.code == 0, res.stderr
    doc = res.json
    run_id, job_id = path["run"].run_id, path["job"].job_id
    chain = [f"dataset:{path['dv'].ref}", f"run:{run_id}", f"model:{path['model']}", "deployment:bikes-prod",
             f"job:{job_id}"]
    assert doc["root"] == "deployment:bikes-prod"
    assert set(chain) <= _ids(doc)
    edges = {(e["from"], e["to"]) for e in doc["edges"]}
    assert set(zip(chain, chain[1:], strict=False)) <= edges


def test_lineage_from_either_end_reaches_the_other(path, capsys):
    root = path["ws"].root
    job_id = path["job"].job_id
    back = invoke(capsys, root, "lineage", f"job:{job_id[:6]}", "--json").json
    assert f"dataset:{path['dv'].ref}" in _ids(back) and f"run:{path['run'].run_id}" in _ids(back)
    forward = invoke(capsys, root, "lineage", "dataset:bike", "--json").json
    assert f"job:{job_id}" in _ids(forward)
    people = invoke(capsys, root, "lineage", path["model"])
    assert people.code == 0 and "deployment bikes-prod" in people.stdout and job_id in people.stdout


def test_lineage_of_nothing_is_a_user_error(path, capsys):
    res = invoke(capsys, path["ws"].root, "lineage", "ghost")
    assert res.code == 1 and "ghost" in res.stderr


def test_audit_records_every_step_of_the_path(path, capsys):
    res = invoke(capsys, path["ws"].root, "audit", "--json")
    assert res.code == 0
    events = res.json
    assert {"dataset add", "tune", "model promote", "deploy", "score"} <= {e["command"] for e in events}
    assert all(e["user"] and e["host"] and e["at"] and e["outcome"] for e in events)
    only = invoke(capsys, path["ws"].root, "audit", "--object", "deployment:bikes-prod", "--json").json
    assert only and {e["object"] for e in only} == {"deployment:bikes-prod"}
    assert [e["event_id"] for e in events] == sorted((e["event_id"] for e in events), reverse=True)


def test_reproduce_gives_identical_holdout_predictions(path, capsys):
    run_id = path["run"].run_id
    res = invoke(capsys, path["ws"].root, "run", "reproduce", run_id[:6], "--json")
    assert res.code == 0, res.stderr
    doc = res.json
    assert doc["identical"] is True and doc["max_abs_diff"] == 0.0
    assert doc["rows"] > 100 and doc["holdout_rows_identical"] is True
    people = invoke(capsys, path["ws"].root, "run", "reproduce", run_id)
    assert "identical" in people.stdout
    assert any(e.command == "run reproduce" for e in path["ws"].store.audit.events())


def test_sql_answers_questions_over_the_views(path, capsys):
    res = invoke(capsys, path["ws"].root, "sql",
                 "SELECT j.job_id, j.drift_status, count(d.feature) AS features FROM v_jobs j "
                 "JOIN v_drift d USING (job_id) GROUP BY ALL", "--json")
    assert res.code == 0, res.stderr
    doc = res.json
    assert doc["columns"] == ["job_id", "drift_status", "features"]
    assert doc["rows"][0][0] == path["job"].job_id and doc["rows"][0][2] > 5
    people = invoke(capsys, path["ws"].root, "sql", "SELECT name, version FROM v_models")
    assert "bikes" in people.stdout and "1 row" in people.stdout


@pytest.mark.parametrize("statement", [
    "INSERT INTO audit_events (happened_at, user_name, host, command, object, outcome) "
    "VALUES (now(), 'x', 'x', 'x', 'x', 'x')",
    "DELETE FROM scoring_jobs",
    "DROP VIEW v_jobs",
    "UPDATE deployments SET model_version = 99",
    "COPY (SELECT 1) TO '{tmp}/leak.csv'",
    "ATTACH '{tmp}/other.duckdb'",
    "SELECT 1; DELETE FROM runs",
])
def test_sql_refuses_writes_and_leaves_the_store_alone(path, capsys, statement):
    ws, tmp = path["ws"], path["tmp"]
    before = invoke(capsys, ws.root, "sql", "SELECT count(*) FROM v_audit", "--json").json["rows"]
    res = invoke(capsys, ws.root, "sql", statement.format(tmp=tmp), "--json")
    assert res.code == 1
    assert res.stdout == ""
    assert "read-only" in res.stderr or "one statement at a time" in res.stderr
    assert res.stderr.count("\n") == 1
    assert not (tmp / "leak.csv").exists() and not (tmp / "other.duckdb").exists()
    assert invoke(capsys, ws.root, "sql", "SELECT count(*) FROM v_audit", "--json").json["rows"] == before
    assert ws.store.models.deployment("bikes-prod").model_version == 1


@pytest.mark.parametrize(("statement", "named"), [
    ("INSTALL httpfs", "INSTALL"),
    ("checkpoint", "CHECKPOINT"),
    ("SET threads = 1", "SET"),
    ("EXPORT DATABASE '{tmp}/dump'", "EXPORT"),
])
def test_sql_names_the_refused_statement_as_typed(path, capsys, statement, named):
    tmp = path["tmp"]
    res = invoke(capsys, path["ws"].root, "sql", statement.format(tmp=tmp))
    assert res.code == 1 and res.stdout == "" and res.stderr.count("\n") == 1
    assert f"read-only: {named}" in res.stderr
    assert not (tmp / "dump").exists()


def test_sql_reports_a_bad_query_in_one_line(path, capsys):
    res = invoke(capsys, path["ws"].root, "sql", "SELECT nope FROM v_jobs")
    assert res.code == 1 and "nope" in res.stderr and res.stderr.count("\n") == 1


def test_sql_on_a_table_that_does_not_exist_names_the_views(path, capsys):
    """TUI tour (hui6): 'select * from nope_table' answered 'Did you mean "pg_tables"?', DuckDB's
    catalog, not the views sql answers from. A near miss of a view keeps DuckDB's guess."""
    res = invoke(capsys, path["ws"].root, "sql", "SELECT * FROM nope_table")
    assert res.code == 1 and res.stderr.count("\n") == 1
    assert "no table or view nope_table; query the views: v_datasets, v_runs" in res.stderr
    assert "pg_tables" not in res.stderr
    res = invoke(capsys, path["ws"].root, "sql", "SELECT * FROM v_run")
    assert res.code == 1 and 'Did you mean "v_runs"' in res.stderr


@pytest.mark.parametrize("statement", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('{snapshots}/*.parquet')",
    "SELECT * FROM 'https://example.com/scores.parquet'",
    "SELECT * FROM read_json('http://localhost:1/x.json')",
], ids=["local csv", "the workspace's own snapshots", "https url", "http url"])
def test_sql_reads_no_file_or_url_and_the_views_still_answer(path, capsys, statement):
    ws = path["ws"]
    res = invoke(capsys, ws.root, "sql", statement.format(snapshots=ws.root / "artifacts" / "datasets"), "--json")
    assert res.code == 1 and res.stdout == "" and res.stderr.count("\n") == 1
    assert "sql reads only the store's views: reading '" in res.stderr and "is refused" in res.stderr
    assert "root:" not in res.stderr and "install" not in res.stderr.lower()
    views = invoke(capsys, ws.root, "sql", "SELECT count(*) AS jobs FROM v_jobs j JOIN v_models m "
                                          "ON j.model_name = m.name AND j.model_version = m.version", "--json")
    assert views.code == 0, views.stderr
    assert views.json["rows"] == [[1]]


def test_sql_shows_a_jobs_inputs_hashes_and_output(path, capsys):
    job = path["job"]
    res = invoke(capsys, path["ws"].root, "sql",
                 "SELECT json_extract_string(inputs_json, '$[0].sha256') AS sha, output, warnings_json, "
                 "prediction_drift, ended_at IS NOT NULL AS ended FROM v_jobs", "--json")
    assert res.code == 0, res.stderr
    (row,) = res.json["rows"]
    assert row[0] == job.inputs[0]["sha256"] and len(row[0]) == 64
    assert row[1] == job.output and row[3] == job.prediction_drift and row[4] is True
