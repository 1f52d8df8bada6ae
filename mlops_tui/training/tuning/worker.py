"""The supervisor of a tuning run, and the entry point of detached and parallel worker processes.

    python -m mlops_tui.training.tuning.worker supervise WORKSPACE RUN_ID --trials N --started T
    python -m mlops_tui.training.tuning.worker optimize  WORKSPACE RUN_ID --trials N --seed S --started T

The supervisor (the `tune` process itself in the foreground, or a detached process in its own
session) starts K-1 extra workers for `--jobs K`, runs one share of the trials itself, waits for
the others, then does the final step once: refit the best configuration, evaluate on the holdout,
register the model. A new study first gets the warm-start trials (space.warm_starts), queued
before any worker starts so they are the first trials whatever the number of workers. ``--started``
is when the run's `--timeout` began (budget.py): every process stops its trials at the same cut-off. Output of detached processes goes to ``runs/<run_id>/run.log``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.training.tuning import protocol, rdb
from mlops_tui.training.tuning import study as st

if TYPE_CHECKING:
    import optuna

    from mlops_tui.store import DatasetVersion, Run
    from mlops_tui.training.prep import Prepared
    from mlops_tui.training.tuning.budget import Budget
    from mlops_tui.training.tuning.space import Params
    from mlops_tui.workspace import Workspace

log = logging.getLogger("mlops_tui.training.tuning")
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def log_path(ws: Workspace, run_id: str) -> Path:
    return ws.run_dir(run_id) / "run.log"


def shares(n: int, k: int) -> list[int]:
    """Split ``n`` trials over ``k`` workers as evenly as possible (the total is exact)."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def session_workers(run: Run, trials: int) -> int:
    """Worker processes for a session of ``trials`` trials: the run's, but no more than those trials
    are worth by the rule a run starts with (protocol.resources: a worker costs ~1 s of start-up,
    worth it for 4+ trials), unless the user chose ``--jobs`` or the run is limited by time. A
    `run resume --trials 2` of a run tuned on every core used to start a second process for its
    one trial and wait ~5 s (busy machine) for it to import LightGBM."""
    jobs = max(1, run.n_jobs)
    if (run.config.get("options") or {}).get("jobs") is not None or run.timeout_s is not None:
        return jobs
    return min(jobs, protocol.resources(None, trials, None)[0])


def _popen(ws: Workspace, run_id: str, args: list[str], *, new_session: bool) -> subprocess.Popen[bytes]:
    path = log_path(ws, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "mlops_tui.training.tuning.worker", *args, str(ws.root), run_id],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=new_session, close_fds=True,
        )


def spawn_supervisor(ws: Workspace, run_id: str, trials: int, *, started: float) -> int:
    """Start the detached supervisor in its own session (survives the terminal); returns its pid."""
    return _popen(ws, run_id, ["supervise", "--trials", str(trials), "--started", repr(started)],
                  new_session=True).pid


