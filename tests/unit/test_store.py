"""The store's contract (store/__init__.py), as one test class run twice: against a fresh file,
and against a file another process is writing to the whole time (STYLE.md pattern 3).

The busy variant shares one store file per test module with a background writer process (the
writer of bench/store_concurrency.py, pausing 50 ms between writes); every test therefore uses
names of its own (the ``uid`` fixture) and only looks at what it wrote.
"""

from __future__ import annotations

import uuid

import pytest
from mlops_tui.store import DriftResult, NotFoundError, Store, StoreError, utcnow

from tests.unit.test_store_concurrency import bench

SCHEMA = [{"name": "x", "dtype": "Float64", "nullable": True, "role": "feature"},
          {"name": "y", "dtype": "Int64", "nullable": False, "role": "target"}]
SIGNATURE = {"features": [{"name": "x", "dtype": "Float64"}], "target": "y"}


@pytest.fixture(scope="module")
def busy_store_path(tmp_path_factory):
    """One store file with a writer process hammering it for the whole module."""
    path = tmp_path_factory.mktemp("busy") / "store.duckdb"
    Store.open(path)
    stop = path.parent / "stop"
    proc = bench.start_background_writer(path, stop)
    yield path
    stop.touch()
    result = bench.collect(proc, timeout=120)
    # The other side of the contract: the background writer never saw an error either.
    assert result["errors"] == []
    assert result["ops"] > 0


@pytest.fixture(params=["fresh", "busy"])
def store(request, tmp_path) -> Store:
    if request.param == "fresh":
        return Store.open(tmp_path / "store.duckdb")
    return Store.open(request.getfixturevalue("busy_store_path"))


@pytest.fixture
def uid() -> str:
    return "t" + uuid.uuid4().hex[:8]


def add_dataset(store: Store, name: str, content: str, **extra):
    return store.datasets.add_version(
        name=name, hash=f"hash-{content}", path=f"artifacts/datasets/{content}.parquet",
        source=f"/data/{content}.csv", rows=10, columns=2, target="y", task="regression",
        schema=SCHEMA, profile={"x": {"nulls": 1, "mean": 0.5}}, **extra,
    )


def create_run(store: Store, run_id: str, dataset: str = "ds", **extra):
    return store.runs.create(
        run_id=run_id, name=f"name-{run_id}", dataset=dataset, dataset_version=1, target="y",
        task="regression", metric="rmse", direction="minimize", seed=7,
        config={"trials": 3, "features": ["x"]}, **extra,
    )


def register_model(store: Store, name: str, **extra):
    return store.models.register(name=name, path=f"artifacts/models/{name}.txt", sha256="ab" * 32,
                                 task="regression", signature=SIGNATURE, **extra)


