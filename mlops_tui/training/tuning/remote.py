"""Tuning workers on a study in PostgreSQL: the trial loop every worker runs, and `mlops-tui worker`.

A worker of a shared study (one of the coordinator's own `--jobs` processes, or one started with
`mlops-tui worker RUN --storage URL` on another host) does not get a fixed share of trials. It
loops: fail stale trials (Optuna's heartbeat check), read the run's state and budget from the
study, and run one trial while the state is 'running' and the trials complete, pruned or running
are fewer than the budget. When the budget is spent only by trials still running, it waits a
heartbeat: one of them may yet fail (its worker killed) and free its slot. So a killed worker's
trial is failed within the grace period and re-run by a survivor, and every worker stops when
the budget is spent, the run is stopped (`run stop` sets the state), or the coordinator ends it.

A database that stops answering (restart, network cut) is retried for twice the grace period
(the pool's pre-ping replaces dead connections): by then the others have failed this worker's
trial in flight anyway. After that the worker leaves with one line.

A remote worker needs no workspace: the run's record and config come from the study, and the
data from ``--data PATH`` (a copy of the run's snapshot, checked against the content hash the run
recorded) or, on a shared filesystem, from the snapshot's own path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.results import JsonDict, Result
from mlops_tui.training.tuning import rdb
from mlops_tui.training.tuning import study as st

if TYPE_CHECKING:
    import optuna

    from mlops_tui.store import Run
    from mlops_tui.training.prep import Prepared

log = logging.getLogger("mlops_tui.training.tuning")


class NoMirror:
    """A shared study's trials reach the store through the coordinator (it reads the study), so a
    worker's own trial starts are not written anywhere else."""

    def put(self, row: dict[str, Any], best: float | None = None) -> None:
        return None


class Beat:
    """A thread refreshing this worker's entry in the study every heartbeat, so the coordinator
    (and `run show`) can tell which workers are alive; ``close`` records why the worker left."""

    def __init__(self, study: optuna.Study, interval: float) -> None:
        self.study, self.interval = study, interval
        self.started_at = rdb._now()
        self.trials = 0
        self.done = threading.Event()
        self._refresh()
        self.thread = threading.Thread(target=self._loop, name="worker-beat", daemon=True)
        self.thread.start()

    def _write(self, state: str = rdb.RUNNING, reason: str | None = None) -> None:
        rdb.beat(self.study, st.HOST, os.getpid(), started_at=self.started_at, trials=self.trials, state=state,
                 reason=reason)
        rdb.answered()

    def _refresh(self) -> None:
        try:
            self._write()
        except Exception as exc:  # noqa: BLE001 - the trial loop notices a lost database itself
            log.warning("worker entry not refreshed (%s); retrying", rdb.one_line(exc))

    def _loop(self) -> None:
        while not self.done.wait(self.interval):
            self._refresh()

    def count(self) -> None:
        """One more trial done: say so at once (the coordinator shows trials per worker)."""
        self.trials += 1
        self._write()

    def close(self, reason: str) -> None:
        self.done.set()
        self.thread.join()
        try:
            self._write(state="exited", reason=reason)
        except Exception as exc:  # noqa: BLE001 - the database may be the reason we leave
            log.warning("could not record that this worker left (%s)", rdb.one_line(exc))


