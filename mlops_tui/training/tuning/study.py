"""One tuning worker: an Optuna study on the run's journal, each trial mirrored into the store.

The study lives in ``runs/<run_id>/optuna.journal`` (JournalStorage, study_name = run_id), which
several processes can share: `--jobs K` starts K of these loops on one study, `run resume` starts
them again later and TPE picks up the whole history. Each trial is written to the store when it
starts (RUNNING, with this process's pid and host) and when it ends, so `run show` and the TUI see
progress live, and a trial whose process died can be found and marked failed (see control.sweep).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_tui.training.tuning import space as sp

if TYPE_CHECKING:
    import optuna

    from mlops_tui.store import Run, TrialRow
    from mlops_tui.training.prep import Prepared
    from mlops_tui.training.tuning.budget import Budget
    from mlops_tui.workspace import Workspace

HOST = socket.gethostname()
STOP_FLAG = "STOP"
SEED_STRIDE = 7919  # distinct sampler seeds for parallel workers / resumed sessions
log = logging.getLogger("mlops_tui.training.tuning")

Progress = Callable[[Any], None]  # called with the study after each trial of this worker


def journal_path(ws: Workspace, run_id: str) -> Path:
    return ws.run_dir(run_id) / "optuna.journal"


def stop_requested(ws: Workspace, run_id: str) -> bool:
    return (ws.run_dir(run_id) / STOP_FLAG).exists()


def _backend(path: Path) -> Any:
    """Optuna's JournalFileBackend, appending without an fsync and under a kernel lock.

    Optuna writes one journal record per suggested parameter, reported value and attribute, ~14 per
    trial here, and fsyncs each: that alone made a 0.15 s trial 0.3 s. A record written before a
    process is killed (even with SIGKILL) is in the page cache and stays; fsync only guards against
    the machine losing power, and Optuna's reader already skips a torn last line.

    Writers exclude each other with ``flock`` on the journal's own descriptor, kept open, instead
    of Optuna's symlink lock (symlink + rename + unlink and an open of the file per record: 0.1 ms
    a record, ~30 ms a 20-trial run). The kernel drops the lock when a writer dies, even by
    SIGKILL, so a killed worker never leaves a lock behind for the others to wait out. Every writer
    of a run's journal goes through this backend (workers, the sweep); readers take no lock, so
    plain Optuna (and `optuna.importance` in the evaluation) reads the file as usual.
    """
    import fcntl
    import json
    import weakref

    from optuna.storages.journal import JournalFileBackend

    class _Backend(JournalFileBackend):
        _fd: int | None = None

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
            if self._fd is None:
                self._fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                weakref.finalize(self, os.close, self._fd)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                view = memoryview(data)
                while view:  # O_APPEND: each write lands at the end, after every other writer's
                    view = view[os.write(self._fd, view):]
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    return _Backend(str(path))


def storage(ws: Workspace, run_id: str) -> Any:
    from optuna.storages import JournalStorage

    path = journal_path(ws, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(_backend(path))


_shared: dict[str, Any] = {}  # one RDBStorage (connection pool) per database URL in this process


def study_storage(ws: Workspace, run: Run) -> Any:
    """Where the run's study lives: its journal file, or the PostgreSQL database of
    ``tune --storage`` (see rdb.py; other hosts join it with `mlops-tui worker`)."""
    url = run.config.get("storage")
    if not url:
        return storage(ws, run.run_id)
    if url not in _shared:
        from mlops_tui.training.tuning import rdb

        _shared[url] = rdb.open_storage(url, **rdb.settings(run.config))
    return _shared[url]


def open_study(ws: Workspace, run: Run, *, sampler_seed: int | None = None) -> optuna.Study:
    """Create or load the run's study (TPE seeded; the space's pruner, median by default)."""
    import optuna

    direction: Literal["minimize", "maximize"] = "minimize" if run.direction == "minimize" else "maximize"
    return optuna.create_study(storage=study_storage(ws, run), study_name=run.run_id, direction=direction,
                               sampler=sampler(run.seed if sampler_seed is None else sampler_seed),
                               pruner=pruner(run.config["space"]["settings"]), load_if_exists=True)


def sampler(seed: int) -> optuna.samplers.BaseSampler:
    """The study's sampler: TPE seeded with ``seed`` (one seed per worker: SEED_STRIDE), drawing the
    parameters jointly (multivariate: the learning rate, the leaves and the regularisation act
    together) and counting the trials other workers are running as bad ones (constant liar), so
    two workers do not draw the same point. Measured with bench/tune_quality.py (the same trials,
    the external 25 %), 8 corpus sets x 3 search seeds (23 pairs) against independent TPE: better
    on 12, worse on 8, equal on 3, mean +0.004; by set, caravan AUC +0.011, hitters R² +0.007,
    carseats +0.012 (+0.048, -0.003, -0.007), attrition -0.002, ames equal."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def pruner(settings: dict[str, Any] | None = None) -> optuna.pruners.BasePruner:
    """Median: stop a trial whose curve is below the median of earlier trials at the same round
    (after 5 trials and 10 rounds). Halving: successive halving from 10 rounds, keeping a third at
    each rung. None: every trial runs to early stopping."""
    import optuna

    kind = (settings or {}).get("pruner", "median")
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=10, reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10)


