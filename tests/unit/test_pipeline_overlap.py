"""Two `pipeline run`s of one pipeline at once: one runs, the other is skipped (runner + store)."""

from __future__ import annotations

import shutil
import socket
import subprocess

from tests.conftest import SAMPLE

PIPELINE = """\
[pipelines.penguins.stages.prepare]
kind = "data"
path = "penguins.csv"
target = "species"
"""


def test_a_run_that_starts_between_the_check_and_the_start_holds_the_pipeline(ws, monkeypatch):
    """The check for a run in progress and the start were two steps: a process starting in between
    (two cron lines at the same minute) ran the stages beside it. The start now asks again inside its
    write transaction, where one process writes at a time."""
    from mlops_tui.pipelines import runner, spec

    shutil.copy(SAMPLE / "penguins.csv", ws.root / "penguins.csv")
    (ws.root / "pipeline.toml").write_text(PIPELINE)
    pipeline = spec.load(ws.root / "pipeline.toml")
    other = subprocess.Popen(["sleep", "60"])  # the other `pipeline run`, alive on this host
    checked = runner.check_inputs

    def the_other_starts_now(p):  # called after the first check, before the start
        ws.store.pipelines.start(run_id="other00001", pipeline=p.name, file=str(p.file), trigger="manual",
                                 pid=other.pid, host=socket.gethostname())
        checked(p)

    monkeypatch.setattr(runner, "check_inputs", the_other_starts_now)
    try:
        res = runner.run(ws, pipeline)
    finally:
        other.kill()
        other.wait()
    assert res.status == "skipped"
    assert {s.reason for s in res.stages} == {f"pipeline penguins is already running (run other00001, pid {other.pid})"}
    assert [r.status for r in ws.store.pipelines.list("penguins")] == ["skipped", "running"]
    assert ws.store.datasets.latest() == []  # no stage ran
