"""Numbered schema migrations.

The migrations a store is missing run in one transaction together with their rows in
``schema_version``, so a store is always at exactly one version: the one it had, or the latest.
Opening an older store applies the missing migrations; a new store gets all of them in that one
transaction (one commit instead of one per migration: 9 commits made a fresh store, which every
workspace starts with, about twice as expensive). Opening a store written by a newer mlops-tui is
refused (we cannot know what its tables mean).

Never edit a released migration: add the next number. ``tests/data/store_v1.duckdb`` is a store
at version 1, kept to test the upgrade path.

JSON payloads are stored as VARCHAR documents and decoded in Python; DuckDB's ``json_extract``
still works on them in ``mlops-tui sql``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: dict[int, Migration] = {}


def migration(number: int) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS[number] = fn
        return fn

    return register


@migration(1)
def _core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The whole product's tables: datasets → runs → models → deployments → jobs, plus audit."""
    con.execute("""
        CREATE TABLE datasets (
            name VARCHAR PRIMARY KEY,
            description VARCHAR,
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE dataset_versions (
            name VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            hash VARCHAR NOT NULL,
            path VARCHAR NOT NULL,          -- immutable Parquet snapshot, relative to the workspace
            source VARCHAR NOT NULL,        -- where it was read from (may since have changed)
            n_rows BIGINT NOT NULL,
            n_columns INTEGER NOT NULL,
            target VARCHAR,
            task VARCHAR,                   -- suggested task for the target
            schema_json VARCHAR NOT NULL,   -- [{name, dtype, nullable, role}]
            profile_json VARCHAR NOT NULL,  -- {column: {nulls, distinct, min, max, mean, ...}}
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (name, version),
            UNIQUE (name, hash)
        )""")
    con.execute("""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            dataset_version INTEGER NOT NULL,
            target VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            direction VARCHAR NOT NULL,     -- minimize | maximize
            status VARCHAR NOT NULL,        -- queued | running | stopping | stopped | completed | failed
            n_trials_requested INTEGER,
            timeout_s DOUBLE,
            n_jobs INTEGER NOT NULL DEFAULT 1,
            seed INTEGER NOT NULL,
            best_value DOUBLE,
            best_params_json VARCHAR,
            config_json VARCHAR NOT NULL,   -- every option needed to reproduce the run
            prep_json VARCHAR,              -- preparation report: split, encodings, exclusions, warnings
            test_metrics_json VARCHAR,
            model_name VARCHAR,
            model_version INTEGER,
            pid INTEGER,                    -- supervisor process of a detached run
            host VARCHAR,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            started_at TIMESTAMP,
            ended_at TIMESTAMP
        )""")
    con.execute("""
        CREATE TABLE trials (
            run_id VARCHAR NOT NULL,
            number INTEGER NOT NULL,
            state VARCHAR NOT NULL,         -- RUNNING | COMPLETE | PRUNED | FAIL
            value DOUBLE,
            params_json VARCHAR NOT NULL,
            intermediate_json VARCHAR,
            duration_s DOUBLE,
            pid INTEGER,
            host VARCHAR,
            started_at TIMESTAMP,
            ended_at TIMESTAMP,
            PRIMARY KEY (run_id, number)
        )""")
    con.execute("""
        CREATE TABLE evaluations (
            eval_id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            model_name VARCHAR,
            model_version INTEGER,
            dataset VARCHAR NOT NULL,
            dataset_version INTEGER NOT NULL,
            kind VARCHAR NOT NULL,          -- holdout | evaluate | reproduce | challenger
            task VARCHAR NOT NULL,
            metrics_json VARCHAR NOT NULL,
            details_path VARCHAR,           -- curves, importances, slices (JSON artifact)
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE models (
            name VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            run_id VARCHAR,
            path VARCHAR NOT NULL,          -- LightGBM text model, relative to the workspace
            sha256 VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            dataset VARCHAR,
            dataset_version INTEGER,
            metrics_json VARCHAR,
            signature_json VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (name, version)
        )""")
    con.execute("""
        CREATE TABLE model_aliases (
            name VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (name, alias)
        )""")
    con.execute("""
        CREATE TABLE alias_history (
            name VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            previous_version INTEGER,
            changed_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE deployments (
            name VARCHAR PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_version INTEGER NOT NULL,
            signature_json VARCHAR NOT NULL,
            output_dir VARCHAR,
            forced BOOLEAN NOT NULL DEFAULT false,
            gate_json VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""")
    con.execute("""
        CREATE TABLE scoring_jobs (
            job_id VARCHAR PRIMARY KEY,
            deployment VARCHAR,
            model_name VARCHAR NOT NULL,
            model_version INTEGER NOT NULL,
            inputs_json VARCHAR NOT NULL,   -- [{path, sha256}]
            output VARCHAR,
            rows_in BIGINT,
            rows_out BIGINT,
            unseen_json VARCHAR,            -- {column: count} of categories never seen in training
            warnings_json VARCHAR,
            seconds DOUBLE,
            rows_per_s DOUBLE,
            status VARCHAR NOT NULL,        -- running | succeeded | failed
            error VARCHAR,
            drift_status VARCHAR,           -- ok | warn | alert
            prediction_drift DOUBLE,
            created_at TIMESTAMP NOT NULL,
            ended_at TIMESTAMP
        )""")
    con.execute("""
        CREATE TABLE feedback (
            feedback_id VARCHAR PRIMARY KEY,
            deployment VARCHAR NOT NULL,
            job_id VARCHAR,
            rows_matched BIGINT NOT NULL,
            metrics_json VARCHAR NOT NULL,
            status VARCHAR NOT NULL,        -- ok | alert
            created_at TIMESTAMP NOT NULL
        )""")
    con.execute("CREATE SEQUENCE audit_seq START 1")
    con.execute("""
        CREATE TABLE audit_events (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
            happened_at TIMESTAMP NOT NULL,
            user_name VARCHAR NOT NULL,
            host VARCHAR NOT NULL,
            command VARCHAR NOT NULL,
            object VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,       -- ok | failed | refused
            details_json VARCHAR
        )""")


