"""Detached runs in real processes: stop → resume, kill -9 → no zombie → resume, --jobs 2."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil
import pytest

from tests.conftest import run_cli_subprocess
from tests.tuning_helpers import add_sample, space_file

pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _finished(ws, run_id):
    return [t for t in ws.store.runs.trials(run_id) if t.state != "RUNNING"]


def _detach(ws, cli, tmp_path, trials: int = 300):
    # The launching command runs in this process; the run itself is a real detached process.
    res = cli("tune", "default", "--trials", trials, "--space", space_file(tmp_path), "--detach", "--json")
    assert res.code == 0, res.stderr
    out = res.json
    assert out["status"] in ("queued", "running") and out["pid"] != os.getpid()
    return out["run_id"], out["pid"]


def _journal_states(ws, run_id):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(ws.run_dir(run_id) / "optuna.journal")))
    study = optuna.load_study(study_name=run_id, storage=storage)
    return [t.state.name for t in study.trials]


def test_detach_stop_resume(ws, cli, tmp_path):
    from mlops_tui.processes import alive

    add_sample(ws, "default", rows=3000, target="default")
    run_id, pid = _detach(ws, cli, tmp_path)
    _wait(lambda: len(_finished(ws, run_id)) >= 2, what="two trials of the detached run")
    assert cli("run", "show", run_id, "--json").json["status"] == "running"  # visible while it runs

    stopped = cli("run", "stop", run_id, "--wait", "60", "--json")
    assert stopped.code == 0, stopped.stderr
    assert stopped.json["status"] == "stopped"
    _wait(lambda: not alive(pid), 30, "the supervisor to exit")
    trials = ws.store.runs.trials(run_id)
    assert 2 <= len(trials) < 300 and all(t.state != "RUNNING" for t in trials)
    assert ws.store.runs.get(run_id).model_name is None  # stopped: no model yet

    resumed = cli("run", "resume", run_id, "--trials", "2", "--json")
    assert resumed.code == 0, resumed.stderr
    out = resumed.json
    assert out["status"] == "completed" and out["model"]["name"] == "default"
    after = ws.store.runs.trials(run_id)
    assert [t.number for t in after] == list(range(len(trials) + 2))  # the same study, numbers continue
    # Two trials are not worth a second worker process (the run itself tuned on every core).
    assert {t.pid for t in after[len(trials):]} == {os.getpid()}
    assert _journal_states(ws, run_id).count("RUNNING") == 0

    logs = cli("run", "logs", run_id, "--json").json
    assert any("stop requested" in line for line in logs["lines"])


def test_a_run_limited_by_time_only_resumes_for_another_timeout(ws, cli, tmp_path):
    """`tune --timeout T` stopped midway: `run resume RUN` (no --trials) searches for another T s
    and registers the model (it said 'limited by time only; pass --trials N', and a pipeline had to
    pass a million trials); once completed, resuming again asks for --trials."""
    from mlops_tui.processes import alive

    add_sample(ws, "default", rows=3000, target="default")
    res = cli("tune", "default", "--timeout", "20", "--space", space_file(tmp_path), "--detach", "--json")
    assert res.code == 0, res.stderr
    run_id, pid = res.json["run_id"], res.json["pid"]
    _wait(lambda: len(_finished(ws, run_id)) >= 2, what="two trials of the detached run")
    assert cli("run", "stop", run_id, "--wait", "60", "--json").json["status"] == "stopped"
    _wait(lambda: not alive(pid), 30, "the supervisor to exit")
    before = len(ws.store.runs.trials(run_id))

    started = time.monotonic()
    resumed = cli("run", "resume", run_id, "--json")
    assert resumed.code == 0, resumed.stderr
    assert time.monotonic() - started <= 20 * 1.1  # the session's own --timeout bounds it
    out = resumed.json
    assert out["status"] == "completed" and out["model"]["name"] == "default"
    assert out["n_trials"] > before and out["n_trials_requested"] is None  # still limited by time only

    again = cli("run", "resume", run_id)
    assert again.code == 1
    assert again.stderr.strip() == f"error: run {run_id} already completed its --timeout of 20 s; pass --trials N to run more"


def test_kill_9_leaves_no_zombie_and_resume_works(ws, cli, tmp_path):
    add_sample(ws, "default", rows=3000, target="default")
    run_id, pid = _detach(ws, cli, tmp_path)
    _wait(lambda: len(_finished(ws, run_id)) >= 1 and "RUNNING" in _journal_states(ws, run_id),
          what="a running trial")
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(30)
    # The trials the kill cut short: RUNNING in the journal now (the store's mirror may lag a trial
    # behind), before any command has swept them.
    in_flight = [n for n, state in enumerate(_journal_states(ws, run_id)) if state == "RUNNING"]

    listed = _wait(lambda: [r for r in cli("run", "list", "--json").json if r["status"] == "failed"],
                   30, "the sweep to notice the dead worker")
    assert listed[0]["run_id"] == run_id
    show = cli("run", "show", run_id, "--json").json
    assert show["error"] == "worker died"
    states = {t["number"]: t["state"] for t in show["trials"]}
    assert "RUNNING" not in states.values()
    assert all(states[n] == "FAIL" for n in in_flight)
    assert "RUNNING" not in _journal_states(ws, run_id)

    before = len(show["trials"])
    # What Optuna's lock release leaves when killed between its rename and its unlink.
    journal = ws.run_dir(run_id) / "optuna.journal"
    litter = journal.with_name("optuna.journal.lock0b5e2c1d-0000-4000-8000-000000000000.rename")
    litter.symlink_to(journal)
    resumed = cli("run", "resume", run_id, "--trials", "2", "--json")
    assert resumed.code == 0, resumed.stderr
    assert resumed.json["status"] == "completed" and resumed.json["model"]["version"] == 1
    assert len(ws.store.runs.trials(run_id)) >= before + 2
    assert "RUNNING" not in _journal_states(ws, run_id)
    assert not os.path.lexists(litter)


def test_two_parallel_workers_share_one_study(ws, tmp_path):
    add_sample(ws, "default", rows=3000, target="default")
    res = run_cli_subprocess(ws.root, "tune", "default", "--trials", 6, "--jobs", 2,
                             "--space", space_file(tmp_path), "--json", timeout=180)
    assert res.code == 0, res.stderr
    out = res.json
    assert out["status"] == "completed" and out["n_trials"] == 6 and out["n_jobs"] == 2
    trials = ws.store.runs.trials(out["run_id"])
    assert [t.number for t in trials] == list(range(6))
    assert len({t.pid for t in trials}) == 2 and all(t.state != "RUNNING" for t in trials)
    assert len(_journal_states(ws, out["run_id"])) == 6


def test_a_launcher_killed_before_the_worker_starts_leaves_a_failed_resumable_run(ws, cli, tmp_path):
    """`tune --detach` killed (-9, a closed terminal) between creating the run and starting its
    worker: the run must not stay 'queued' for ever, with nothing to stop and no way to resume."""
    import subprocess
    import sys

    add_sample(ws, "default", rows=1500, target="default")
    script = (
        "import os, signal, sys\n"
        "from mlops_tui.training import tuning\n"
        "from mlops_tui.workspace import Workspace\n"
        "ws = Workspace.open(sys.argv[1])\n"
        "opts = tuning.TuneOptions(dataset='default', trials=4, space_file=sys.argv[2])\n"
        "tuning.start(ws, opts, detach=True, on_start=lambda run: os.kill(os.getpid(), signal.SIGKILL))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(ws.root), str(space_file(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (run,) = cli("run", "list", "--json").json
    assert run["status"] == "failed" and run["error"] == "worker died"
    resumed = cli("run", "resume", run["run_id"], "--json")  # the 4 trials asked for
    assert resumed.code == 0, resumed.stderr
    assert resumed.json["status"] == "completed" and resumed.json["n_trials"] == 4


def test_kill_9_of_one_parallel_worker_fails_its_trial_and_the_run_still_ends(ws, cli, tmp_path):
    add_sample(ws, "default", rows=1500, target="default")
    res = cli("tune", "default", "--trials", 60, "--jobs", 2, "--space", space_file(tmp_path), "--detach", "--json")
    assert res.code == 0, res.stderr
    run_id, supervisor = res.json["run_id"], res.json["pid"]
    running = _wait(lambda: [t for t in ws.store.runs.trials(run_id) if t.state == "RUNNING" and t.pid != supervisor],
                    what="a running trial of the second worker")
    worker = running[0].pid
    os.kill(worker, signal.SIGKILL)

    done = _wait(lambda: (r := cli("run", "show", run_id, "--json").json)["status"] not in ("queued", "running")
                 and r, 120, "the run to end")
    assert done["status"] == "completed" and done["model"]["version"] == 1
    # Its trial in flight (killed mid-trial, as almost always) is FAIL; nothing stays RUNNING.
    assert not any(t["state"] == "RUNNING" for t in done["trials"])
    assert any(t["pid"] == worker for t in done["trials"]) and done["n_trials"] < 60
    assert "RUNNING" not in _journal_states(ws, run_id)
    logs = "\n".join(cli("run", "logs", run_id, "-n", "0", "--json").json["lines"])
    assert f"worker {worker} ended with exit code -9" in logs


def _completed_run(ws, cli, tmp_path) -> str:
    add_sample(ws, "default", rows=1500, target="default")
    res = cli("tune", "default", "--trials", 1, "--space", space_file(tmp_path), "--json")
    assert res.code == 0, res.stderr
    return res.json["run_id"]


def _resume_events(ws, run_id):
    return [e for e in ws.store.audit.events(obj=f"run:{run_id}") if e.command == "run resume"]


def test_two_resumes_that_both_pass_the_status_check_start_one_supervisor(ws, cli, tmp_path, monkeypatch):
    """The race itself, forced: both resumes read the run as 'completed' before either moves it to
    queued (a barrier holds each at the step between the check and the status change). Only the
    compare-and-set lets exactly one through; the other is refused, and one more model is made."""
    import threading

    from mlops_tui.errors import UserError
    from mlops_tui.training.tuning import control

    run_id = _completed_run(ws, cli, tmp_path)
    both_checked = threading.Barrier(2, timeout=60)
    real_release = control.release_stale_lock

    def release_after_both_checked(ws_, run_id_):
        both_checked.wait()
        return real_release(ws_, run_id_)

    monkeypatch.setattr(control, "release_stale_lock", release_after_both_checked)
    outcomes: list[object] = []

    def resume() -> None:
        try:
            outcomes.append(control.resume(ws, run_id, trials=1, detach=True))
        except UserError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    refused = [o for o in outcomes if isinstance(o, UserError)]
    started = [o for o in outcomes if not isinstance(o, UserError)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert str(refused[0]) == f"run {run_id} is already running (another `run resume` started it)"
    done = _wait(lambda: (r := ws.store.runs.get(run_id)).status not in ("queued", "running") and r,
                 120, "the resumed run to end")
    assert done.status == "completed" and done.model_version == 2 and done.n_trials == 2
    assert [m.version for m in ws.store.models.list("default")] == [2, 1]
    assert len(_resume_events(ws, run_id)) == 1


def test_two_run_resume_commands_at_once_one_starts_the_other_exits_1(ws, cli, tmp_path):
    import subprocess
    import sys

    run_id = _completed_run(ws, cli, tmp_path)
    cmd = [sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "run", "resume", run_id,
           "--trials", "1", "--detach", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"}) for _ in range(2)]
    results = sorted((p.wait(120), *p.communicate()) for p in procs)
    (ok, ok_out, _), (failed, failed_out, failed_err) = results
    assert (ok, failed) == (0, 1), results
    assert failed_out == "" and len(failed_err.strip().splitlines()) == 1
    assert f"run {run_id} is already running" in failed_err and "Traceback" not in failed_err
    _wait(lambda: ws.store.runs.get(run_id).status not in ("queued", "running"), 120, "the resumed run to end")
    assert ws.store.runs.get(run_id).n_trials == 2 and len(_resume_events(ws, run_id)) == 1
