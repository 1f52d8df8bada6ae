"""Starting, stopping and resuming tuning runs: the API the CLI and the TUI call.

Everything the user can get wrong is checked in :func:`validate` before the run is created, so bad
input leaves the store as it was. A detached run is a supervisor process in its own session; it
records its pid and host on the run, and every trial records the pid and host of its worker.
:func:`mlops_tui.training.tuning.sweep.sweep` fails those whose process died, so `run resume` works
after a kill -9.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.refs import check_name
from mlops_tui.store import utcnow
from mlops_tui.training.tuning import protocol
from mlops_tui.training.tuning import study as st
from mlops_tui.training.tuning.sweep import ACTIVE, release_stale_lock, sweep

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion, Run
    from mlops_tui.training.prep import Prepared
    from mlops_tui.workspace import Workspace

RESUMABLE = ("stopped", "failed", "completed")


@dataclass(frozen=True)
class TuneOptions:
    dataset: str
    target: str | None = None
    task: str | None = None
    metric: str | None = None
    trials: int | None = 20
    timeout: float | None = None
    jobs: int | None = None  # None: one worker per core (protocol.resources)
    seed: int = 0
    split_seed: int | None = None  # None: fixed per dataset version (protocol.split_seed)
    time_column: str | None = None
    group_column: str | None = None  # rows sharing its value stay on one side of the holdout and the folds
    space_file: str | None = None
    name: str | None = None
    storage: str | None = None  # a PostgreSQL URL (other hosts may join), "journal", or None: config.toml's
    threshold_for: str | None = None  # binary: choose the decision threshold for this (metrics.THRESHOLD_FOR)


def validate(ws: Workspace, opts: TuneOptions) -> tuple[DatasetVersion, Prepared, dict[str, Any]]:
    """Check every option and prepare the data once; returns (dataset version, prepared, config)."""
    from mlops_tui.data import datasets, roles
    from mlops_tui.training import metrics as mx
    from mlops_tui.training import prep
    from mlops_tui.training.tuning.space import load_space, warm_starts

    if opts.trials is not None and opts.trials < 1:
        raise UserError(f"--trials must be at least 1 (got {opts.trials})")
    if opts.trials is None and opts.timeout is None:
        raise UserError("give --trials or --timeout (or both), or the study would never end")
    if opts.timeout is not None and opts.timeout <= 0:
        raise UserError(f"--timeout must be positive seconds (got {opts.timeout})")
    if opts.jobs is not None and (opts.jobs < 1 or opts.jobs > (os.cpu_count() or 1) * 4):
        raise UserError(f"--jobs must be between 1 and {(os.cpu_count() or 1) * 4} (got {opts.jobs})")
    if opts.task not in (None, "auto", *mx.TASKS):
        raise UserError(f"unknown task {opts.task!r}; choose auto, {', '.join(mx.TASKS)}")
    if opts.threshold_for is not None and opts.threshold_for not in mx.THRESHOLD_FOR:
        raise UserError(f"--threshold-for must be one of {', '.join(mx.THRESHOLD_FOR)} (got {opts.threshold_for!r})")
    if opts.threshold_for is not None and opts.task not in (None, "auto", "binary"):
        raise UserError(f"--threshold-for is for binary classifiers; --task is {opts.task}")
    if opts.name is not None:
        check_name("model name", opts.name)  # `tune --name 'a:b'` made a model no reference could name
    with ws.session():  # the store's schema check and this read share one open of the file
        dv = datasets.resolve(ws, opts.dataset)
    target = opts.target or dv.target
    if not target:
        raise UserError(f"dataset {dv.ref} has no target; pass --target COLUMN")
    task = None if opts.task in (None, "auto") else opts.task
    split_seed, split_source = protocol.split_seed(dv, opts.split_seed, opts.time_column)
    ids = roles.id_columns(dv.schema)  # what `dataset show` calls an id is never a feature
    test_size = protocol.holdout_share(dv.rows)
    prepared = prep.prepare(datasets.load(ws, dv), target=target, task=task, time_column=opts.time_column,
                            seed=split_seed, test_size=test_size, id_columns=ids, group_column=opts.group_column)
    metric = mx.check_metric(prepared.task, opts.metric)
    if opts.threshold_for is not None and prepared.task != "binary":
        raise UserError(f"--threshold-for is for binary classifiers; {target!r} of {dv.ref} is a {prepared.task} "
                        "target (a multiclass model labels its likeliest class)")
    space = load_space(opts.space_file, opts.timeout,
                       categorical=any(f.kind == "categorical" for f in prepared.signature.features))
    shared = _shared_storage(ws, opts.storage)
    jobs, threads, resources = protocol.resources(opts.jobs, opts.trials, opts.timeout)
    config = {
        "dataset": dv.name, "dataset_version": dv.version, "dataset_hash": dv.hash, "target": target,
        "task": prepared.task, "metric": metric, "time_column": opts.time_column, "seed": opts.seed,
        "id_columns": ids, "category_columns": roles.category_columns(dv.schema), "group_column": opts.group_column,
        "split_seed": split_seed, "split_seed_source": split_source,
        "protocol": protocol.choose(prepared, opts.time_column).to_json(),
        "warm_start": warm_starts(space, prepared.train.height + prepared.valid.height,
                                  len(prepared.signature.features)),
        "test_size": test_size, "valid_size": 0.2, "trials": opts.trials, "timeout": opts.timeout,
        "jobs": jobs, "trial_threads": threads, "resources": resources, "space": space,
        "space_file": opts.space_file, "num_threads": 1,
        "options": {**asdict(opts), "storage": shared.get("storage")}, **shared,
    }
    if opts.threshold_for:  # (a run without it records the config it always did)
        config["threshold_for"] = opts.threshold_for
    else:
        del config["options"]["threshold_for"]
    return dv, prepared, config


def _shared_storage(ws: Workspace, option: str | None) -> dict[str, Any]:
    """Config keys of a study in PostgreSQL (``--storage``, else ``[tuning] storage`` in config.toml;
    ``journal`` or nothing: the run's journal file). The database is reached once here, so a wrong
    URL, password or host is one line before the run exists. The password stays out of the store."""
    from mlops_tui.training.tuning import rdb

    tuning = ws.config.get("tuning", {})
    url = option or tuning.get("storage")
    if not url or url == rdb.JOURNAL:
        return {}
    url = rdb.use_password_from(url)
    heartbeat = {"heartbeat_interval": int(tuning.get("heartbeat_interval", rdb.HEARTBEAT_INTERVAL)),
                 "grace_period": int(tuning.get("grace_period", rdb.GRACE_PERIOD))}
    if heartbeat["heartbeat_interval"] < 1 or heartbeat["grace_period"] <= heartbeat["heartbeat_interval"]:
        raise UserError(f"{ws.config_path}: [tuning] needs heartbeat_interval >= 1 and grace_period above it "
                        f"(got {heartbeat['heartbeat_interval']} and {heartbeat['grace_period']})")
    st._shared[url] = rdb.open_storage(url, **heartbeat)
    return {"storage": url, **heartbeat}


def _session_trials(opts_trials: int | None) -> int:
    # With only --timeout the workers run until the clock stops them.
    return opts_trials if opts_trials is not None else 1_000_000


def start(ws: Workspace, opts: TuneOptions, *, detach: bool, on_trial: st.Progress | None = None,
          on_start: Callable[[Run], None] | None = None, started: float | None = None) -> Run:
    """Validate, create the run, then tune in this process or in a detached supervisor.

    ``on_start(run)`` is called once the input is valid and the run exists, before the first trial
    (the CLI starts its progress bar there, so a refused command prints only its error).
    ``started``: when `--timeout` starts counting (time.time(); default now; the CLI passes its
    process's start, see budget.process_start)."""
    from mlops_tui.training import metrics as mx

    started = started or time.time()
    dv, prepared, config = validate(ws, opts)
    run_id = uuid.uuid4().hex[:10]
    # Owned by this process from the start: if it dies before a supervisor takes over (Ctrl-C, a
    # closed terminal, kill -9 before the spawn), the sweep finds a dead pid and fails the run,
    # instead of leaving it 'queued' for ever with no process to stop and no way to resume. In the
    # foreground this process is the supervisor, so the run is 'running' at once. One transaction
    # with its audit event (each open of the store costs an attach and a checkpoint).
    run = ws.store.runs.create(
        run_id=run_id, name=opts.name or dv.name, dataset=dv.name, dataset_version=dv.version,
        target=config["target"], task=prepared.task, metric=config["metric"],
        direction=mx.direction(config["metric"]), seed=opts.seed, config=config,
        n_trials_requested=opts.trials, timeout_s=opts.timeout, n_jobs=config["jobs"], prep=prepared.report,
        status="queued" if detach else "running", phase=None if detach else protocol.SEARCHING,
        pid=os.getpid(), host=st.HOST,
        started_at=None if detach else utcnow(),
        audit=("tune", f"run:{run_id}", "started",
               {"dataset": dv.ref, "detach": detach, "trials": opts.trials, "jobs": opts.jobs}),
    )
    ws.run_dir(run_id).mkdir(parents=True, exist_ok=True)
    if detach and config.get("storage"):  # joinable as soon as its id is printed
        from mlops_tui.training.tuning import coordinator

        coordinator.publish(ws, run, dv)
    if on_start is not None:
        on_start(run)
    return _launch(ws, run, _session_trials(opts.trials), detach=detach, on_trial=on_trial, prepared=prepared,
                   dataset=dv, started=started)


def _launch(ws: Workspace, run: Run, trials: int, *, detach: bool, on_trial: st.Progress | None,
            prepared: Prepared | None = None, dataset: DatasetVersion | None = None,
            started: float | None = None) -> Run:
    # Imported here so `python -m mlops_tui.training.tuning.worker` does not find itself already imported.
    from mlops_tui.training.tuning.worker import spawn_supervisor, supervise

    started = started or time.time()
    if detach:
        try:
            pid = spawn_supervisor(ws, run.run_id, trials, started=started)
        except OSError as exc:
            ws.store.runs.update(run.run_id, status="failed", error=f"could not start the worker: {exc}",
                                 ended_at=utcnow())
            raise UserError(f"could not start the background worker of run {run.run_id}: {exc}") from exc
        ws.store.runs.update(run.run_id, pid=pid, host=st.HOST)
        return ws.store.runs.get(run.run_id)
    return supervise(ws, run.run_id, trials=trials, on_trial=on_trial, foreground=True, prepared=prepared,
                     run=run, dataset=dataset, started=started)


def get(ws: Workspace, ref: str) -> Run:
    from mlops_tui.store import NotFoundError

    try:
        return ws.store.runs.resolve(ref)
    except NotFoundError as exc:
        raise UserError(str(exc)) from exc


def stop(ws: Workspace, ref: str, *, wait: float = 0.0) -> Run:
    """Ask a running run to stop after its current trial(s); optionally wait for it."""
    sweep(ws)
    run = get(ws, ref)
    if run.status not in ACTIVE:
        raise UserError(f"run {run.run_id} is not running (status {run.status})")
    (ws.run_dir(run.run_id) / st.STOP_FLAG).touch()
    if run.status != "stopping":
        ws.store.runs.update(run.run_id, status="stopping")
    ws.store.audit.record("run stop", f"run:{run.run_id}", "ok", {})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sweep(ws)
        run = ws.store.runs.get(run.run_id)
        if run.status not in ACTIVE:
            return run
        time.sleep(0.5)
    return ws.store.runs.get(run.run_id)


def resume(ws: Workspace, ref: str, *, trials: int | None = None, detach: bool = False,
           on_trial: st.Progress | None = None, on_start: Callable[[Run], None] | None = None) -> Run:
    """Continue the same study: TPE keeps its history, trial numbers continue (``on_start``: as in
    :func:`start`). Without ``trials``: the rest of the run's trial count, or, for a run limited by
    time only, another session of its ``--timeout``."""
    from mlops_tui.data import datasets

    sweep(ws)
    run = get(ws, ref)
    if run.config.get("retrain_of"):
        # Its challenger was compared with the champion when it ran: resumed, it became a study that
        # registered yet another model version beside that comparison (the TUI no longer offers R).
        raise UserError(f"run {run.run_id} is a retrain of {run.config['retrain_of']}, not a study to continue; "
                        "run `retrain` again for a new challenger")
    if run.status in ACTIVE:
        raise UserError(f"run {run.run_id} is already running (status {run.status}); "
                        "stop it first or wait for it to end")
    if run.status not in RESUMABLE:
        raise UserError(f"run {run.run_id} is {run.status}; stop it first or wait for it to end")
    if trials is not None and trials < 1:
        raise UserError(f"--trials must be at least 1 (got {trials})")
    recorded = ws.store.runs.trials(run.run_id)
    if run.config.get("storage"):
        st.study_storage(ws, run)  # the database answers (with PGPASSWORD/~/.pgpass), or one line
    # No journal and no trial: the run died before its first trial, so the study starts afresh.
    elif recorded and not st.journal_path(ws, run.run_id).exists():
        raise UserError(f"run {run.run_id} has no Optuna journal at {st.journal_path(ws, run.run_id)}")
    datasets.resolve(ws, f"{run.dataset}:{run.dataset_version}")
    done = sum(1 for t in recorded if t.state != "RUNNING")
    # A run limited by --timeout alone resumes for another --timeout of its own (each session's
    # budget counts from its start), trials unbounded: what a stopped or killed one had left.
    time_only = trials is None and run.n_trials_requested is None and run.timeout_s is not None
    if time_only:
        if run.status == "completed":
            raise UserError(f"run {run.run_id} already completed its --timeout of {run.timeout_s:g} s; "
                            "pass --trials N to run more")
        trials = _session_trials(None)
    elif trials is None:
        if run.n_trials_requested is None:
            raise UserError(f"run {run.run_id} has no trial count or time limit to resume; pass --trials N")
        # Zero left (e.g. killed during the final refit): resuming just does the final step.
        trials = max(0, run.n_trials_requested - done)
        if trials == 0 and run.status == "completed":
            raise UserError(f"run {run.run_id} already completed its {run.n_trials_requested} trials; "
                            "pass --trials N to run more")
    release_stale_lock(ws, run.run_id)
    (ws.run_dir(run.run_id) / st.STOP_FLAG).unlink(missing_ok=True)
    # This process owns the run until the supervisor records its own pid (see `start`): the old,
    # dead pid would make a concurrent sweep fail the run we are resuming. Compare-and-set: of two
    # resumes that both passed the status check above, only one moves the run to queued.
    if not ws.store.runs.claim(run.run_id, from_statuses=RESUMABLE, status="queued", error=None, ended_at=None,
                               n_trials_requested=None if time_only else done + trials, pid=os.getpid(),
                               host=st.HOST):
        raise UserError(f"run {run.run_id} is already running (another `run resume` started it)")
    ws.store.audit.record("run resume", f"run:{run.run_id}", "ok", {"trials": trials, "detach": detach})
    run = ws.store.runs.get(run.run_id)
    if on_start is not None:
        on_start(run)
    return _launch(ws, run, trials, detach=detach, on_trial=on_trial)