@migration(2)
def _drift_and_views(con: duckdb.DuckDBPyConnection) -> None:
    """Per-feature drift of each scoring job, and the documented read-only views of `mlops-tui sql`."""
    con.execute("""
        CREATE TABLE drift_results (
            job_id VARCHAR NOT NULL,
            feature VARCHAR NOT NULL,       -- a feature name, or '__prediction__'
            kind VARCHAR NOT NULL,          -- numeric | categorical | prediction
            psi DOUBLE,
            ks_stat DOUBLE,
            ks_pvalue DOUBLE,
            null_rate_ref DOUBLE,
            null_rate_cur DOUBLE,
            new_categories INTEGER,
            status VARCHAR NOT NULL,        -- ok | warn | alert
            details_json VARCHAR,
            PRIMARY KEY (job_id, feature)
        )""")
    views = {
        "v_datasets": """SELECT name, version, hash, n_rows AS rows, n_columns AS columns, target,
                              task, source, created_at FROM dataset_versions""",
        "v_runs": """SELECT run_id, name, dataset, dataset_version, target, task, metric, direction,
                          status, best_value, n_trials_requested, model_name, model_version,
                          created_at, ended_at FROM runs""",
        "v_trials": """SELECT run_id, number, state, value, params_json, duration_s, pid, host,
                            ended_at FROM trials""",
        "v_models": """SELECT m.name, m.version, m.run_id, m.task, m.dataset, m.dataset_version,
                            m.sha256, m.metrics_json, m.created_at,
                            (SELECT string_agg(a.alias, ',') FROM model_aliases a
                              WHERE a.name = m.name AND a.version = m.version) AS aliases
                       FROM models m""",
        "v_deployments": """SELECT name, model_name, model_version, forced, created_at, updated_at
                            FROM deployments""",
        "v_jobs": """SELECT job_id, deployment, model_name, model_version, rows_in, rows_out,
                          seconds, rows_per_s, status, error, drift_status, created_at
                     FROM scoring_jobs""",
        "v_drift": """SELECT job_id, feature, kind, psi, ks_stat, ks_pvalue, null_rate_ref,
                           null_rate_cur, new_categories, status FROM drift_results""",
        "v_audit": """SELECT event_id, happened_at, user_name, host, command, object, outcome, details_json
                      FROM audit_events""",
    }
    for name, query in views.items():
        con.execute(f"CREATE VIEW {name} AS {query}")  # fixed names above, no user input


@migration(3)
def _job_process_and_full_jobs_view(con: duckdb.DuckDBPyConnection) -> None:
    """Scoring jobs record their process (pid, host), so a job killed with kill -9 can be found
    dead and failed instead of staying 'running' for ever; v_jobs shows every stored job field."""
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN pid INTEGER")   # the scoring process
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN host VARCHAR")
    # Migration 2's columns first, in their order, so queries written for it read the same.
    con.execute("""
        CREATE OR REPLACE VIEW v_jobs AS
        SELECT job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s,
               status, error, drift_status, created_at, ended_at, inputs_json, output, unseen_json,
               warnings_json, prediction_drift, pid, host
        FROM scoring_jobs""")


