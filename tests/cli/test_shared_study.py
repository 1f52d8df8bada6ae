"""Studies shared through a real PostgreSQL by workers on several "hosts" (network namespaces).

The database runs in host ``db``; the coordinator (`tune --storage ... --detach`, the workspace's
host: it keeps the machine's hostname) in ``coord``; `mlops-tui worker` processes in ``w1``/``w2``
with a copy of the data, as on servers without a shared filesystem. Faults: kill -9 of a worker
mid-trial, a PostgreSQL restart, a network cut, `run stop`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from datetime import datetime

import pytest

from tests.cli.shared_study_helpers import (
    LONG_SPACE,
    SLOW_SPACE,
    cli_argv,
    ended,
    pause_in_a_trial,
    prepare,
    running_on,
    start_worker,
    trials,
    tune_detached,
    wait,
)
from tests.infra.postgres import Postgres

pytestmark = pytest.mark.slow  # each test has its own namespaces and server: they spread over xdist workers


@pytest.fixture
def cluster(network, ws, tmp_path, request):
    """db (PostgreSQL), coord (this machine's hostname: it has the workspace), w1, w2. A test
    marked ``long_trials`` gets trials of seconds, never pruned (to be caught in flight)."""
    db = network.add_host("db")
    coord = network.add_host("coord", hostname=socket.gethostname())
    w1, w2 = network.add_host("w1"), network.add_host("w2")
    long = request.node.get_closest_marker("long_trials") is not None
    space, copy = prepare(ws, tmp_path, rows=6000 if long else 3000, space_text=LONG_SPACE if long else SLOW_SPACE)
    with Postgres(network=network, host=db) as pg:
        yield {"net": network, "pg": pg, "url": pg.url(), "coord": coord, "w1": w1, "w2": w2,
               "space": space, "copy": copy, "logs": tmp_path, "metric": "brier" if long else "roc_auc"}


def _start(c, ws, trials_: int, *workers: str, coordinator_first: bool = False):
    """Launch the run and its workers. The coordinator is paused (SIGSTOP) until every worker has
    joined: a worker process takes seconds to start on a loaded machine, and the coordinator alone
    could otherwise spend a small budget before any worker got a trial. With ``coordinator_first``
    the joined workers are then paused until the coordinator has a trial of its own (the workers
    could otherwise take the whole budget while the coordinator is still loading its data)."""
    run = tune_detached(c["net"], c["coord"], ws, c["url"], c["space"], trials=trials_, metric=c["metric"])
    os.kill(run["pid"], signal.SIGSTOP)
    procs = {}
    try:
        procs = {name: start_worker(c["net"], c[name], run["run_id"], c["url"], c["copy"], c["logs"] / f"{name}.log")
                 for name in workers}
        for name in workers:
            wait(lambda name=name: "joined run" in _log(c, name) or procs[name].poll() is not None,
                 what=f"{name} to join")
            assert procs[name].poll() is None, _log(c, name)
        if coordinator_first:
            for proc in procs.values():
                os.kill(proc.pid, signal.SIGSTOP)
            os.kill(run["pid"], signal.SIGCONT)
            wait(lambda: [t for t in trials(ws, run["run_id"]) if t.host == socket.gethostname()],
                 what="a trial on the coordinator")
    finally:
        os.kill(run["pid"], signal.SIGCONT)
        for proc in procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
    return run["run_id"], procs


def _log(c, name: str) -> str:
    return (c["logs"] / f"{name}.log").read_text()


def _wait_end(ws, run_id, timeout=300):
    wait(lambda: ended(ws, run_id), timeout=timeout, what=f"run {run_id} to end")
    return ws.store.runs.get(run_id)


def test_two_hosts_and_the_coordinator_complete_one_study(cluster, ws, cli):
    c = cluster
    # the workers wait, paused, for the coordinator's first trial: no heartbeat may fail theirs meanwhile
    ws.config_path.write_text(ws.config_path.read_text().replace("grace_period = 4", "grace_period = 120"))
    run_id, procs = _start(c, ws, 10, "w1", "w2", coordinator_first=True)
    run = _wait_end(ws, run_id)
    assert run.status == "completed", run.error
    for name, proc in procs.items():
        assert proc.wait(timeout=60) == 0, _log(c, name)
        result = json.loads((c["logs"] / f"{name}.out").read_text())
        assert result["host"] == name and result["run_id"] == run_id and result["trials"] >= 1
    rows = trials(ws, run_id)
    numbers = [t.number for t in rows]
    assert len(numbers) == len(set(numbers)) and len(rows) >= 10
    assert {t.host for t in rows} == {socket.gethostname(), "w1", "w2"}
    assert not [t for t in rows if t.state == "RUNNING"]
    assert [m.version for m in ws.store.models.list() if m.run_id == run_id] == [1]  # finished once

    shown = cli("run", "show", run_id, "--json").json
    assert shown["storage"] == c["url"].replace(":s3cret-test", "")  # no password in the store
    assert {h["host"] for h in shown["hosts"]} == {socket.gethostname(), "w1", "w2"}
    assert {w["host"] for w in shown["workers"]} >= {"w1", "w2"}
    assert not any(w["alive"] for w in shown["workers"])  # the run is over, every worker left


@pytest.mark.long_trials
@pytest.mark.long_trials  # short trials may be pruned at once: the coordinator could spend all 4 before w1 asks
def test_kill_9_of_a_remote_worker_fails_its_trial_and_the_run_completes(cluster, ws):
    c = cluster
    run_id, procs = _start(c, ws, 4, "w1")
    killed = pause_in_a_trial(procs["w1"], c["logs"] / "w1.log")
    procs["w1"].kill()
    procs["w1"].wait(timeout=10)
    run = _wait_end(ws, run_id)
    assert run.status == "completed", run.error
    by_number = {t.number: t for t in trials(ws, run_id)}
    assert by_number[killed].state == "FAIL"
    assert sum(t.state in ("COMPLETE", "PRUNED") for t in by_number.values()) >= 4  # its slot was re-run
    assert not [t for t in by_number.values() if t.state == "RUNNING"]


def test_postgres_restart_mid_run_leaves_no_trial_running(cluster, ws):
    c = cluster
    run_id, procs = _start(c, ws, 6, "w1")
    wait(lambda: running_on(ws, run_id, "w1"), what="a trial running on w1")
    c["pg"].restart()
    run = _wait_end(ws, run_id)
    assert run.status == "completed", run.error
    code = procs["w1"].wait(timeout=90)
    log = _log(c, "w1")
    # Either it reconnected and left at the end, or it gave up with one line.
    assert code == 0 or log.strip().splitlines()[-1].startswith("error: lost the study database"), log
    assert "Traceback" not in log
    assert not [t for t in trials(ws, run_id) if t.state == "RUNNING"]


def test_postgres_down_while_the_coordinator_starts_is_waited_for(cluster, ws):
    """The coordinator's start-up (open the study, queue the warm starts, start mirroring) meets
    a database that is restarting: it retries instead of failing the run (as it did on CI)."""
    c = cluster
    run = tune_detached(c["net"], c["coord"], ws, c["url"], c["space"], trials=4)
    os.kill(run["pid"], signal.SIGSTOP)  # still importing: tune --detach has just spawned it
    log = ws.root / "runs" / run["run_id"] / "run.log"
    try:
        c["pg"].stop()
    finally:
        os.kill(run["pid"], signal.SIGCONT)
    try:
        wait(lambda: (log.is_file() and "study database not answering" in log.read_text())
             or ended(ws, run["run_id"]), timeout=60, what="the coordinator to find the database down")
    finally:
        c["pg"].start()
    ended_run = _wait_end(ws, run["run_id"])
    assert ended_run.status == "completed", ended_run.error
    assert "Traceback" not in log.read_text()
    assert sum(t.state in ("COMPLETE", "PRUNED") for t in trials(ws, run["run_id"])) >= 4


@pytest.mark.long_trials
def test_a_worker_cut_off_the_network_has_its_trial_failed_and_exits(cluster, ws):
    c = cluster
    run_id, procs = _start(c, ws, 4, "w1")
    cut = pause_in_a_trial(procs["w1"], c["logs"] / "w1.log")
    c["net"].cut(c["w1"])
    os.kill(procs["w1"].pid, signal.SIGCONT)  # its trial goes on, cut off
    code = procs["w1"].wait(timeout=120)  # twice the grace period of retries, plus TCP timeouts
    exited = time.time()
    log = _log(c, "w1")
    assert code == 1 and log.strip().splitlines()[-1].startswith("error: lost the study database"), log
    assert "Traceback" not in log
    # The silence it reports counts from the database's last answer to any of its threads (the
    # heartbeats failed first), not from its trial loop's first error: the old line said 8 s after 21.
    said = int(re.search(r"lost the study database \S+: no answer for (\d+) s", log)[1])
    first_error = next(line for line in log.splitlines() if "study database not answering" in line)
    first_error_at = datetime.strptime(first_error[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time
    assert said >= (exited - first_error_at) + 4, log
    run = _wait_end(ws, run_id)
    assert run.status == "completed", run.error
    assert {t.number: t.state for t in trials(ws, run_id)}[cut] == "FAIL"


def test_run_stop_reaches_remote_workers(cluster, ws, cli):
    c = cluster
    run_id, procs = _start(c, ws, 200, "w1")
    wait(lambda: [t for t in trials(ws, run_id) if t.host == "w1" and t.state != "RUNNING"],
         what="a trial finished on w1")
    stopped = cli("run", "stop", run_id, "--wait", "120", "--json")
    assert stopped.code == 0 and stopped.json["status"] == "stopped", stopped.stderr
    assert procs["w1"].wait(timeout=60) == 0
    # w1 leaves before its next trial: it sees the run stopping, or (when the coordinator's drain
    # ended the run the moment w1's last trial finished) the run ended; never its budget spent
    assert json.loads((c["logs"] / "w1.out").read_text())["reason"] in ("the run is stopping", "the run ended")
    assert len(trials(ws, run_id)) < 200
    assert not [t for t in trials(ws, run_id) if t.state == "RUNNING"]


def test_a_coordinator_killed_mid_run_resumes_and_finishes_once(cluster, ws):
    c = cluster
    run = tune_detached(c["net"], c["coord"], ws, c["url"], c["space"], trials=5)
    run_id = run["run_id"]
    wait(lambda: len([t for t in trials(ws, run_id) if t.state != "RUNNING"]) >= 2, what="two trials")
    os.kill(run["pid"], 9)
    wait(lambda: ended(ws, run_id), what="the sweep to see the coordinator dead")
    assert ws.store.runs.get(run_id).status == "failed"
    argv = cli_argv("run", "resume", run_id, "--json", workspace=ws.root)
    refused = c["net"].run(c["coord"], argv, timeout=120)  # the password is not in the store
    assert refused.returncode == 1 and "PGPASSWORD" in refused.stderr, refused.stderr
    proc = c["net"].run(c["coord"], argv, timeout=300, env={**os.environ, **c["pg"].env()})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    rows = trials(ws, run_id)
    assert sum(t.state in ("COMPLETE", "PRUNED") for t in rows) >= 5
    assert not [t for t in rows if t.state == "RUNNING"]
    assert [m.version for m in ws.store.models.list() if m.run_id == run_id] == [1]


class TestRefusals:
    """Bad input to a shared study: one line, exit 1, nothing created (PostgreSQL on 127.0.0.1)."""

    def test_a_wrong_password_or_host_is_one_line(self, postgres, ws, cli, tmp_path):
        space, _ = prepare(ws, tmp_path, rows=500)
        for url, reason in ((postgres.url(password="wrong"), "password authentication failed"),
                            (postgres.url(port=1), "Connection refused"),
                            ("postgresql+psycopg://mlops@127.0.0.1:5432", "not a PostgreSQL URL")):
            res = cli("tune", "default", "--trials", "2", "--space", space, "--storage", url)
            assert res.code == 1 and reason in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
            assert "wrong" not in res.stderr  # the password is never echoed
        assert ws.store.runs.list() == []
        res = cli("worker", "abc", "--storage", postgres.url(password="wrong"))
        assert res.code == 1 and "password authentication failed" in res.stderr, res.stderr

    def test_a_worker_with_other_data_is_refused(self, postgres, ws, cli, tmp_path):
        space, copy = prepare(ws, tmp_path, rows=500)
        started = cli("tune", "default", "--trials", "50", "--space", space, "--storage", postgres.url(),
                      "--detach", "--json")
        assert started.code == 0, started.stderr
        run_id = started.json["run_id"]
        try:
            other = tmp_path / "other.parquet"
            other.write_bytes(copy.read_bytes()[:-1] + b"\0")
            res = cli("worker", run_id[:6], "--storage", postgres.url(), "--data", other)
            assert res.code == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
            assert f"is not the data of run {run_id}" in res.stderr and "sha256" in res.stderr
            res = cli("worker", "nosuchrun", "--storage", postgres.url(), "--data", copy)
            assert res.code == 1 and "no run 'nosuchrun'" in res.stderr
        finally:
            cli("run", "stop", run_id, "--wait", "120")
        assert ws.store.runs.get(run_id).status in ("stopped", "completed")
