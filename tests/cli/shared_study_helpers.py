"""Helpers for studies shared through PostgreSQL: a coordinator workspace, workers on namespace hosts.

Every process that talks to the database runs inside a host of the test network (``Network.run`` /
``popen``); the store is read from this process (a DuckDB file: no network).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from tests.tuning_helpers import add_sample

# Trials long enough to be caught running (a kill, a cut), short enough for a test.
SLOW_SPACE = """\
num_boost_round = 300
early_stopping_rounds = 300

[params.num_leaves]
low = 8
high = 31

[params.learning_rate]
low = 0.005
high = 0.02
log = true
"""
# Trials a kill or a cut must catch in flight: all rounds (no early stop) and, with --metric brier
# (no LightGBM twin), no pruning: seconds each, against the store's mirror lag of about one. (800
# rounds made trials of 5-9 s and a final model of 24 s on a loaded machine, over half of each test:
# a trial is caught by the worker's own log, pause_in_a_trial, not by how long it lasts.)
LONG_SPACE = """\
num_boost_round = 400
early_stopping_rounds = 400

[params.num_leaves]
low = 48
high = 63

[params.learning_rate]
low = 0.001
high = 0.002
log = true
"""


def prepare(ws, tmp_path: Path, *, rows: int = 3000, space_text: str = SLOW_SPACE) -> tuple[Path, Path]:
    """The 'default' sample registered, short heartbeats; returns (space file, a copy of the snapshot)."""
    from mlops_tui.data import datasets

    dv = add_sample(ws, "default", rows=rows, target="default")
    config = ws.config_path.read_text().replace("heartbeat_interval = 5", "heartbeat_interval = 1") \
                                       .replace("grace_period = 20", "grace_period = 4")
    ws.config_path.write_text(config)
    space = tmp_path / "slow_space.toml"
    space.write_text(space_text)
    copy = tmp_path / "elsewhere" / "default.parquet"  # what the user copies to the other server
    copy.parent.mkdir()
    copy.write_bytes(datasets.snapshot_path(ws, dv).read_bytes())
    return space, copy


def cli_argv(*args: str, workspace: Path | None = None) -> list[str]:
    head = [sys.executable, "-m", "mlops_tui"] + (["--workspace", str(workspace)] if workspace else [])
    return head + [str(a) for a in args]


def tune_detached(net, host, ws, url: str, space: Path, *, trials: int, metric: str = "roc_auc") -> dict:
    """`tune --storage URL --detach` on the coordinator host; returns its JSON."""
    proc = net.run(host, cli_argv("tune", "default", "--trials", trials, "--metric", metric, "--space", space,
                                  "--storage", url, "--detach", "--json", workspace=ws.root), timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def start_worker(net, host, run_id: str, url: str, data: Path | None, log: Path):
    argv = cli_argv("worker", run_id, "--storage", url, "--json") + (["--data", str(data)] if data else [])
    out = open(log.with_suffix(".out"), "w")  # noqa: SIM115 - the child keeps it
    return net.popen(host, argv, stdout=out, stderr=open(log, "w"))  # noqa: SIM115


def wait(predicate, *, timeout: float = 180.0, what: str = "condition", step: float = 0.3):
    """Poll ``predicate`` until it returns something true; bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def trials(ws, run_id: str):
    return ws.store.runs.trials(run_id)


def running_on(ws, run_id: str, host: str):
    return [t for t in trials(ws, run_id) if t.host == host and t.state == "RUNNING"]


def pause_in_a_trial(proc, log: Path, *, attempts: int = 50) -> int:
    """Pause a worker (SIGSTOP) in the middle of a trial and return the trial's number; the worker
    stays paused. Its own log is the truth (it names each trial it starts and ends): the store's
    mirror lags about a second, long enough for a trial of seconds to end unseen before a kill."""
    for _ in range(attempts):
        wait(lambda: _in_flight(log), what="a trial in flight on the worker")
        os.kill(proc.pid, signal.SIGSTOP)
        caught = _in_flight(log)  # read again: the trial may have ended before the stop
        if caught:
            return caught[0]
        os.kill(proc.pid, signal.SIGCONT)
    raise AssertionError(f"no trial caught in flight in {attempts} attempts")


def _in_flight(log: Path) -> list[int]:
    text = log.read_text() if log.is_file() else ""
    started = [int(n) for n in re.findall(r"trial (\d+) started", text)]
    ended = {int(n) for n in re.findall(r"trial (\d+) ended", text)}
    return [n for n in started if n not in ended]


def run_status(ws, run_id: str) -> str:
    return ws.store.runs.get(run_id).status


def ended(ws, run_id: str) -> bool:
    from mlops_tui.training import tuning

    tuning.sweep(ws)
    return run_status(ws, run_id) in ("completed", "stopped", "failed")