@migration(4)
def _scoring_engines(con: duckdb.DuckDBPyConnection) -> None:
    """Which engine scores: a deployment names its engine (local LightGBM, or a compiled artifact
    with the record of its correctness check), and every job records the engine that scored it."""
    con.execute("ALTER TABLE deployments ADD COLUMN engine VARCHAR DEFAULT 'local'")  # local | compiled
    con.execute("ALTER TABLE deployments ADD COLUMN engine_json VARCHAR")  # compiled: artifact, check, versions
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN engine VARCHAR")      # local | compiled | dask ...
    con.execute("""
        CREATE OR REPLACE VIEW v_deployments AS
        SELECT name, model_name, model_version, forced, created_at, updated_at, engine, engine_json
        FROM deployments""")
    con.execute("""
        CREATE OR REPLACE VIEW v_jobs AS
        SELECT job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s,
               status, error, drift_status, created_at, ended_at, inputs_json, output, unseen_json,
               warnings_json, prediction_drift, pid, host, engine
        FROM scoring_jobs""")


@migration(5)
def _online_serving(con: duckdb.DuckDBPyConnection) -> None:
    """HTTP services (`mlops-tui serve`): one row per service process with its pid, host, url and a
    heartbeat; scoring jobs gain a kind ('batch', or 'online' for a window of a service's traffic);
    a deployment may follow a model alias (`deploy NAME@ALIAS`), so promoting the alias repoints it."""
    con.execute("""
        CREATE TABLE services (
            service_id VARCHAR PRIMARY KEY,
            deployment VARCHAR NOT NULL,
            status VARCHAR NOT NULL,        -- starting | running | stopping | stopped | failed | died
            host VARCHAR NOT NULL,
            pid INTEGER NOT NULL,           -- the process `serve stop` signals (uvicorn's main process)
            url VARCHAR NOT NULL,
            workers INTEGER NOT NULL,
            model_name VARCHAR,             -- the version served now (hot swaps move it)
            model_version INTEGER,
            log_path VARCHAR,               -- detached services write their log here
            stats_json VARCHAR,             -- {worker pid: {requests, rows, errors, rate, ...}}
            error VARCHAR,
            started_at TIMESTAMP NOT NULL,
            heartbeat_at TIMESTAMP,
            ended_at TIMESTAMP
        )""")
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN kind VARCHAR DEFAULT 'batch'")
    con.execute("UPDATE scoring_jobs SET kind = 'batch'")
    con.execute("ALTER TABLE deployments ADD COLUMN follows VARCHAR")  # an alias of model_name, or NULL
    con.execute("""
        CREATE OR REPLACE VIEW v_deployments AS
        SELECT name, model_name, model_version, forced, created_at, updated_at, engine, engine_json, follows
        FROM deployments""")
    con.execute("""
        CREATE OR REPLACE VIEW v_jobs AS
        SELECT job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s,
               status, error, drift_status, created_at, ended_at, inputs_json, output, unseen_json,
               warnings_json, prediction_drift, pid, host, engine, kind
        FROM scoring_jobs""")
    con.execute("""
        CREATE VIEW v_services AS
        SELECT service_id, deployment, status, host, pid, url, workers, model_name, model_version,
               started_at, heartbeat_at, ended_at, stats_json, error FROM services""")


@migration(6)
def _job_cluster(con: duckdb.DuckDBPyConnection) -> None:
    """A job scored on a Dask cluster records the scheduler and the workers that scored its partitions."""
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN cluster_json VARCHAR")  # {scheduler, workers: [...]}
    con.execute("""
        CREATE OR REPLACE VIEW v_jobs AS
        SELECT job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s,
               status, error, drift_status, created_at, ended_at, inputs_json, output, unseen_json,
               warnings_json, prediction_drift, pid, host, engine, kind, cluster_json
        FROM scoring_jobs""")


@migration(7)
def _run_workers(con: duckdb.DuckDBPyConnection) -> None:
    """Workers of runs whose study is in PostgreSQL (other hosts may join): the coordinator records
    each one it sees, so `run show` and the TUI can tell which are alive without the database."""
    con.execute("""
        CREATE TABLE run_workers (
            run_id VARCHAR NOT NULL,
            host VARCHAR NOT NULL,
            pid INTEGER NOT NULL,
            state VARCHAR NOT NULL,         -- running | exited
            trials INTEGER NOT NULL DEFAULT 0,
            alive BOOLEAN NOT NULL,
            reason VARCHAR,                 -- why it left
            started_at TIMESTAMP,           -- by the worker's clock
            seen_at TIMESTAMP,              -- by the coordinator's clock
            PRIMARY KEY (run_id, host, pid)
        )""")