def _counts(study: optuna.Study) -> tuple[int, int]:
    """(complete or pruned, running) trials of the study."""
    from optuna.trial import TrialState

    trials = study._storage.get_all_trials(study._study_id, deepcopy=False,
                                           states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    return len(trials) - running, running


def _log_end(_study: optuna.Study, trial: Any) -> None:
    log.info("trial %d ended: %s", trial.number, trial.state.name.lower())


def run_trials(study: optuna.Study, objective: Callable[[Any], float], *, interval: float,
               reconnect_s: float, timeout: float | None = None, stop_here: Callable[[], bool] = lambda: False,
               on_trial: Callable[[Any, Any], None] | None = None, beat: Beat | None = None,
               url: str = "") -> str:
    """The loop of the module doc; returns why it ended (a sentence for the log and the output)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    started = time.monotonic()
    lost_since: float | None = None
    # The worker's log names each trial it starts and ends (what this host did, read on this host).
    callbacks = [_log_end] + ([on_trial] if on_trial is not None else [])

    def logged(trial: Any) -> float:
        # Optuna's heartbeat thread writes a trial's first beat a moment after the trial starts: a
        # worker stopped or cut off before it leaves a running trial with no beat at all, which
        # fail_stale never fails, and the run waits for it forever (a CI run of the network-cut
        # test waited 300 s). One beat before the work starts closes that window.
        if is_heartbeat_enabled(study._storage):
            study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
        log.info("trial %d started", trial.number)
        return objective(trial)

    while True:
        try:
            rdb.fail_stale(study)
            values = rdb.attrs(study)
            state, budget = values.get(rdb.STATE), values.get(rdb.BUDGET)
            if state != rdb.RUNNING:
                return f"the run is {state}" if state != rdb.ENDED else "the run ended"
            if stop_here():
                return "stop requested"
            if timeout is not None and time.monotonic() - started >= timeout:
                return f"--timeout of {timeout:g} s reached"
            done, running = _counts(study)
            if budget is not None and done + running >= budget:
                if running == 0:
                    return f"the budget of {budget} trials is spent"
                time.sleep(interval)  # a running trial may still fail and free its slot
                continue
            study.optimize(logged, n_trials=1, catch=(Exception,), callbacks=callbacks,
                           gc_after_trial=False, show_progress_bar=False)
            lost_since = None
            rdb.answered()
            if beat is not None:
                beat.count()
        except Exception as exc:
            if not rdb.is_connection_error(exc):
                raise
            now = time.monotonic()
            lost_since = lost_since or now
            if now - lost_since >= reconnect_s:
                raise UserError(f"lost the study database {rdb.public_url(url)}: no answer for "
                                f"{rdb.silent_for():.0f} s ({rdb.one_line(exc)})") from exc
            log.warning("study database not answering (%s); retrying", rdb.one_line(exc))
            time.sleep(min(interval, 2.0))


def load_data(record: dict[str, Any], data: str | None) -> Path:
    """The run's training data on this host, verified against the content hash the run recorded."""
    config = record["config"]
    ref = f"{record['dataset']}:{record['dataset_version']}"
    if data is None:
        path = Path(record.get("snapshot") or "")
        if not path.is_file():
            raise UserError(f"the snapshot of {ref} ({path}) is not on this host; copy it here and pass --data PATH")
    else:
        path = Path(data).expanduser()
        if not path.is_file():
            raise UserError(f"--data {data}: no such file")
    from mlops_tui.training.modelfile import sha256_file

    digest = sha256_file(path)
    if digest != config["dataset_hash"]:
        raise UserError(f"{path} is not the data of run {record['run_id']}: its sha256 is {digest[:12]}…, "
                        f"the run trained on {ref} with sha256 {config['dataset_hash'][:12]}…")
    return path


def run_from_record(record: dict[str, Any]) -> Run:
    """The run record a worker on another host rebuilds from the study (no store there)."""
    from dataclasses import fields

    from mlops_tui.store import Run

    names = {f.name for f in fields(Run)}
    values = {k: v for k, v in record.items() if k in names}
    for key in ("created_at", "started_at", "ended_at"):
        if isinstance(values.get(key), str):
            values[key] = datetime.fromisoformat(values[key])
    return Run(**values)


def record_of(run: Run, snapshot: Path) -> JsonDict:
    """What the coordinator publishes in the study: the run record (JSON) and its snapshot's path."""
    from dataclasses import asdict

    record = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(run).items()}
    return {**record, "snapshot": str(snapshot)}


