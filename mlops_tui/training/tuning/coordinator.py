"""The coordinator of a run whose study is in PostgreSQL: the host that launched it, where the store is.

Workers on other hosts cannot write the workspace's DuckDB store, so the coordinator reads the
study and writes the store: :class:`StudyMirror` polls every second, fails stale trials (Optuna's
heartbeat check), writes the trials that changed (so `run show` and the TUI stay live) and the
workers it has seen, alive or not. The supervisor (worker.py) does the rest as for a local run:
its own `--jobs` workers, then :func:`drain` (no new trials; wait for the running ones, whose
workers are alive or are failed after the grace period), then the final step once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_tui.training.tuning import rdb
from mlops_tui.training.tuning import study as st

if TYPE_CHECKING:
    import optuna

    from mlops_tui.workspace import Workspace

log = logging.getLogger("mlops_tui.training.tuning")
DRAIN_LIMIT_S = 24 * 3600.0  # a trial still beating after this long is left to its worker


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class StudyMirror:
    """A thread copying a shared study into the store: trials as they change, workers as seen.

    A worker is alive when its entry changed within three heartbeats by this host's clock (so the
    hosts' clocks need not agree) and it has not said it left."""

    def __init__(self, ws: Workspace, study: optuna.Study, run_id: str, *, interval: float = 1.0,
                 heartbeat: float = rdb.HEARTBEAT_INTERVAL, direction: str = "minimize") -> None:
        self.ws, self.study, self.run_id = ws, study, run_id
        self.interval, self.heartbeat, self.direction = interval, heartbeat, direction
        self.stop_sent = False
        self.written: dict[int, tuple[Any, ...]] = {}
        self.seen: dict[str, tuple[dict[str, Any], float, bool]] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"study-mirror-{run_id}", daemon=True)

    def start(self) -> StudyMirror:
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - the database or the store is busy: next tick
                log.warning("could not mirror the study into the store (%s); retrying", rdb.one_line(exc))

    def sync(self) -> int:
        """One pass (also called once more at the end); returns how many trial rows were written."""
        if not self.stop_sent and st.stop_requested(self.ws, self.run_id):
            rdb.set_state(self.study, rdb.STOPPING)  # `run stop` reaches the other hosts' workers now
            self.stop_sent = True
        rdb.fail_stale(self.study)
        trials = self.study._storage.get_all_trials(self.study._study_id, deepcopy=False)
        rows = []
        for trial in trials:
            if trial.state.name == "WAITING":  # a queued warm start no worker has taken: not a trial yet
                continue
            key = (trial.state, trial.value if trial.state.name == "COMPLETE" else None,
                   len(trial.intermediate_values), trial.datetime_complete, trial.user_attrs.get("host"))
            if self.written.get(trial.number) != key:
                rows.append((trial.number, key, st.trial_row(trial)))
        workers = self._workers()
        best = self._best(trials)
        if rows or workers:
            self.ws.store.runs.record_trials(self.run_id, [row for _, _, row in rows], best_value=best,
                                             workers=workers)
            for number, key, _ in rows:
                self.written[number] = key
        return len(rows)

    def _best(self, trials: list[Any]) -> float | None:
        values: list[float] = [t.value for t in trials if t.state.name == "COMPLETE" and t.value is not None]
        if not values:
            return None
        return min(values) if self.direction == "minimize" else max(values)

    def _workers(self) -> list[dict[str, Any]]:
        """Rows of the workers whose entry changed, or who died or came back, since the last pass."""
        now = time.monotonic()
        out = []
        for entry in rdb.workers(rdb.attrs(self.study)):
            key = rdb.worker_key(entry["host"], entry["pid"])
            last = self.seen.get(key)  # (entry, monotonic time it last changed, alive as written)
            changed = last is None or last[0] != entry
            changed_at = now if changed or last is None else last[1]
            alive = entry.get("state") == rdb.RUNNING and now - changed_at < 3 * self.heartbeat
            if changed or last is None or last[2] != alive:
                out.append({"host": entry["host"], "pid": entry["pid"], "state": entry.get("state"),
                            "trials": entry.get("trials") or 0, "alive": alive, "reason": entry.get("reason"),
                            "started_at": entry.get("started_at"), "seen_at": _utcnow() if changed else None})
            self.seen[key] = (entry, changed_at, alive)
        return out

    def close(self) -> None:
        """End the thread (``Shared.finish`` then makes a last pass, so the store holds every
        trial's final state)."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()


class Shared:
    """The coordinator's side of a shared study, for the supervisor: see :func:`open_shared`."""

    def __init__(self, study: optuna.Study, mirror: StudyMirror, heartbeat: float, reconnect_s: float) -> None:
        self.study, self.mirror, self.heartbeat, self.reconnect_s = study, mirror, heartbeat, reconnect_s
        self.finished = False

    def finish(self, *, stopping: bool) -> None:
        """After the local workers: start no trial anywhere, wait for the running ones, end the run
        for every worker and give the live ones a few heartbeats to say they left; mirror all.
        A database that stops answering meanwhile (a restart) is retried (``rdb.retrying``)."""
        n = drain(self.study, interval=min(1.0, self.heartbeat), stopping=stopping)
        if n:
            log.info("%d trial(s) of other workers ended", n)
        rdb.retrying(lambda: rdb.set_state(self.study, rdb.ENDED), limit_s=self.reconnect_s)
        deadline = time.monotonic() + 3 * self.heartbeat
        while time.monotonic() < deadline and rdb.retrying(self._live, limit_s=self.reconnect_s):
            time.sleep(0.5)
        self.mirror.close()
        rdb.retrying(self.mirror.sync, limit_s=self.reconnect_s)
        self.finished = True

    def _live(self) -> list[dict[str, Any]]:
        """Worker entries the mirror last saw alive."""
        live = {key for key, (_, _, alive) in self.mirror.seen.items() if alive}
        return [w for w in rdb.workers(rdb.attrs(self.study))
                if rdb.worker_key(w["host"], w["pid"]) in live and w.get("state") == rdb.RUNNING]

    def abort(self) -> None:
        """The run failed or was interrupted: stop the mirror (its rows may lag; `run resume` resyncs)."""
        self.mirror.close()
        self.finished = True

    def end(self) -> None:
        """Tell every worker the run is over (best effort: the database may be why we end)."""
        if not self.finished:
            self.mirror.close()
        try:
            rdb.set_state(self.study, rdb.ENDED)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not mark the shared study ended (%s); its workers stop at the budget", rdb.one_line(exc))


