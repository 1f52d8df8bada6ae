"""Detached runs in real processes: stop → resume, kill -9 → no zombie → resume, --jobs 2."""

from __future__ import annotations

import os
import signal
import time

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
    from mlops_tui.tuning.control import alive

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
    numbers = [t.number for t in ws.store.runs.trials(run_id)]
    assert numbers == list(range(len(trials) + 2))  # the same study, numbers continue
    assert _journal_states(ws, run_id).count("RUNNING") == 0

    logs = cli("run", "logs", run_id, "--json").json
    assert any("stop requested" in line for line in logs["lines"])


def test_kill_9_leaves_no_zombie_and_resume_works(ws, cli, tmp_path):
    add_sample(ws, "default", rows=3000, target="default")
    run_id, pid = _detach(ws, cli, tmp_path)
    _wait(lambda: len(_finished(ws, run_id)) >= 1
          and any(t.state == "RUNNING" for t in ws.store.runs.trials(run_id)), what="a running trial")
    os.kill(pid, signal.SIGKILL)

    listed = _wait(lambda: [r for r in cli("run", "list", "--json").json if r["status"] == "failed"],
                   30, "the sweep to notice the dead worker")
    assert listed[0]["run_id"] == run_id
    show = cli("run", "show", run_id, "--json").json
    assert show["error"] == "worker died"
    states = [t["state"] for t in show["trials"]]
    assert "RUNNING" not in states and "FAIL" in states
    assert "RUNNING" not in _journal_states(ws, run_id)

    before = len(show["trials"])
    resumed = cli("run", "resume", run_id, "--trials", "2", "--json")
    assert resumed.code == 0, resumed.stderr
    assert resumed.json["status"] == "completed" and resumed.json["model"]["version"] == 1
    assert len(ws.store.runs.trials(run_id)) >= before + 2
    assert "RUNNING" not in _journal_states(ws, run_id)


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