def find_study(storage: Any, ref: str, url: str) -> str:
    """A run id (or a unique prefix of one) among the studies in the database."""
    names: list[str] = [s.study_name for s in storage.get_all_studies() if s.study_name.startswith(ref)]
    if not names:
        raise UserError(f"no run {ref!r} in the study database {rdb.public_url(url)}")
    if len(names) > 1:
        raise UserError(f"run prefix {ref!r} is ambiguous in {rdb.public_url(url)} ({', '.join(sorted(names)[:3])}, ...)")
    return names[0]


@dataclass(frozen=True)
class Joined(Result):
    """What a worker did in a shared run: ``trials`` it ran, on ``host`` as ``pid``, and why it left."""

    run_id: str
    trials: int
    host: str
    pid: int
    reason: str


def join(url: str, ref: str, *, data: str | None = None, stop: threading.Event | None = None) -> Joined:
    """`mlops-tui worker`: join run ``ref``'s study at ``url`` and run trials until the run is done."""
    import optuna
    import polars as pl

    from mlops_tui.training.tuning import train

    url = rdb.use_password_from(url)
    probe = rdb.open_storage(url)
    try:
        run_id = find_study(probe, ref, url)
        values = probe.get_study_user_attrs(probe.get_study_id_from_name(run_id))
    finally:
        probe.engine.dispose()
    record = values.get(rdb.RUN)
    if not isinstance(record, dict):
        raise UserError(f"study {run_id} in {rdb.public_url(url)} was not started by `mlops-tui tune --storage`")
    if values.get(rdb.STATE) != rdb.RUNNING:
        raise UserError(f"run {run_id} is not running (state {values.get(rdb.STATE)}); nothing to join")
    run = run_from_record(record)
    path = load_data(record, data)
    prepared = train.prepare_frame(pl.read_parquet(path), run.config)
    heartbeat = rdb.settings(run.config)
    storage = rdb.open_storage(url, **heartbeat)
    seed = run.seed + st.SEED_STRIDE * (1 + os.getpid() % 997)  # apart from the coordinator's seeds
    study = optuna.load_study(study_name=run_id, storage=storage,
                              sampler=st.sampler(seed), pruner=st.pruner(run.config["space"]["settings"]))
    beat = Beat(study, heartbeat["heartbeat_interval"])
    reason = "interrupted"
    try:
        log.info("worker %s:%d joined run %s", st.HOST, os.getpid(), run_id)
        reason = run_trials(study, st.Objective(None, run, prepared, NoMirror()),  # type: ignore[arg-type]
                            interval=heartbeat["heartbeat_interval"], reconnect_s=rdb.reconnect_s(run.config),
                            beat=beat, url=url,
                            stop_here=(stop.is_set if stop is not None else lambda: False))
    except UserError as exc:
        reason = str(exc)
        raise
    finally:
        beat.close(reason)
        storage.engine.dispose()
    log.info("worker %s:%d leaves run %s: %s", st.HOST, os.getpid(), run_id, reason)
    return Joined(run_id, beat.trials, st.HOST, os.getpid(), reason)


def work_shared(ws: Any, run: Run, prepared: Prepared, *, timeout: float | None,
                sampler_seed: int, on_trial: st.Progress | None = None) -> optuna.Study:
    """One of the coordinator's own workers on a shared study (``study.work`` for a database)."""
    study = rdb.retrying(lambda: st.open_study(ws, run, sampler_seed=sampler_seed), limit_s=rdb.reconnect_s(run.config))
    heartbeat = rdb.settings(run.config)
    interval = heartbeat["heartbeat_interval"]
    beat = Beat(study, interval)
    progress = (lambda s, _t: on_trial(s)) if on_trial is not None else None
    reason = "interrupted"
    try:
        reason = run_trials(study, st.Objective(ws, run, prepared, NoMirror()),  # type: ignore[arg-type]
                            interval=interval, reconnect_s=rdb.reconnect_s(run.config), timeout=timeout,
                            on_trial=progress, beat=beat,
                            stop_here=lambda: st.stop_requested(ws, run.run_id), url=run.config["storage"])
    finally:
        beat.close(reason)
    log.info("worker %d of run %s done: %s", os.getpid(), run.run_id, reason)
    return study