def publish(ws: Workspace, run: Any, dataset: Any) -> optuna.Study:
    """Create the run's study if needed and publish the run in it (record, budget, state running),
    so workers on other hosts can join: `start` does it before it returns, so `mlops-tui worker`
    can join a run the moment `tune --detach` printed its id, and each session of the supervisor
    again (`run resume` raised the budget). The budget is the run's requested total
    (``n_trials_requested``; none for a run limited by time); trials that failed do not count
    against it: a killed worker's trial is run again."""
    from mlops_tui.data import datasets
    from mlops_tui.training.tuning import remote

    study = st.open_study(ws, run)
    rdb.publish(study, remote.record_of(run, datasets.snapshot_path(ws, dataset)), run.n_trials_requested)
    return study


def open_shared(ws: Workspace, run: Any, dataset: Any) -> Shared:
    """The supervisor's start on a shared study: publish it and start mirroring it into the store."""
    study = publish(ws, run, dataset)
    heartbeat = rdb.settings(run.config)["heartbeat_interval"]
    mirror = StudyMirror(ws, study, run.run_id, heartbeat=heartbeat, direction=run.direction)
    mirror.sync()  # trials of an earlier session (or of a coordinator killed meanwhile) first
    return Shared(study, mirror.start(), heartbeat, rdb.reconnect_s(run.config))


def drain(study: optuna.Study, *, interval: float, stopping: bool) -> int:
    """No new trials ('finishing', or 'stopping' after `run stop`); wait until no trial is running.

    A running trial ends when its worker finishes it or, if that worker is gone, when the stale
    check fails it after the grace period. Returns how many trials were still running at first."""
    from optuna.trial import TrialState

    first = None
    state_set = False
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while time.monotonic() < deadline:
        try:
            if not state_set:
                rdb.set_state(study, rdb.STOPPING if stopping else rdb.FINISHING)
                state_set = True
            rdb.fail_stale(study)
            running = study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,))
        except Exception as exc:
            if not rdb.is_connection_error(exc) or time.monotonic() > deadline:
                raise
            log.warning("study database not answering (%s); retrying", rdb.one_line(exc))
            time.sleep(interval)
            continue
        first = len(running) if first is None else first
        if not running:
            break
        log.info("waiting for %d running trial(s) of other workers", len(running))
        time.sleep(interval)
    return first or 0
