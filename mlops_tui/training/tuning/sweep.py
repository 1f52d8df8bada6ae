"""Runs and trials whose process died: found and failed (the tuning twin of serving.sweep).

A detached run records the pid and host of its supervisor, every trial those of its worker.
:func:`sweep` compares them with the processes alive on this host: a run whose supervisor is gone
becomes 'failed' ("worker died"), a trial whose worker is gone becomes FAIL in the store and in the
Optuna journal, so no zombie ever shows as running and `run resume` works after a kill -9.
Called by control (stop, resume, start), by the supervisor when its workers end, and by the
CLI's and TUI's run lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui.processes import alive
from mlops_tui.results import Result
from mlops_tui.store import utcnow
from mlops_tui.training.tuning import study as st

if TYPE_CHECKING:
    from mlops_tui.workspace import Workspace

ACTIVE = ("queued", "running", "stopping")  # a run in these states has (or should have) a live process


def _fail_journal_zombies(ws: Workspace, run_id: str) -> int:
    """Mark RUNNING trials of dead workers (this host) FAIL in the Optuna journal and the store.

    A worker killed before it wrote its pid has none: with no live worker it is dead too.
    """
    if not st.journal_path(ws, run_id).exists():
        return 0
    from optuna.trial import TrialState

    storage = st.storage(ws, run_id)
    try:
        study_id = storage.get_study_id_from_name(run_id)
    except KeyError:
        return 0
    n = 0
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("host", st.HOST) == st.HOST and not alive(trial.user_attrs.get("pid")):
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            ws.store.runs.upsert_trial(
                run_id=run_id, number=trial.number, state="FAIL", value=None, params=trial.params,
                pid=trial.user_attrs.get("pid"), host=trial.user_attrs.get("host", st.HOST),
                started_at=trial.datetime_start, ended_at=utcnow())
            n += 1
    return n


def release_stale_lock(ws: Workspace, run_id: str) -> bool:
    """Remove the journal lock a killed worker left behind (only when no worker of the run lives).

    Optuna would otherwise wait 30 s before taking it over.
    """
    journal = st.journal_path(ws, run_id)
    lock = journal.with_name(journal.name + ".lock")
    # Optuna releases the lock by renaming it to <lock><uuid>.rename, then unlinking that: a kill
    # between the two leaves the renamed link behind (harmless, but litter in the run's folder).
    renamed = list(journal.parent.glob(journal.name + ".lock*.rename"))
    if not os.path.lexists(lock) and not renamed:
        return False
    run = ws.store.runs.get(run_id)
    pids = {run.pid} | {t.pid for t in ws.store.runs.trials(run_id) if t.state == "RUNNING"}
    if any(alive(pid) for pid in pids if pid) and run.status in ACTIVE:
        return False
    for path in renamed:
        path.unlink(missing_ok=True)
    if not os.path.lexists(lock):
        return False
    lock.unlink(missing_ok=True)
    return True


def sweep_run(ws: Workspace, run_id: str, *, sync: bool = True) -> int:
    """Mark trials of dead workers of one run FAIL (store and journal) and re-mirror the journal
    into the store (``sync``: only once no worker of the run writes any more, or a live worker's
    newer row could be overwritten by the journal state read just before); returns how many trials
    were marked."""
    n = 0
    for t in ws.store.runs.trials(run_id):
        if t.state == "RUNNING" and (t.host in (None, st.HOST)) and not alive(t.pid):
            ws.store.runs.upsert_trial(run_id=run_id, number=t.number, state="FAIL", value=None,
                                       params=t.params, intermediate=t.intermediate, duration_s=t.duration_s,
                                       pid=t.pid, host=t.host, started_at=t.started_at, ended_at=utcnow())
            n += 1
    n += _fail_journal_zombies(ws, run_id)
    if sync and st.journal_path(ws, run_id).exists():
        st.sync_store(ws, run_id)  # the journal is the truth: recover mirror writes a kill lost
    return n


@dataclass(frozen=True)
class Swept(Result):
    runs_failed: tuple[str, ...]  # runs whose process had died
    trials_failed: int


def sweep(ws: Workspace) -> Swept:
    """Reconcile runs and trials with the processes alive on this host (cheap when nothing died)."""
    died: list[str] = []
    for run in ws.store.runs.with_status(ACTIVE):
        if run.pid and run.host in (None, st.HOST) and not alive(run.pid):
            # Re-read now that the process is gone: it may have finished the run after the list was read.
            if ws.store.runs.get(run.run_id).status not in ACTIVE:
                continue
            ws.store.runs.update(run.run_id, status="failed", error="worker died", ended_at=utcnow())
            ws.store.audit.record("run sweep", f"run:{run.run_id}", "failed", {"error": "worker died"})
            died.append(run.run_id)
    zombies = 0
    stale_runs = {t.run_id for t in ws.store.runs.running_trials()
                  if t.host in (None, st.HOST) and not alive(t.pid)}
    still_active = ({r.run_id for r in ws.store.runs.many(sorted(stale_runs)) if r.status in ACTIVE}
                    if stale_runs else set())
    for run_id in sorted(stale_runs | set(died)):
        zombies += sweep_run(ws, run_id, sync=run_id not in still_active)
    return Swept(tuple(died), zombies)