def _log_to_file(ws: Workspace, run_id: str) -> logging.Handler:
    """Foreground runs: INFO lines go to run.log; the terminal shows the progress bar only."""
    import optuna

    handler = logging.FileHandler(log_path(ws, run_id))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    optuna.logging.disable_default_handler()
    for name in ("optuna", "mlops_tui"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


def best_params(run: Run, best: Any) -> Params:
    """A trial's parameters as the run records them: fixed space values, tuned values, and the
    trial's best iteration as num_boost_round (what train_and_register fits)."""
    fixed = {k: v for k, v in run.config["space"]["params"].items() if not isinstance(v, dict)}
    return {**fixed, **best.params, "num_boost_round": int(best.user_attrs.get("best_iteration", 100))}


def _open(ws: Workspace, run: Run) -> int:
    """Open the run's study and queue its warm starts if it is new; returns how many trials earlier
    sessions finished (they shift this session's seeds)."""
    study = st.open_study(ws, run)
    done_before = len(st.finished(study))
    st.warm_start(study, run)
    return done_before


def _outcome(study: optuna.Study) -> tuple[int, optuna.trial.FrozenTrial | None]:
    """How many trials the study has, and its best completed one (None when none completed)."""
    trials = study.get_trials(deepcopy=False)
    return len(trials), (study.best_trial if any(t.state.name == "COMPLETE" for t in trials) else None)


def supervise(ws: Workspace, run_id: str, *, trials: int, on_trial: st.Progress | None = None,
              foreground: bool = False, prepared: Prepared | None = None, run: Run | None = None,
              dataset: DatasetVersion | None = None, started: float | None = None) -> Run:
    """Run a session of ``trials`` trials on ``jobs`` workers, then the final step. Returns the run.

    ``prepared``, ``run``, ``dataset``: what `start` already has in hand (each store read costs a
    open of the store and a checkpoint). ``started``: when the run's time budget began (now if None)."""
    from mlops_tui.data import datasets
    from mlops_tui.store import utcnow
    from mlops_tui.training.tuning import train
    from mlops_tui.training.tuning.sweep import sweep_run

    handler = _log_to_file(ws, run_id) if foreground else None
    run = run or ws.store.runs.get(run_id)
    if not (run.status == "running" and run.pid == os.getpid() and run.host == st.HOST):
        # (`start` in the foreground created the run running in this process: nothing to write.)
        ws.store.runs.update(run_id, status="running", pid=os.getpid(), host=st.HOST, error=None,
                             started_at=run.started_at or utcnow(), ended_at=None, phase=protocol.SEARCHING)
    children: list[subprocess.Popen[bytes]] = []
    params: dict[str, Any] | None = None
    mirror: st.StoreMirror | None = None
    shared: Any = None  # a study in PostgreSQL: the coordinator's mirror of it (coordinator.py)
    try:
        started = started or time.time()
        startup = time.time() - started
        budget = budget_of(run, started, startup)
        dv = dataset or datasets.resolve(ws, f"{run.dataset}:{run.dataset_version}")
        reconnect_s = rdb.reconnect_s(run.config)  # how long a shared study's database may be gone
        if run.config.get("storage"):
            from mlops_tui.training.tuning import coordinator

            shared = rdb.retrying(lambda: coordinator.open_shared(ws, run, dv), limit_s=reconnect_s)
        prepared = prepared or train.prepare_config(ws, dv, run.config)
        done_before = rdb.retrying(lambda: _open(ws, run), limit_s=reconnect_s)
        parts = shares(trials, session_workers(run, trials))
        for index, n in enumerate(parts[1:], start=1):  # start the others first: they take a while to import
            if n:
                seed = run.seed + st.SEED_STRIDE * index + done_before
                children.append(_popen(ws, run_id, ["optimize", "--trials", str(n), "--seed", str(seed),
                                                    "--index", str(index), "--started", repr(started),
                                                    "--startup", f"{startup:.3f}"],
                                       new_session=False))
        mirror = st.StoreMirror(ws, run_id)
        try:
            study = work(ws, run, prepared, n_trials=parts[0], budget=budget,
                         sampler_seed=run.seed + done_before, on_trial=on_trial, mirror=mirror, first=True)
        finally:
            # Its last write runs while the other workers finish and the best trial is refitted;
            # joined before the run's outcome is written.
            mirror.close(wait=False)
        stopping = st.stop_requested(ws, run_id)
        for child in children:
            if stopping:  # one still starting (importing LightGBM) ends now, one in a trial after it
                child.terminate()
            code = _wait_child(child, budget, study)
            if code is not None and code != 0 and not (stopping and code == -signal.SIGTERM):  # killed or crashed
                log.warning("worker %d ended with exit code %d before its share of trials; its running "
                            "trial is marked failed (`run resume` runs the missing trials)",
                            child.pid, child.returncode)
        if children:  # a worker killed meanwhile leaves RUNNING trials behind; ours are all mirrored
            mirror.join()
            sweep_run(ws, run_id)
        if shared is not None:  # other hosts' trials: none new, wait for those running, mirror all
            shared.finish(stopping=st.stop_requested(ws, run_id))
        # (the study's storage reads the other workers' trials too)
        n_trials, best = rdb.retrying(lambda: _outcome(study or st.open_study(ws, run)), limit_s=reconnect_s)
        if st.stop_requested(ws, run_id):
            log.info("run %s stopped after %d trial(s)", run_id, n_trials)
            mirror.join()
            return ws.store.runs.update_and_get(run_id, status="stopped", ended_at=utcnow(), phase=None,
                                                best_params=best_params(run, best) if best else None,
                                                best_value=best.value if best else None)
        if best is None:
            raise RuntimeError(f"no trial of run {run_id} completed (see `mlops-tui run logs {run_id}`)")
        params = best_params(run, best)
        log.info("best trial %d (%s=%.6g); %s (%s)", best.number, run.metric, best.value, protocol.FINAL_MODEL,
                 protocol.final_fit(run.config))
        ws.store.runs.update(run_id, phase=protocol.FINAL_MODEL)  # the run head and `run show` say so
        model, metrics, _ = train.train_and_register(
            ws, dataset=dv, config=run.config, params=params, model_name=run.name, run_id=run_id,
            prepared=prepared, deadline=budget.deadline)
        # Every trial row in the store before the run says it completed; then the outcome, its
        # audit event and the record returned: one transaction, one open.
        mirror.join()
        done = ws.store.runs.update_and_get(
            run_id, status="completed", test_metrics=metrics, model_name=model.name,
            model_version=model.version, ended_at=utcnow(), best_value=best.value, best_params=params, phase=None,
            audit=("tune", f"run:{run_id}", "ok",
                   {"model": model.ref, "best_value": best.value, "trials": n_trials}))
        log.info("run %s completed: model %s", run_id, model.ref)
        return done
    except BaseException as exc:
        for child in children:
            if child.poll() is None:
                child.terminate()
                child.wait()
        if mirror is not None:
            mirror.join()
        if shared is not None:
            shared.abort()
        interrupted = isinstance(exc, KeyboardInterrupt)
        message = "interrupted" if interrupted else (str(exc).splitlines() or [type(exc).__name__])[0]
        extra = {"best_params": params} if params else {}
        ws.store.runs.update(run_id, status="stopped" if interrupted else "failed", error=message,
                             ended_at=utcnow(), phase=None, audit=("tune", f"run:{run_id}", "failed", {"error": message}),
                             **extra)
        sweep_run(ws, run_id)
        log.exception("run %s %s", run_id, "interrupted" if interrupted else "failed")
        raise
    finally:
        if shared is not None:
            shared.end()
        if handler is not None:
            for name in ("optuna", "mlops_tui"):
                logging.getLogger(name).removeHandler(handler)
            handler.close()


CHILD_GRACE_S = 0.5  # a worker's trial is cut at the budget's cut-off: it ends about this soon after


def work(ws: Workspace, run: Run, prepared: Prepared, *, n_trials: int, budget: Budget | None,
         sampler_seed: int, on_trial: st.Progress | None = None, mirror: st.StoreMirror | None = None,
         first: bool = False) -> optuna.Study | None:
    """One worker's trials of ``run``: ``study.work`` on the run's own study, or, for a study shared
    through a database (``--storage``), ``remote.work_shared`` until the run's budget is spent (the
    same loop as `mlops-tui worker` on other hosts)."""
    if run.config.get("storage") and n_trials > 0 and not st.stop_requested(ws, run.run_id):
        from mlops_tui.training.tuning.remote import work_shared

        cutoff = budget.cutoff(None) if budget is not None else None
        return work_shared(ws, run, prepared, timeout=None if cutoff is None else max(0.0, cutoff - time.time()),
                           sampler_seed=sampler_seed, on_trial=on_trial)
    return st.work(ws, run, prepared, n_trials=n_trials, budget=budget, sampler_seed=sampler_seed,
                   on_trial=on_trial, mirror=mirror, first=first)


def _wait_child(child: subprocess.Popen[bytes], budget: Budget, study: Any) -> int | None:
    """Wait for a worker; its exit code. Under a time budget, no longer than the cut-off plus a
    grace, then kill it (one still importing on a busy machine would otherwise hold up the final
    step): None, the budget ended it (no failure, nothing to resume)."""
    cutoff = budget.cutoff(study)
    if cutoff is None:
        return child.wait()
    try:
        return child.wait(timeout=max(0.0, max(time.time(), cutoff) + CHILD_GRACE_S - time.time()))
    except subprocess.TimeoutExpired:
        log.info("worker %d still busy after the time budget's cut-off: ended (its running trial is "
                 "marked failed; the run ends on its time budget)", child.pid)
        child.kill()
        child.wait()
        return None


def budget_of(run: Run, started: float, startup: float) -> Budget:
    from mlops_tui.training.tuning.budget import Budget
    return Budget.starting(started, run.timeout_s, protocol.final_cost(run.config), startup,
                           rows=int((run.prep or {}).get("rows_used") or 0))


def _die_with_parent() -> None:
    """An extra worker must not outlive its supervisor (a kill -9 of it): ask Linux for SIGKILL
    when the parent dies. Its running trial is then a zombie the sweep marks failed."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os._exit(1)


def _stop_on_sigterm(ws: Workspace, run_id: str) -> None:
    """`run stop` writes a flag; SIGTERM (a shutdown, the supervisor) asks for the same graceful
    stop: the trial in flight ends, then the process."""
    signal.signal(signal.SIGTERM, lambda *_: (ws.run_dir(run_id) / st.STOP_FLAG).touch())


def main(argv: list[str] | None = None) -> int:
    from mlops_tui.workspace import Workspace

    parser = argparse.ArgumentParser(prog="python -m mlops_tui.training.tuning.worker")
    parser.add_argument("role", choices=("supervise", "optimize"))
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--started", type=float, default=None)
    parser.add_argument("--startup", type=float, default=0.0)
    parser.add_argument("workspace")
    parser.add_argument("run_id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr, force=True)
    ws = Workspace.open(args.workspace)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closing terminal must not end the run
    if args.role == "supervise":
        _stop_on_sigterm(ws, args.run_id)
        try:
            supervise(ws, args.run_id, trials=args.trials, started=args.started)
        except Exception:  # noqa: BLE001 - recorded on the run and in the log already
            return 1
        return 0
    from mlops_tui.data import datasets
    from mlops_tui.training.tuning import train

    _die_with_parent()
    run = ws.store.runs.get(args.run_id)
    dv = datasets.resolve(ws, f"{run.dataset}:{run.dataset_version}")
    prepared = train.prepare_config(ws, dv, run.config)
    # Until here SIGTERM ends the worker at once: it has no trial yet (a stopped supervisor ends
    # the workers still starting instead of waiting seconds for them to import and find the flag).
    _stop_on_sigterm(ws, args.run_id)
    work(ws, run, prepared, n_trials=args.trials, budget=budget_of(run, args.started or time.time(), args.startup),
         sampler_seed=args.seed)
    return 0


if __name__ == "__main__":
    from mlops_tui.processes import exit_without_last_collection

    try:
        sys.exit(main())
    finally:
        exit_without_last_collection()  # the supervisor waits for this process to end