class TestStoreContract:
    # -- datasets -------------------------------------------------------------------------------
    def test_first_version_of_a_dataset_is_1_and_new(self, store, uid):
        version, new = add_dataset(store, uid, "a", description="first")
        assert new is True
        assert (version.name, version.version, version.ref) == (uid, 1, f"{uid}:1")
        assert version.schema == SCHEMA
        assert version.profile == {"x": {"nulls": 1, "mean": 0.5}}
        assert version.description == "first"

    def test_same_content_returns_the_existing_version(self, store, uid):
        first, _ = add_dataset(store, uid, "a")
        again, new = add_dataset(store, uid, "a")
        assert new is False
        assert again == first
        assert [v.version for v in store.datasets.versions(uid)] == [1]

    def test_changed_content_makes_the_next_version_with_its_own_description(self, store, uid):
        """A description is its version's: `init --sample`'s 'bundled sample (default.csv)' showed on
        default:2, registered later from another file."""
        add_dataset(store, uid, "a", description="first")
        second, new = add_dataset(store, uid, "b")
        assert (second.version, new, second.description) == (2, True, None)
        third, _ = add_dataset(store, uid, "c", description="third")
        assert [v.description for v in store.datasets.versions(uid)] == ["first", None, "third"]
        assert store.datasets.get(uid).description == "third"

    def test_get_returns_latest_or_the_version_asked(self, store, uid):
        add_dataset(store, uid, "a")
        add_dataset(store, uid, "b")
        assert store.datasets.get(uid).version == 2
        assert store.datasets.get(uid, 1).hash == "hash-a"

    def test_latest_lists_each_dataset_once_at_its_newest_version(self, store, uid):
        add_dataset(store, f"{uid}a", "a")
        add_dataset(store, f"{uid}a", "b")
        add_dataset(store, f"{uid}b", "c")
        mine = [(d.name, d.version) for d in store.datasets.latest() if d.name.startswith(uid)]
        assert mine == [(f"{uid}a", 2), (f"{uid}b", 1)]

    def test_unknown_dataset_and_version_name_what_is_missing(self, store, uid):
        with pytest.raises(NotFoundError, match=f"unknown dataset '{uid}'"):
            store.datasets.get(uid)
        add_dataset(store, uid, "a")
        with pytest.raises(NotFoundError, match=f"unknown dataset version {uid}:9"):
            store.datasets.get(uid, 9)
        assert store.datasets.versions(f"{uid}-none") == []

    # -- runs -----------------------------------------------------------------------------------
    def test_created_run_reads_back_with_decoded_config(self, store, uid):
        run = create_run(store, f"{uid}-1", n_trials_requested=3, prep={"split": "random"})
        assert run.status == "queued"
        assert run.config == {"trials": 3, "features": ["x"]}
        assert run.prep == {"split": "random"}
        assert (run.n_trials, run.n_trials_requested, run.best_params) == (0, 3, None)

    def test_update_sets_columns_and_json_fields(self, store, uid):
        create_run(store, f"{uid}-1")
        store.runs.update(f"{uid}-1", status="completed", best_value=0.25,
                          best_params={"num_leaves": 31}, test_metrics={"rmse": 0.3})
        run = store.runs.get(f"{uid}-1")
        assert (run.status, run.best_value) == ("completed", 0.25)
        assert run.best_params == {"num_leaves": 31}
        assert run.test_metrics == {"rmse": 0.3}

    def test_create_with_owner_and_audit_event_writes_both_in_one_transaction(self, store, uid):
        run = create_run(store, f"{uid}-1", status="running", pid=4242, host="h1", started_at=utcnow(),
                         audit=("tune", f"run:{uid}-1", "started", {"trials": 3}))
        assert (run.status, run.pid, run.host) == ("running", 4242, "h1") and run.started_at is not None
        (event,) = store.audit.events(obj=f"run:{uid}-1")
        assert (event.command, event.outcome, event.details) == ("tune", "started", {"trials": 3})
        # A refused insert (duplicate id) leaves no audit event behind either.
        with pytest.raises(Exception, match="(?i)constraint|duplicate"):
            create_run(store, f"{uid}-1", audit=("tune", f"run:{uid}-1", "started", {"again": True}))
        assert len(store.audit.events(obj=f"run:{uid}-1")) == 1

    def test_update_and_get_returns_the_updated_run_and_writes_its_audit_event(self, store, uid):
        create_run(store, f"{uid}-1")
        store.runs.upsert_trial(run_id=f"{uid}-1", number=0, state="COMPLETE", value=1.0, params={})
        run = store.runs.update_and_get(f"{uid}-1", status="completed", best_params={"num_leaves": 7},
                                        audit=("tune", f"run:{uid}-1", "ok", {"model": "m:1"}))
        assert (run.status, run.best_params, run.n_trials) == ("completed", {"num_leaves": 7}, 1)
        assert run == store.runs.get(f"{uid}-1")
        assert [(e.outcome, e.details) for e in store.audit.events(obj=f"run:{uid}-1")] == [("ok", {"model": "m:1"})]
        store.runs.update(f"{uid}-1", status="failed", audit=("tune", f"run:{uid}-1", "failed", None))
        assert store.runs.get(f"{uid}-1").status == "failed"
        assert [e.outcome for e in store.audit.events(obj=f"run:{uid}-1")] == ["failed", "ok"]

    def test_update_and_get_of_an_unknown_run_or_field_writes_nothing(self, store, uid):
        with pytest.raises(NotFoundError, match=f"unknown run '{uid}-x'"):
            store.runs.update_and_get(f"{uid}-x", status="completed", audit=("tune", f"run:{uid}-x", "ok", None))
        assert store.audit.events(obj=f"run:{uid}-x") == []
        create_run(store, f"{uid}-1")
        with pytest.raises(StoreError, match="no updatable field 'colour'"):
            store.runs.update_and_get(f"{uid}-1", status="failed", colour="red")
        assert store.runs.get(f"{uid}-1").status == "queued"

    def test_update_of_an_unknown_field_is_refused_and_writes_nothing(self, store, uid):
        create_run(store, f"{uid}-1")
        with pytest.raises(StoreError, match="no updatable field 'colour'"):
            store.runs.update(f"{uid}-1", status="failed", colour="red")
        assert store.runs.get(f"{uid}-1").status == "queued"

    def test_duplicate_run_id_is_refused_and_the_first_run_is_unchanged(self, store, uid):
        create_run(store, f"{uid}-1", dataset="first")
        with pytest.raises(Exception, match="(?i)constraint|duplicate"):
            create_run(store, f"{uid}-1", dataset="second")
        assert store.runs.get(f"{uid}-1").dataset == "first"

    def test_resolve_by_full_id_and_unique_prefix(self, store, uid):
        create_run(store, f"{uid}-abc")
        create_run(store, f"{uid}-abd")
        assert store.runs.resolve(f"{uid}-abc").run_id == f"{uid}-abc"
        assert store.runs.resolve(f"{uid}-abd"[:-1] + "d").run_id == f"{uid}-abd"

    def test_ambiguous_or_unknown_prefix_names_the_problem(self, store, uid):
        create_run(store, f"{uid}-abc")
        create_run(store, f"{uid}-abd")
        with pytest.raises(NotFoundError, match=f"run prefix '{uid}-ab' is ambiguous"):
            store.runs.resolve(f"{uid}-ab")
        with pytest.raises(NotFoundError, match=f"unknown run '{uid}-z'"):
            store.runs.resolve(f"{uid}-z")
        with pytest.raises(NotFoundError, match=f"unknown run '{uid}-a'"):
            store.runs.get(f"{uid}-a")

    def test_list_filters_by_status_and_dataset_newest_first(self, store, uid):
        for i, ds in enumerate(["a", "b", "a"]):
            create_run(store, f"{uid}-{i}", dataset=f"{uid}{ds}")
        store.runs.update(f"{uid}-2", status="running")
        assert [r.run_id for r in store.runs.list(dataset=f"{uid}a")] == [f"{uid}-2", f"{uid}-0"]
        assert [r.run_id for r in store.runs.list(dataset=f"{uid}a", status="queued")] == [f"{uid}-0"]
        assert [r.run_id for r in store.runs.list(dataset=f"{uid}a", limit=1)] == [f"{uid}-2"]

    def test_many_returns_runs_in_the_order_asked_and_skips_unknown(self, store, uid):
        for i in range(3):
            create_run(store, f"{uid}-{i}")
        got = store.runs.many([f"{uid}-2", f"{uid}-x", f"{uid}-0"])
        assert [r.run_id for r in got] == [f"{uid}-2", f"{uid}-0"]

    # -- trials and evaluations -----------------------------------------------------------------
    def test_trial_upsert_replaces_the_same_number(self, store, uid):
        create_run(store, f"{uid}-1")
        store.runs.upsert_trial(run_id=f"{uid}-1", number=0, state="RUNNING", value=None, params={"lr": 0.1})
        store.runs.upsert_trial(run_id=f"{uid}-1", number=0, state="COMPLETE", value=1.5,
                                params={"lr": 0.1}, intermediate={"0": 2.0, "1": 1.5}, pid=42)
        store.runs.upsert_trial(run_id=f"{uid}-1", number=1, state="PRUNED", value=None, params={"lr": 0.3})
        trials = store.runs.trials(f"{uid}-1")
        assert [(t.number, t.state, t.value) for t in trials] == [(0, "COMPLETE", 1.5), (1, "PRUNED", None)]
        assert trials[0].intermediate == {"0": 2.0, "1": 1.5}
        assert store.runs.get(f"{uid}-1").n_trials == 2

    def test_record_trials_upserts_many_rows_and_the_best_value_at_once(self, store, uid):
        create_run(store, f"{uid}-1")
        store.runs.record_trials(f"{uid}-1", [{"number": 0, "state": "RUNNING", "params": {"lr": 0.1}, "pid": 7}])
        rows = [{"number": n, "state": "COMPLETE", "value": n / 10, "params": {"lr": n}, "intermediate": {"5": 1.0},
                 "duration_s": 0.5, "pid": 7, "host": "h"} for n in range(450)]  # more than one statement's chunk
        store.runs.record_trials(f"{uid}-1", rows, best_value=0.0)
        trials = store.runs.trials(f"{uid}-1")
        assert [t.number for t in trials] == list(range(450))
        assert (trials[0].state, trials[0].value, trials[0].params, trials[0].intermediate) == (
            "COMPLETE", 0.0, {"lr": 0}, {"5": 1.0})
        assert (trials[449].value, trials[449].host, trials[449].duration_s) == (44.9, "h", 0.5)
        run = store.runs.get(f"{uid}-1")
        assert (run.n_trials, run.best_value) == (450, 0.0)
        # The same number twice in one batch: the later row wins, no key conflict.
        store.runs.record_trials(f"{uid}-1", [{"number": 3, "state": "RUNNING", "params": {}},
                                              {"number": 3, "state": "FAIL", "params": {}}])
        assert store.runs.trials(f"{uid}-1")[3].state == "FAIL"
        store.runs.record_trials(f"{uid}-1", [])  # nothing to write is no error
        assert store.runs.get(f"{uid}-1").n_trials == 450

    @pytest.mark.parametrize(("direction", "first", "second", "best"),
                             [("minimize", 29.5, 30.88, 29.5), ("minimize", 30.88, 29.5, 29.5),
                              ("maximize", 0.86, 0.81, 0.86), ("maximize", 0.81, 0.86, 0.86)])
    def test_a_run_s_best_value_only_improves_whichever_worker_writes_it(self, store, uid, direction,
                                                                        first, second, best):
        """Two workers of one bikeshare run (TUI tour, hui6): the second, started before trial 0
        ended, mirrored its own best 30.88 over the first's 29.5; the run head read 'best trial
        30.88' while the trials table starred 29.5."""
        store.runs.create(run_id=f"{uid}-1", name="bikeshare", dataset="ds", dataset_version=1, target="y",
                          task="regression", metric="m", direction=direction, seed=7, config={"trials": 40})
        store.runs.record_trials(f"{uid}-1", [], best_value=first)
        store.runs.record_trials(f"{uid}-1", [], best_value=second)
        assert store.runs.get(f"{uid}-1").best_value == best

    def test_trials_of_groups_by_run_with_an_entry_for_each_run_asked(self, store, uid):
        for i in range(2):
            create_run(store, f"{uid}-{i}")
        store.runs.upsert_trial(run_id=f"{uid}-0", number=0, state="COMPLETE", value=1.0, params={})
        got = store.runs.trials_of([f"{uid}-0", f"{uid}-1"])
        assert {k: [t.number for t in v] for k, v in got.items()} == {f"{uid}-0": [0], f"{uid}-1": []}

    def test_evaluations_are_filtered_by_run_model_and_kind(self, store, uid):
        store.runs.add_evaluation(eval_id=f"{uid}-e1", run_id=f"{uid}-r", dataset="d", dataset_version=1,
                                  kind="holdout", task="regression", metrics={"rmse": 1.0})
        store.runs.add_evaluation(eval_id=f"{uid}-e2", model_name=uid, model_version=1, dataset="d",
                                  dataset_version=2, kind="evaluate", task="regression",
                                  metrics={"rmse": 2.0}, details_path="artifacts/reports/e2.json")
        assert [e.eval_id for e in store.runs.evaluations(run_id=f"{uid}-r")] == [f"{uid}-e1"]
        (e2,) = store.runs.evaluations(model_name=uid, model_version=1, kind="evaluate")
        assert (e2.metrics, e2.details_path) == ({"rmse": 2.0}, "artifacts/reports/e2.json")
        assert store.runs.evaluations(model_name=uid, kind="holdout") == []

    # -- models, aliases, deployments -----------------------------------------------------------
    def test_register_numbers_versions_per_model(self, store, uid):
        v1 = register_model(store, uid, metrics={"rmse": 1.0})
        v2 = register_model(store, uid, run_id="r2")
        other = register_model(store, f"{uid}-other")
        assert (v1.version, v2.version, other.version) == (1, 2, 1)
        assert (v1.metrics, v1.signature, v1.aliases) == ({"rmse": 1.0}, SIGNATURE, ())
        assert store.models.get(uid).version == 2
        assert store.models.get(uid, 1).ref == f"{uid}:1"
        assert [m.version for m in store.models.list(uid)] == [2, 1]
        assert v2 == store.models.get(uid, 2)  # what register returns is the stored record

    def test_unknown_model_and_version_name_what_is_missing(self, store, uid):
        with pytest.raises(NotFoundError, match=f"unknown model '{uid}'"):
            store.models.get(uid)
        register_model(store, uid)
        with pytest.raises(NotFoundError, match=f"unknown model version {uid}:5"):
            store.models.get(uid, 5)

    def test_alias_moves_between_versions_and_keeps_its_history(self, store, uid):
        for _ in range(2):
            register_model(store, uid)
        assert store.models.set_alias(uid, "production", 1) is None
        assert store.models.set_alias(uid, "production", 2) == 1
        assert store.models.by_alias(uid, "production").version == 2
        assert store.models.get(uid, 1).aliases == ()
        assert store.models.get(uid, 2).aliases == ("production",)
        history = store.models.alias_history(uid, "production")
        assert [(h.version, h.previous_version) for h in history] == [(1, None), (2, 1)]

    def test_alias_to_an_unknown_version_is_refused_without_history(self, store, uid):
        register_model(store, uid)
        with pytest.raises(NotFoundError, match=f"unknown model version {uid}:3"):
            store.models.set_alias(uid, "production", 3)
        with pytest.raises(NotFoundError, match=f"model '{uid}' has no alias 'production'"):
            store.models.by_alias(uid, "production")
        assert store.models.alias_history(uid) == []

    def test_update_metrics_replaces_a_versions_metrics(self, store, uid):
        register_model(store, uid, metrics={"rmse": 1.0})
        store.models.update_metrics(uid, 1, {"rmse": 0.5, "mae": 0.4})
        assert store.models.get(uid, 1).metrics == {"rmse": 0.5, "mae": 0.4}

    def test_deploy_creates_then_repoints_keeping_creation_time(self, store, uid):
        for _ in range(2):
            register_model(store, uid)
        first = store.models.deploy(name=uid, model_name=uid, model_version=1, signature=SIGNATURE,
                                    output_dir="out/")
        moved = store.models.deploy(name=uid, model_name=uid, model_version=2, signature=SIGNATURE,
                                    forced=True, gate={"passed": False})
        assert (first.model_version, moved.model_version) == (1, 2)
        assert moved.created_at == first.created_at
        assert moved.updated_at >= first.updated_at
        assert (moved.output_dir, moved.forced, moved.gate) == ("out/", True, {"passed": False})
        assert [d.model_version for d in store.models.deployments() if d.name == uid] == [2]

    def test_a_deployment_records_its_engine_and_a_repoint_keeps_it(self, store, uid):
        register_model(store, uid)
        plain = store.models.deploy(name=uid, model_name=uid, model_version=1, signature=SIGNATURE)
        assert (plain.engine, plain.engine_info) == ("local", None)
        info = {"backend": "lleaves", "max_abs_diff": 0.0, "rows_checked": 2000}
        compiled = store.models.deploy(name=uid, model_name=uid, model_version=1, signature=SIGNATURE,
                                       engine="compiled", engine_info=info)
        assert (compiled.engine, compiled.engine_info) == ("compiled", info)
        columns, rows = store.query(f"SELECT engine FROM v_deployments WHERE name = '{uid}'")
        assert rows == [("compiled",)]
        # A repoint that says nothing of the engine keeps it; the old artifact's record goes.
        repointed = store.models.deploy(name=uid, model_name=uid, model_version=1, signature=SIGNATURE)
        assert (repointed.engine, repointed.engine_info) == ("compiled", None)

    def test_unknown_deployment_is_named(self, store, uid):
        with pytest.raises(NotFoundError, match=f"unknown deployment '{uid}'"):
            store.models.deployment(uid)

    # -- scoring jobs, drift, feedback ----------------------------------------------------------
    def test_job_starts_running_and_finishes_with_its_outcome(self, store, uid):
        store.jobs.start(job_id=f"{uid}-j1", model_name="m", model_version=1, deployment=uid,
                         inputs=[{"path": "in.parquet", "sha256": "00"}])
        running = store.jobs.get(f"{uid}-j1")
        assert (running.status, running.ended_at, running.inputs[0]["path"]) == ("running", None, "in.parquet")
        store.jobs.finish(f"{uid}-j1", status="succeeded", rows_in=10, rows_out=10, unseen={"c": 2},
                          warnings=["w"], seconds=0.5)
        done = store.jobs.get(f"{uid}-j1")
        assert (done.status, done.rows_out, done.unseen, done.warnings) == ("succeeded", 10, {"c": 2}, ["w"])
        assert done.ended_at is not None

    def test_a_job_records_the_engine_that_scored_it(self, store, uid):
        store.jobs.start(job_id=f"{uid}-e", model_name="m", model_version=1, inputs=[], engine="compiled")
        assert store.jobs.get(f"{uid}-e").engine == "compiled"
        assert store.query(f"SELECT engine FROM v_jobs WHERE job_id = '{uid}-e'")[1] == [("compiled",)]

    def test_jobs_by_prefix_list_by_deployment_newest_first(self, store, uid):
        for j in ("j1", "j2"):
            store.jobs.start(job_id=f"{uid}-{j}", model_name="m", model_version=1, deployment=uid, inputs=[])
        assert store.jobs.get(f"{uid}-j2"[:-1] + "2").job_id == f"{uid}-j2"
        with pytest.raises(NotFoundError, match=f"job prefix '{uid}-j' is ambiguous"):
            store.jobs.get(f"{uid}-j")
        with pytest.raises(NotFoundError, match=f"unknown scoring job '{uid}-x'"):
            store.jobs.get(f"{uid}-x")
        assert [j.job_id for j in store.jobs.list(deployment=uid)] == [f"{uid}-j2", f"{uid}-j1"]
        assert len(store.jobs.list(deployment=uid, limit=1)) == 1

    def test_finish_with_an_unknown_field_is_refused(self, store, uid):
        store.jobs.start(job_id=uid, model_name="m", model_version=1, inputs=[])
        with pytest.raises(StoreError, match="no field 'colour'"):
            store.jobs.finish(uid, status="succeeded", colour="red")
        assert store.jobs.get(uid).status == "running"

    def test_drift_results_are_stored_per_job_and_feature(self, store, uid):
        def result(feature, status, psi):
            return DriftResult(job_id=uid, feature=feature, kind="numeric", psi=psi, ks_stat=0.1,
                               ks_pvalue=0.5, null_rate_ref=0.0, null_rate_cur=0.0, new_categories=None,
                               status=status, details={"bins": [1, 2]})
        store.jobs.add_drift([result("a", "ok", 0.01), result("b", "alert", 0.4)])
        store.jobs.add_drift([result("a", "warn", 0.15)])  # the same feature again replaces it
        got = store.jobs.drift([uid, f"{uid}-none"])
        assert [(d.feature, d.status, d.psi) for d in got[uid]] == [("a", "warn", 0.15), ("b", "alert", 0.4)]
        assert got[uid][0].details == {"bins": [1, 2]}
        assert got[f"{uid}-none"] == []

    def test_feedback_is_listed_per_deployment(self, store, uid):
        made = store.jobs.add_feedback(feedback_id=f"{uid}-f", deployment=uid, rows_matched=5,
                                       metrics={"rmse": 1.0}, status="ok", job_id="j")
        assert store.jobs.feedback(uid) == [made]
        assert store.jobs.feedback(f"{uid}-none") == []

    # -- audit ----------------------------------------------------------------------------------
    def test_audit_events_newest_first_filtered_by_object_prefix(self, store, uid):
        store.audit.record("dataset add", f"dataset:{uid}:1", "ok", {"rows": 10})
        store.audit.record("model promote", f"model:{uid}:1", "refused")
        store.audit.record("dataset add", f"dataset:{uid}:2", "failed", {"error": "empty file"})
        events = store.audit.events(obj=f"dataset:{uid}")
        assert [(e.object, e.outcome) for e in events] == [(f"dataset:{uid}:2", "failed"),
                                                          (f"dataset:{uid}:1", "ok")]
        assert events[1].details == {"rows": 10}
        assert events[0].user and events[0].host and events[0].at is not None
        assert len(store.audit.events(obj=f"dataset:{uid}", limit=1)) == 1

    # -- read-only SQL --------------------------------------------------------------------------
    def test_query_reads_the_documented_views(self, store, uid):
        add_dataset(store, uid, "a")
        columns, rows = store.query("SELECT name, version, rows FROM v_datasets WHERE name = ?", [uid])
        assert (columns, rows) == (["name", "version", "rows"], [(uid, 1, 10)])

    @pytest.mark.parametrize("sql", [
        "INSERT INTO datasets VALUES ('x', NULL, now())",
        "DELETE FROM audit_events",
        "DROP VIEW v_runs",
        "CREATE TABLE scratch (a INTEGER)",
    ])
    def test_query_refuses_writes_and_changes_nothing(self, store, uid, sql):
        add_dataset(store, uid, "a")
        with pytest.raises(StoreError, match="read-only") as caught:
            store.query(sql)
        assert "\n" not in str(caught.value)
        assert store.datasets.get(uid).version == 1
        assert store.query("SELECT count(*) FROM v_runs")[1][0][0] >= 0

    @pytest.mark.parametrize("sql", [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM 'https://example.com/scores.parquet'",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM duckdb_extensions()",
    ], ids=["csv", "text", "url", "glob", "extension folder"])
    def test_query_reads_nothing_outside_the_store(self, store, sql):
        """Only the store's tables: no file, no URL (no httpfs auto-install), in one line."""
        with pytest.raises(StoreError, match="sql reads only the store's views: reading '.+' is refused") as caught:
            store.query(sql)
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize("sql", ["SET enable_external_access = true", "SET autoload_known_extensions = true",
                                     "SET lock_configuration = false", "RESET enable_external_access"])
    def test_query_cannot_lift_its_own_sandbox(self, store, sql, tmp_path):
        (tmp_path / "t.csv").write_text("a\n1\n")
        with pytest.raises(StoreError):
            store.query(sql)
        with pytest.raises(StoreError, match="is refused"):
            store.query("SELECT * FROM read_csv(?)", [str(tmp_path / "t.csv")])

    def test_query_sandbox_keeps_views_and_json_functions(self, store, uid):
        store.jobs.start(job_id=uid, model_name="m", model_version=1, inputs=[{"path": "a.csv", "sha256": "ff"}])
        _, rows = store.query("SELECT json_extract_string(inputs_json, '$[0].sha256') FROM v_jobs WHERE job_id = ?",
                              [uid])
        assert rows == [("ff",)]

    def test_query_errors_are_one_line(self, store):
        with pytest.raises(StoreError, match="query failed: .*no_such_table") as caught:
            store.query("SELECT * FROM no_such_table")
        assert "\n" not in str(caught.value)