@migration(8)
def _kept_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Input columns carried into scoring outputs (``score --keep``): a deployment remembers them
    for its later jobs, and a job records every input column its output carries."""
    con.execute("ALTER TABLE deployments ADD COLUMN keep_json VARCHAR")   # JSON list; NULL: none
    con.execute("ALTER TABLE scoring_jobs ADD COLUMN kept_json VARCHAR")  # JSON list
    con.execute("""
        CREATE OR REPLACE VIEW v_deployments AS
        SELECT name, model_name, model_version, forced, created_at, updated_at, engine, engine_json, follows,
               keep_json
        FROM deployments""")
    con.execute("""
        CREATE OR REPLACE VIEW v_jobs AS
        SELECT job_id, deployment, model_name, model_version, rows_in, rows_out, seconds, rows_per_s,
               status, error, drift_status, created_at, ended_at, inputs_json, output, unseen_json,
               warnings_json, prediction_drift, pid, host, engine, kind, cluster_json, kept_json
        FROM scoring_jobs""")


@migration(9)
def _pipelines(con: duckdb.DuckDBPyConnection) -> None:
    """Declared pipelines (`mlops-tui pipeline run`): one row per pipeline run and one per stage of it.
    A stage's row is written when it starts (running, with its pid) and again when it ends, so a run
    killed with kill -9 keeps its finished stages and the next run skips them."""
    con.execute("""
        CREATE TABLE pipeline_runs (
            run_id VARCHAR PRIMARY KEY,
            pipeline VARCHAR NOT NULL,
            file VARCHAR NOT NULL,          -- the pipeline.toml it was read from
            status VARCHAR NOT NULL,        -- running | ok | refused | failed | skipped | interrupted
            trigger VARCHAR NOT NULL,       -- manual | when-drift
            pid INTEGER NOT NULL,
            host VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            ended_at TIMESTAMP
        )""")
    con.execute("""
        CREATE TABLE pipeline_stages (
            run_id VARCHAR NOT NULL,
            stage VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,          -- data | tune | evaluate | gate | promote | deploy | score
            position INTEGER NOT NULL,      -- order of execution
            status VARCHAR NOT NULL,        -- running | ran | skipped | refused | failed | not run
            reason VARCHAR,
            fingerprint VARCHAR,            -- sha256 of inputs_json: equal means nothing changed
            inputs_json VARCHAR,            -- what the fingerprint is made of (says why a stage is stale)
            outputs_json VARCHAR,           -- objects made: dataset, run_id, model, deployment, job_id ...
            pid INTEGER,
            started_at TIMESTAMP,
            ended_at TIMESTAMP,
            PRIMARY KEY (run_id, stage)
        )""")
    con.execute("""
        CREATE VIEW v_pipeline_runs AS
        SELECT run_id, pipeline, file, status, trigger, pid, host, started_at, ended_at FROM pipeline_runs""")
    con.execute("""
        CREATE VIEW v_pipeline_stages AS
        SELECT run_id, stage, kind, position, status, reason, fingerprint, outputs_json, pid, started_at,
               ended_at FROM pipeline_stages""")


@migration(10)
def _run_phase(con: duckdb.DuckDBPyConnection) -> None:
    """What a running run is doing now ('searching', 'training the final model'), written by its
    supervisor; NULL when it is doing neither (queued, ended, or recorded before this migration)."""
    con.execute("ALTER TABLE runs ADD COLUMN phase VARCHAR")


@migration(11)
def _runs_view_phase(con: duckdb.DuckDBPyConnection) -> None:
    """v_runs shows a run's phase (migration 10), after migration 2's columns, in their order."""
    con.execute("""
        CREATE OR REPLACE VIEW v_runs AS
        SELECT run_id, name, dataset, dataset_version, target, task, metric, direction, status, best_value,
               n_trials_requested, model_name, model_version, created_at, ended_at, phase
        FROM runs""")


@migration(12)
def _version_descriptions(con: duckdb.DuckDBPyConnection) -> None:
    """A description belongs to the version it was given with (`dataset add --description`, `init
    --sample`'s 'bundled sample (default.csv)'): kept per dataset, it showed on default:2 registered
    later from another file. A store from before keeps each dataset's one description on its first
    version, where `init --sample` and a first `dataset add` put it."""
    con.execute("ALTER TABLE dataset_versions ADD COLUMN description VARCHAR")
    con.execute("""
        UPDATE dataset_versions SET description = d.description FROM datasets d
        WHERE dataset_versions.name = d.name
          AND dataset_versions.version = (SELECT min(x.version) FROM dataset_versions x WHERE x.name = d.name)""")


LATEST = max(MIGRATIONS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    # duckdb_tables() of this database only: information_schema.tables lists every attached
    # database's tables and views, several times slower on each open of the store.
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version' AND database_name = current_database()"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def upgrade(con: duckdb.DuckDBPyConnection, *, target: int = LATEST) -> list[int]:
    """Apply every migration above the store's version up to ``target``, all in one transaction
    with their version rows; returns those applied. On any error none of them is applied."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
        applied = list(range(current_version(con) + 1, target + 1))
        for number in applied:
            MIGRATIONS[number](con)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, datetime.now(UTC).replace(tzinfo=None)])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return applied