def warm_start(study: optuna.Study, run: Run) -> int:
    """Queue the run's warm-start configurations (config["warm_start"], from space.warm_starts) as
    the first trials of a new study; returns how many. A study that already has trials (a resumed
    run) keeps its history instead."""
    if study.get_trials(deepcopy=False):
        return 0
    configs = run.config.get("warm_start") or []
    for config in configs:
        study.enqueue_trial(config, user_attrs={"warm_start": True}, skip_if_exists=True)
    return len(configs)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))


class Objective:
    """Trains one LightGBM configuration with early stopping on each fold of the run's protocol
    (one validation split, or k folds: see protocol.py); returns the metric on the out-of-fold
    predictions at the round where the folds' mean curve was best (recorded as best_iteration): the
    mean of the folds' values for a rank metric (protocol.trial_score)."""

    def __init__(self, ws: Workspace, run: Run, prepared: Prepared, mirror: StoreMirror,
                 budget: Budget | None = None) -> None:
        # Imported here, not at the top: list/show/sweep use this module and must not load numpy/polars.
        from mlops_tui.training.tuning import protocol, train
        from mlops_tui.training.tuning.budget import Budget

        self.ws, self.run, self.p, self.mirror = ws, run, prepared, mirror
        self.budget = budget or Budget()
        self.space = run.config["space"]
        settings = self.space["settings"]
        self.rounds = int(settings["num_boost_round"])
        self.patience = int(settings["early_stopping_rounds"])
        self.base = {**train.full_params(run.config, {}, prepared),
                     "num_threads": int(run.config.get("trial_threads", run.config.get("num_threads", 1)))}
        self.lgb_metric, self.prunable = train.lgb_metric(prepared.task, run.metric)
        _, self.X, self.y = train.fitted_dataset(prepared, self.base)
        self.folds = protocol.folds(run.config, prepared)

    def __call__(self, trial: optuna.Trial) -> float:
        import lightgbm as lgb

        from mlops_tui.training.tuning import protocol, train
        from mlops_tui.training.tuning.budget import TimeGuard

        params = sp.suggest(trial, self.space)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", HOST)
        self.mirror.put({"number": trial.number, "state": "RUNNING", "params": params, "pid": os.getpid(),
                         "host": HOST, "started_at": trial.datetime_start})
        guard = TimeGuard(lambda running: self.budget.cutoff(trial.study, running))
        callbacks: list[Any] = [lgb.early_stopping(self.patience, first_metric_only=True, verbose=False), guard]
        if self.prunable:
            from optuna_integration import LightGBMPruningCallback

            # Each report is a journal write: a few per patience window, not every iteration.
            callbacks.append(LightGBMPruningCallback(trial, self.lgb_metric, valid_name="valid",
                                                     report_interval=max(5, min(self.rounds // 10, self.patience))))
        started = time.perf_counter()
        full = {**self.base, **params}
        result = lgb.cv(full, train.fitted_dataset(self.p, full).data, num_boost_round=self.rounds, folds=self.folds,
                        callbacks=callbacks, return_cvbooster=True)
        trial.set_user_attr("fit_s", round(time.perf_counter() - started, 4))
        trial.set_user_attr("fit_rounds", guard.rounds)  # the budget prices the final model's rounds from these
        # lgb.cv's stub types every value as list[float] | CVBooster; return_cvbooster=True puts the
        # boosters under "cvbooster", the per-round means under "valid <metric>-mean".
        cv, means = result["cvbooster"], next(v for k, v in result.items() if k.endswith("-mean"))
        assert isinstance(cv, lgb.CVBooster) and isinstance(means, list)
        best_iteration = cv.best_iteration or len(means)
        trial.set_user_attr("best_iteration", int(best_iteration))
        preds = [train.predict(b, self.X[valid], best_iteration) for b, (_, valid) in zip(cv.boosters, self.folds, strict=True)]
        value = protocol.trial_score(self.p.task, self.run.metric, self.y, preds, self.folds, self.p.classes)
        return float("nan") if value is None else float(value)  # NaN → a failed trial


def _completed(study: optuna.Study) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def trial_row(trial: optuna.trial.FrozenTrial) -> TrialRow:
    """A journal trial as the store's trial row (the journal is the truth, the store its mirror)."""
    start, end = trial.datetime_start, trial.datetime_complete
    return {
        "number": trial.number, "state": trial.state.name,
        "value": trial.value if trial.state.name == "COMPLETE" else None, "params": trial.params,
        "intermediate": {str(k): v for k, v in trial.intermediate_values.items()} or None,
        "duration_s": (end - start).total_seconds() if start and end else None,
        "pid": trial.user_attrs.get("pid"), "host": trial.user_attrs.get("host"),
        "started_at": start, "ended_at": end,
    }


def sync_store(ws: Workspace, run_id: str) -> int:
    """Copy every trial of the journal into the store in one transaction (after workers end, or
    after a kill that lost a mirror write); returns the number of trials."""
    st = storage(ws, run_id)
    try:
        study_id = st.get_study_id_from_name(run_id)
    except KeyError:
        return 0
    # A queued warm-start trial that no worker reached (the budget ran out) is not a trial yet.
    rows = [trial_row(t) for t in st.get_all_trials(study_id, deepcopy=False) if t.state.name != "WAITING"]
    ws.store.runs.record_trials(run_id, rows)
    return len(rows)


class StoreMirror:
    """Writes trial rows into the store from a background thread, so a trial never waits for the
    DuckDB file (each open attaches and checkpoints it, and waits while other processes hold it). At most one
    transaction per ``interval`` seconds: rows queued meanwhile (the end of one trial, the start of
    the next) are coalesced into it, so short trials cost one write, not two. The first trial is
    written as soon as it starts, so a worker's trial in flight shows at once. `close` flushes."""

    def __init__(self, ws: Workspace, run_id: str, interval: float = 1.0) -> None:
        self.ws, self.run_id, self.interval = ws, run_id, interval
        self.pending: dict[int, TrialRow] = {}
        self.best: float | None = None
        self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._loop, name=f"store-mirror-{run_id}", daemon=True)
        self.thread.start()

    def put(self, row: TrialRow, best: float | None = None) -> None:
        with self.cond:
            self.pending[row["number"]] = row
            if best is not None:
                self.best = best
            self.cond.notify()

    def _loop(self) -> None:
        last = 0.0
        while True:
            with self.cond:
                while not self.closed and (not (self.pending or self.best is not None)
                                           or time.monotonic() - last < self.interval):
                    wait = None if not (self.pending or self.best is not None) else \
                        self.interval - (time.monotonic() - last)
                    self.cond.wait(wait)
                if self.closed and not self.pending and self.best is None:
                    return
                rows, best = list(self.pending.values()), self.best
                self.pending, self.best = {}, None
            last = time.monotonic()
            try:
                self.ws.store.runs.record_trials(self.run_id, rows, best_value=best)
            except Exception:  # noqa: BLE001 - keep tuning; the rows are retried with the next batch
                log.exception("could not mirror %d trial(s) into the store; retrying", len(rows))
                with self.cond:
                    for row in rows:
                        self.pending.setdefault(row["number"], row)
                    if best is not None and self.best is None:
                        self.best = best
                if self.closed:
                    return

    def close(self, *, wait: bool = True) -> None:
        """Write what is queued and end the thread. ``wait=False``: return at once and let that
        last write run while the caller goes on (the supervisor refits meanwhile); `join` before
        relying on the rows being in the store."""
        with self.cond:
            self.closed = True
            self.cond.notify()
        if wait:
            self.thread.join()

    def join(self) -> None:
        self.thread.join()


def work(ws: Workspace, run: Run, prepared: Prepared, *, n_trials: int, budget: Budget | None,
         sampler_seed: int, on_trial: Progress | None = None,
         mirror: StoreMirror | None = None, first: bool = False) -> optuna.Study | None:
    """Run up to ``n_trials`` trials of the run's own study (its journal) in this process, until the
    budget's cut-off (stops early on the flag); returns the study (None when no trial was started).
    A shared study goes through ``worker.work`` instead.

    ``mirror``: the caller's, which the caller closes; without it the trials are mirrored by one
    of this call's own, flushed before it returns. ``first``: the supervisor's loop, which runs
    one trial even past the cut-off when none has completed (a run always ends with a model)."""
    if stop_requested(ws, run.run_id) or n_trials <= 0:
        return None
    study = open_study(ws, run, sampler_seed=sampler_seed)
    if budget is not None and budget.over(study) and not (first and not _completed(study)):
        log.info("worker %d: no time left for a trial of run %s", os.getpid(), run.run_id)
        return study
    own = mirror is None
    mirror = mirror or StoreMirror(ws, run.run_id)
    objective = Objective(ws, run, prepared, mirror, budget)
    best = [run.best_value]

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        improved = None
        if trial.state.name == "COMPLETE" and trial.value is not None and (
                best[0] is None or (trial.value < best[0] if run.direction == "minimize" else trial.value > best[0])):
            best[0] = improved = trial.value
        mirror.put(trial_row(trial), improved)
        if on_trial is not None:
            on_trial(study)
        if stop_requested(ws, run.run_id):
            log.info("stop requested: ending after trial %d", trial.number)
            study.stop()
        elif budget is not None and budget.over(study):
            log.info("time budget: ending after trial %d (%.1f s left for the final model)", trial.number,
                     (budget.deadline or 0) - time.time())
            study.stop()

    started = time.monotonic()
    log.info("worker %d: %d trial(s) of run %s", os.getpid(), n_trials, run.run_id)
    if budget is not None and budget.deadline is not None:
        cutoff = budget.cutoff(study)
        log.info("worker %d: %.1f s left until the run's deadline; trials end %s", os.getpid(),
                 budget.deadline - time.time(), "once one has completed (the first in time for the final model)" if cutoff is None
                 else f"{budget.deadline - cutoff:.1f} s before it")
    try:
        study.optimize(objective, n_trials=n_trials, n_jobs=1, catch=(Exception,),
                       callbacks=[after_trial], gc_after_trial=False, show_progress_bar=False)
    finally:
        if own:
            mirror.close()
    log.info("worker %d done in %.1fs", os.getpid(), time.monotonic() - started)
    return study
